/** The options of a `sysv:` open and what a `sysv:` URL names (a key, an ftok path, an id). */
import type { MessageCodec } from '../../codecs/codec.js';
import { UnsupportedError, ValidationError } from '../../errors.js';
import { sysvmsg } from '../../native/index.js';
import type { Access } from '../channel.js';
import { checkAccess, checkCapacity, checkCreate, checkInteger, checkMode } from '../options.js';
import type { OpenOptions } from '../transport.js';
import type { Address, SysvTarget } from '../url.js';
import { DEFAULT_POLL_MAX_MS } from './pacer.js';

/** A System V message type is a C long >= 1; JS numbers carry it exactly up to 2^53 - 1. */
export const MAX_TYPE = Number.MAX_SAFE_INTEGER;

export const accessBits: Record<NonNullable<OpenOptions['access']>, number> = {
  send: 0o200,
  receive: 0o400,
  both: 0o600,
};

/** Checked options of a `sysv:` open. */
export interface SysvOptions {
  readonly create: boolean;
  readonly exclusive: boolean;
  readonly mode: number;
  readonly access: NonNullable<OpenOptions['access']>;
  readonly capacityBytes: number | undefined;
  readonly receiveType: number;
  readonly except: boolean;
  readonly pollMaxMs: number;
}

export function checkOptions(target: SysvTarget, codec: MessageCodec<unknown>, options: OpenOptions): SysvOptions {
  const { create, exclusive } = checkCreate(options);
  const mode = checkMode(options.mode);
  const access = checkAccess<Access>(options.access);
  const { except = false } = options;
  if (target.kind === 'id' && create) {
    throw new UnsupportedError(
      'sysv:id=N names an existing queue and cannot create one: drop `create`, or name the queue by key (sysv:key=0x...) or sysv:private',
    );
  }
  if (options.capacity !== undefined && options.capacityBytes !== undefined) {
    throw new ValidationError(
      'capacity',
      'either capacity (messages) or capacityBytes (msg_qbytes), not both',
      `${options.capacity} and ${options.capacityBytes}`,
    );
  }
  let capacityBytes = options.capacityBytes;
  if (options.capacity !== undefined) {
    capacityBytes = checkCapacity(options.capacity, 2 ** 31, 'times the message size, msg_qbytes') * codec.size;
  }
  if (capacityBytes !== undefined) {
    checkInteger('capacityBytes', capacityBytes, 1, MAX_TYPE, 'an integer >= 1 (bytes of message text, msg_qbytes)');
  }
  const receiveType = checkInteger(
    'receiveType',
    options.receiveType ?? 0,
    -MAX_TYPE,
    MAX_TYPE,
    'an integer: 0 any type, n > 0 type n, n < 0 the lowest type <= -n',
  );
  if (except && receiveType <= 0) {
    throw new ValidationError('except', 'a receiveType > 0 to leave out (MSG_EXCEPT)', `receiveType ${receiveType}`);
  }
  const pollMaxMs = checkInteger(
    'pollMaxMs',
    options.pollMaxMs ?? DEFAULT_POLL_MAX_MS,
    1,
    1000,
    'an integer in [1, 1000]',
  );
  return { create, exclusive, mode, access, capacityBytes, receiveType, except, pollMaxMs };
}

/** The key a key or ftok target names. */
export function keyOf(target: SysvTarget & { kind: 'key' | 'ftok' }): number {
  return target.kind === 'key' ? target.key : sysvmsg.ftokKey(target.path, target.proj);
}

export function sysvTarget(address: Address): SysvTarget {
  if (address.scheme !== 'sysv') throw new UnsupportedError(`${address.url} is not a sysv: URL`);
  return address.target;
}

/** The id of the queue a URL names now (msgget without IPC_CREAT for keys and ftok paths). */
export function queueId(url: string, target: SysvTarget): number {
  if (target.kind === 'id') return target.id;
  if (target.kind === 'private') {
    throw new UnsupportedError(`${url} names no existing queue: a private queue is reached by its id (sysv:id=N)`);
  }
  return sysvmsg.getQueue(keyOf(target), url, { create: false, exclusive: false, mode: 0, access: 0 }).id;
}
