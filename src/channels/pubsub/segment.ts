/**
 * The pub/sub segment: checking the options of an open, creating a segment without ever exposing a
 * half-built one, mapping and checking an existing one (a crafted header is a ValidationError, never
 * an access outside the mapping), taking an entry in the subscriber or publisher table, and unlinking
 * (docs/pubsub.md, "Creating and opening"). Mapping, doorbells and liveness are the ring's modules.
 */
import { fstatSync, readdirSync } from 'node:fs';
import type { MessageCodec } from '../../codecs/codec.js';
import { UnsupportedError, ValidationError } from '../../errors.js';
import { check, errnos, libc, systemError } from '../../native/index.js';
import { checkAccess, checkCreate, checkInteger, checkMode } from '../options.js';
import { checkBellDirectory, type Doorbell, makeBellDirectory, removeBellDirectory } from '../ring/doorbell.js';
import { alive, claimEntry, type RegistryLayout, withRegistryLock } from '../ring/liveness.js';
import { readHeaderBytes, Segment, shmPath } from '../ring/segment.js';
import type { OpenOptions } from '../transport.js';
import * as L from './layout.js';

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

/** The subscriber table of a mapped segment of `subscribers` entries. */
export const subscriberTable = (subscribers: number): RegistryLayout => ({
  offset: L.REGISTRY_OFFSET,
  count: subscribers,
  entrySize: L.ENTRY_SIZE,
  pid: L.E_PID,
  startTime: L.E_START_TIME,
  clear: [L.E_ACTIVE],
});

/** The publisher table of a mapped segment, after the subscriber table. */
export const publisherTable = (subscribers: number, publishers: number): RegistryLayout => ({
  offset: L.REGISTRY_OFFSET + subscribers * L.ENTRY_SIZE,
  count: publishers,
  entrySize: L.ENTRY_SIZE,
  pid: L.E_PID,
  startTime: L.E_START_TIME,
  clear: [L.E_CLAIM_COUNT],
});

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

function integerIn(name: string, value: unknown, min: number, max: number, what: string): number {
  return checkInteger(name, value, min, max, `an integer in [${min}, ${max}] (${what})`);
}

/** Checks the URL, the codec and the options of an open before anything is created. */
export function checkOptions(
  address: PubSubAddress,
  codec: MessageCodec<unknown>,
  options: PubSubOptions,
): CheckedOptions {
  const { name } = address;
  if (name.length < 2 || name.length > 200 || name.indexOf('/', 1) >= 0) {
    throw new ValidationError('url', 'shm+pubsub:/name with one leading slash, no other, at most 200 bytes', name);
  }
  if (!codec.fixedSize) {
    throw new UnsupportedError(
      `${address.url}: pub/sub segments carry fixed-size messages; codec '${codec.name}' is variable-size (use a struct codec)`,
    );
  }
  if (!Number.isInteger(codec.size) || codec.size < 1 || codec.size > L.MAX_MSG_SIZE) {
    throw new ValidationError('codec.size', `1..${L.MAX_MSG_SIZE} bytes for a slot`, String(codec.size));
  }
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

function randomId(): bigint {
  return crypto.getRandomValues(new BigUint64Array(1))[0]!;
}

const TEMPORARY = /^\.tipc-pubsub\.(\d+)\./;

/** Removes temporary segments of creators that died before publishing them (never visible under a name). */
function sweepTemporaries(): void {
  for (const file of readdirSync('/dev/shm')) {
    const match = TEMPORARY.exec(file);
    const pid = Number(match?.[1]);
    if (match && libc.kill(pid, 0) !== 0 && libc.errno() === errnos.ESRCH) libc.unlink(`/dev/shm/${file}`);
  }
}

/** Builds a complete segment under a temporary name (published by the caller with link()). */
function buildSegment(codec: MessageCodec<unknown>, options: CheckedOptions): { temporary: string; bellId: bigint } {
  const temporary = `/dev/shm/.tipc-pubsub.${process.pid}.${randomId().toString(16)}`;
  const { name, capacity, mode, subscribers, publishers } = options;
  const fd = check(
    libc.open(temporary, libc.O_RDWR | libc.O_CREAT | libc.O_EXCL | libc.O_CLOEXEC | libc.O_NOFOLLOW, mode),
    'open',
    temporary,
  );
  const slots = Math.max(2, 2 ** Math.ceil(Math.log2(capacity)));
  const dataOffset = L.dataOffsetFor(subscribers, publishers, slots);
  const length = dataOffset + slots * codec.size;
  try {
    check(libc.fchmod(fd, mode), 'fchmod', name);
    check(libc.ftruncate(fd, length), 'ftruncate', name);
    const segment = new Segment(fd, length, name);
    const { view } = segment;
    // ftruncate zero-fills: the tail, sleeper masks, registry and statistics start at 0.
    view.setUint32(L.OFF_VERSION, L.VERSION, true);
    view.setUint32(L.OFF_POLICY, options.policy === 'overwrite' ? L.POLICY_OVERWRITE : L.POLICY_BLOCK, true);
    view.setUint32(L.OFF_MSG_SIZE, codec.size, true);
    view.setUint32(L.OFF_SLOTS, slots, true);
    view.setInt32(L.OFF_CREATOR_PID, process.pid, true);
    view.setUint32(L.OFF_CAPACITY, capacity, true);
    const bellId = randomId();
    view.setBigUint64(L.OFF_BELL_ID, bellId, true);
    view.setUint32(L.OFF_SUBSCRIBERS, subscribers, true);
    view.setUint32(L.OFF_PUBLISHERS, publishers, true);
    view.setUint32(L.OFF_MASK_WORDS, L.maskWordsFor(subscribers, publishers), true);
    view.setUint32(L.OFF_REGISTRY_OFFSET, L.REGISTRY_OFFSET, true);
    const seq = L.seqOffsetFor(subscribers, publishers);
    view.setUint32(L.OFF_SEQ, seq, true);
    view.setUint32(L.OFF_DATA, dataOffset, true);
    view.setBigUint64(L.OFF_TOTAL_SIZE, BigInt(length), true);
    const fingerprint = new TextEncoder().encode(codec.fingerprint).subarray(0, L.FINGERPRINT_MAX - 1);
    segment.u8.set(fingerprint, L.OFF_FINGERPRINT);
    // Every slot starts as a skip of the position one lap before its first: done, holding no message.
    for (let i = 0; i < slots; i++) segment.i32[(seq >> 2) + i] = L.slotWord(i - slots, L.SKIPPED);
    makeBellDirectory(bellId, mode);
    Atomics.store(segment.i64, L.OFF_MAGIC >> 3, L.MAGIC);
    segment.unmap();
    return { temporary, bellId };
  } catch (error) {
    libc.unlink(temporary);
    throw error;
  } finally {
    libc.close(fd);
  }
}

/** The NUL-padded fingerprint field of a mapped header. */
export function fingerprintOf(bytes: Uint8Array): string {
  const field = bytes.subarray(L.OFF_FINGERPRINT, L.OFF_FINGERPRINT + L.FINGERPRINT_MAX);
  const end = field.indexOf(0);
  return new TextDecoder().decode(end < 0 ? field : field.subarray(0, end));
}

/** Checks a mapped segment against the protocol and the codec; throws the ValidationError that says what is wrong. */
function checkSegment(segment: Segment, url: string, codec: MessageCodec<unknown>, options: CheckedOptions): void {
  const magic = Atomics.load(segment.i64, L.OFF_MAGIC >> 3);
  const version = segment.u32(L.OFF_VERSION);
  if (segment.length < L.REGISTRY_OFFSET || magic !== L.MAGIC || version !== L.VERSION) {
    throw new ValidationError('url', 'a typed-ipc pub/sub segment', 'another kind of segment', {
      message: `${url} is not a typed-ipc pub/sub segment of protocol version ${L.VERSION} (magic 0x${magic.toString(16)}, version ${version}, ${segment.length} bytes); remove it with unlink('${url}') if it is left over`,
    });
  }
  const problem = L.headerProblem(segment.view, segment.length);
  if (problem !== undefined) {
    throw new ValidationError(`header.${problem.field}`, problem.expected, problem.value, {
      message:
        `${url} has a damaged pub/sub header: ${problem.field} is ${problem.value}, expected ${problem.expected}; ` +
        `it was not used: unlink('${url}') it if it is left over, and check who else writes it`,
    });
  }
  const size = segment.u32(L.OFF_MSG_SIZE);
  const theirs = fingerprintOf(segment.u8);
  if (size !== codec.size || (theirs !== '' && theirs !== codec.fingerprint)) {
    throw new ValidationError('codec', 'the segment’s message layout', `codec '${codec.name}'`, {
      message:
        `${url} holds ${size}-byte messages with fingerprint ${theirs || '(none)'}, but codec '${codec.name}' ` +
        `is ${codec.size} bytes with fingerprint ${codec.fingerprint}; open it with the schema it was created ` +
        `with, or unlink('${url}') it to start afresh`,
    });
  }
  const policy = segment.u32(L.OFF_POLICY) === L.POLICY_OVERWRITE ? 'overwrite' : 'block';
  if (options.policy !== undefined && options.policy !== policy) {
    throw new ValidationError('policy', `'${policy}' (the segment's)`, `'${options.policy}'`, {
      message: `${url} was created with policy '${policy}', not '${options.policy}'; leave policy out to join it, or unlink it and create it again`,
    });
  }
}

/** Opens (and with `create`, creates) a pub/sub segment, checked against the codec and the options, and maps it. */
export function attachSegment(address: PubSubAddress, codec: MessageCodec<unknown>, options: CheckedOptions): Segment {
  const { name, create } = options;
  const url = address.url;
  let swept = false;
  let exclusive = options.exclusive;
  for (let attempt = 0; attempt < L.OPEN_ATTEMPTS; attempt++) {
    const fd = exclusive ? -1 : libc.shmOpen(name, libc.O_RDWR | libc.O_CLOEXEC, 0);
    if (fd < 0) {
      const errno = exclusive ? errnos.ENOENT : libc.errno();
      if (errno !== errnos.ENOENT || !create) throw systemError(errno, 'shm_open', name);
      if (!swept) sweepTemporaries();
      swept = true;
      const { temporary, bellId } = buildSegment(codec, options);
      const linked = libc.link(temporary, shmPath(name)) === 0 ? 0 : libc.errno();
      libc.unlink(temporary);
      if (linked !== 0) removeBellDirectory(bellId, 0);
      if (linked !== 0 && (linked !== errnos.EEXIST || exclusive)) throw systemError(linked, 'link', name);
      exclusive = false;
      continue;
    }
    let segment: Segment;
    try {
      const { size } = fstatSync(fd);
      if (size < L.REGISTRY_OFFSET) {
        throw new ValidationError('url', 'a typed-ipc pub/sub segment', `${size} bytes`, {
          message: `${url} is not a typed-ipc pub/sub segment (${size} bytes, less than its header); remove it with unlink('${url}') if it is left over`,
        });
      }
      segment = new Segment(fd, size, name, true);
    } catch (error) {
      libc.close(fd);
      throw error;
    }
    try {
      checkSegment(segment, url, codec, options);
    } catch (error) {
      segment.unmap();
      throw error;
    }
    return segment;
  }
  throw systemError(errnos.EBUSY, 'open', name, 'the segment kept changing while opening it; try again');
}

/**
 * Takes a free entry of the table (or one a dead process left) after checking the doorbell directory,
 * and binds `bell` as doorbell `bellBase + entry`. Returns the entry; SystemError EUSERS when the table is full.
 */
export function registerHandle(
  segment: Segment,
  table: RegistryLayout,
  bellBase: number,
  bell: Doorbell,
  url: string,
  role: 'subscriber' | 'publisher',
): number {
  const bellId = segment.view.getBigUint64(L.OFF_BELL_ID, true);
  const owner = fstatSync(segment.fd);
  const mode = owner.mode & 0o777;
  checkBellDirectory(url, bellId, { uid: owner.uid, gid: owner.gid, mode });
  const entry = withRegistryLock(segment.fd, url, () =>
    claimEntry(segment, table, (e) => {
      const bound = bell.bind(bellBase + e, mode);
      if (bound === 0) return 'taken';
      if (bound === errnos.EADDRINUSE) return 'retry';
      throw systemError(
        bound,
        'bind',
        bell.path(bellBase + e),
        `${url}: this process may not create its doorbell; the segment's owner grants its doorbells like its segment`,
      );
    }),
  );
  if (entry >= 0) return entry;
  throw systemError(
    errnos.EUSERS,
    'open',
    url,
    `the ${role} table is full: all ${table.count} ${role} entries are held by live processes ` +
      `(the segment was created with ${role}s: ${table.count}); close one, or create the segment with more`,
  );
}

/** Removes a segment's name and the doorbells of its dead handles (live handles keep theirs until they close). */
export function unlinkSegment(name: string): void {
  const path = shmPath(name);
  let bells: { id: bigint; count: number; live: (bell: number) => boolean } | undefined;
  const fd = libc.open(path, libc.O_RDONLY | libc.O_CLOEXEC | libc.O_NOFOLLOW, 0);
  if (fd >= 0) {
    try {
      const bytes = new Uint8Array(L.REGISTRY_OFFSET);
      const { size } = fstatSync(fd);
      if (size >= L.REGISTRY_OFFSET && libc.read(fd, bytes, bytes.length) === bytes.length && L.isPubSubHeader(bytes)) {
        const view = new DataView(bytes.buffer);
        const subscribers = Math.min(view.getUint32(L.OFF_SUBSCRIBERS, true), L.MAX_SUBSCRIBERS);
        const publishers = Math.min(view.getUint32(L.OFF_PUBLISHERS, true), L.MAX_PUBLISHERS);
        const count = subscribers + publishers;
        const registry = new Uint8Array(count * L.ENTRY_SIZE);
        const got = size >= L.REGISTRY_OFFSET + registry.length ? libc.read(fd, registry, registry.length) : 0;
        const entries = new DataView(registry.buffer);
        const live = (e: number): boolean => {
          if (got !== registry.length) return true; // unreadable registry: leave every socket
          const base = e * L.ENTRY_SIZE;
          return alive(
            entries.getInt32(base + L.E_PID, true),
            Number(entries.getBigUint64(base + L.E_START_TIME, true)),
          );
        };
        bells = { id: view.getBigUint64(L.OFF_BELL_ID, true), count, live };
      }
    } finally {
      libc.close(fd);
    }
  }
  check(libc.shmUnlink(name), 'shm_unlink', name);
  if (bells !== undefined) removeBellDirectory(bells.id, bells.count, bells.live);
}

/** What a pub/sub segment's header says (`typed-ipc ls` and `stat`), read without joining it. */
export interface PubSubHeader {
  readonly version: number;
  readonly policy: PubSubPolicy;
  /** Bytes per message. */
  readonly messageSize: number;
  /** Messages a subscriber may fall behind before the policy applies. */
  readonly capacity: number;
  /** Sizes of the subscriber and publisher tables. */
  readonly subscribers: number;
  readonly publishers: number;
  /** Messages published so far (the tail). */
  readonly published: bigint;
  /** The process that created the segment (informational). */
  readonly creatorPid: number;
  /** The message layout's fingerprint ('' when unknown). */
  readonly fingerprint: string;
}

/**
 * Reads the header of the pub/sub segment stored in the file `path` (e.g. `/dev/shm/name`) with
 * read(2), without mapping it or taking an entry; undefined when the file is not a pub/sub segment of
 * this protocol. Throws the open's error when the file cannot be opened.
 */
export function readPubSubHeader(path: string): PubSubHeader | undefined {
  const bytes = readHeaderBytes(path, L.OFF_TAIL + 8);
  if (bytes === undefined || !L.isPubSubHeader(bytes)) return undefined;
  return {
    version: bytes.readUInt32LE(L.OFF_VERSION),
    policy: bytes.readUInt32LE(L.OFF_POLICY) === L.POLICY_OVERWRITE ? 'overwrite' : 'block',
    messageSize: bytes.readUInt32LE(L.OFF_MSG_SIZE),
    capacity: bytes.readUInt32LE(L.OFF_CAPACITY),
    subscribers: bytes.readUInt32LE(L.OFF_SUBSCRIBERS),
    publishers: bytes.readUInt32LE(L.OFF_PUBLISHERS),
    published: bytes.readBigUInt64LE(L.OFF_TAIL),
    creatorPid: bytes.readInt32LE(L.OFF_CREATOR_PID),
    fingerprint: fingerprintOf(bytes),
  };
}
