/**
 * The options of a pub/sub open (docs/pubsub.md, "Using it"): what `open('shm+pubsub:/name', codec,
 * options)` takes, and their checks before anything is created or opened.
 */
import type { MessageCodec } from '../../codecs/codec.js';
import { ValidationError } from '../../errors.js';
import { checkAccess, checkCreate, checkInteger, checkMode } from '../options.js';
import { checkNameAndCodec } from '../ring/segment-file.js';
import type { OpenOptions } from '../transport.js';
import * as L from './layout.js';
import { pubsubKind } from './segment.js';

const DEFAULT_CAPACITY = 1024;

/** What a publisher does when a subscriber falls behind. */
export type PubSubPolicy = 'block' | 'overwrite';

/** Options of `open('shm+pubsub:/name', ...)`: the shared ones, and those of a created segment. */
export interface PubSubOptions extends OpenOptions {
  /** 'receive' (a subscriber, the default) or 'send' (a publisher): a handle is one or the other. */
  readonly access?: 'send' | 'receive';
  /**
   * Set at create: `'block'` (the default; publishers wait for the slowest live subscriber, nothing is
   * lost) or `'overwrite'` (publishers never wait; a subscriber that falls behind misses messages and is
   * told how many). Opening an existing segment with another policy is a ValidationError.
   */
  readonly policy?: PubSubPolicy;
  /** Set at create: entries of the subscriber table, 1..1024 (default 16); one more subscriber is refused. */
  readonly subscribers?: number;
  /** Set at create: entries of the publisher table, 1..64 (default 8). */
  readonly publishers?: number;
  /** Subscribers: start with up to the last `history` messages still in the buffer (default 0: only new ones). */
  readonly history?: number;
}

/** The address of a pub/sub segment (its scheme already checked). */
export interface PubSubAddress {
  readonly scheme: 'shm+pubsub';
  readonly url: string;
  readonly name: string;
}

/** The checked options of an open. */
export interface CheckedOptions {
  readonly name: string;
  readonly access: 'send' | 'receive';
  readonly capacity: number;
  readonly mode: number;
  readonly create: boolean;
  readonly exclusive: boolean;
  readonly policy: PubSubPolicy | undefined;
  readonly subscribers: number;
  readonly publishers: number;
  readonly history: number;
}

const integerIn = (name: string, value: unknown, min: number, max: number, what: string): number =>
  checkInteger(name, value, min, max, `an integer in [${min}, ${max}] (${what})`);

/** Checks the URL, the codec and the options of an open before anything is created. */
export function checkOptions(
  address: PubSubAddress,
  codec: MessageCodec<unknown>,
  options: PubSubOptions,
): CheckedOptions {
  checkNameAndCodec(pubsubKind, address, codec);
  const { name } = address;
  const access = checkAccess(
    options.access ?? 'receive',
    ['send', 'receive'],
    "a pub/sub handle is a publisher ('send') or a subscriber ('receive'); open one of each to do both",
  );
  const capacity = integerIn('capacity', options.capacity ?? DEFAULT_CAPACITY, 1, L.MAX_SLOTS, 'messages');
  const policy = options.policy;
  if (policy !== undefined && policy !== 'block' && policy !== 'overwrite') {
    throw new ValidationError('policy', "'block' or 'overwrite'", JSON.stringify(policy) ?? String(policy));
  }
  const subscribers = integerIn(
    'subscribers',
    options.subscribers ?? L.DEFAULT_SUBSCRIBERS,
    1,
    L.MAX_SUBSCRIBERS,
    'entries of the subscriber table',
  );
  const publishers = integerIn(
    'publishers',
    options.publishers ?? L.DEFAULT_PUBLISHERS,
    1,
    L.MAX_PUBLISHERS,
    'entries of the publisher table',
  );
  const history = integerIn('history', options.history ?? 0, 0, L.MAX_SLOTS, 'messages');
  if (history > 0 && access !== 'receive') {
    throw new ValidationError('history', "history only with access: 'receive' (a subscriber)", String(history));
  }
  const { create, exclusive } = checkCreate(options);
  return {
    name,
    access,
    capacity,
    mode: checkMode(options.mode),
    create,
    exclusive,
    policy,
    subscribers,
    publishers,
    history,
  };
}
