/**
 * The ring's segment: mapping it, checking its header against the protocol and the codec, creating it
 * without ever exposing a half-built ring, replacing a stale one, taking a handle in its registry,
 * noticing a truncation, and reading its header without joining it (docs/ring-protocol.md, "Creating,
 * opening, stale segments" and "Trust model").
 */
import { closeSync, fstatSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import type { MessageCodec } from '../../codecs/codec.js';
import { UnsupportedError, ValidationError } from '../../errors.js';
import { check, errnos, libc, systemError } from '../../native/index.js';
import { checkCreate, checkMode } from '../options.js';
import type { OpenOptions } from '../transport.js';
import type { Address } from '../url.js';
import { checkBellDirectory, type Doorbell, makeBellDirectory, removeBellDirectory } from './doorbell.js';
import * as L from './layout.js';
import { alive, claimEntry, entryLive, type RegistryLayout, registryUnused, withRegistryLock } from './liveness.js';

const DEFAULT_CAPACITY = 1024;

/** The address of a ring (its scheme already checked). */
export type ShmAddress = Extract<Address, { scheme: 'mq' | 'shm' }>;

/** The ring's registry of handles: 64 entries from byte 512; a new owner clears the dead owner's intents. */
export const ringRegistry: RegistryLayout = {
  offset: L.OFF_REGISTRY,
  count: L.HANDLES,
  entrySize: L.ENTRY_SIZE,
  pid: L.E_PID,
  startTime: L.E_START_TIME,
  clear: [L.E_PROD_COUNT, L.E_CONS_COUNT],
};

/** A mapped shared-memory segment and typed views over all of it. */
export class Segment {
  readonly address: bigint;
  readonly length: number;
  readonly u8: Uint8Array;
  readonly i32: Int32Array;
  /** 64-bit words (counters, positions, start times: unsigned, they pass 2^63 exactly). */
  readonly i64: BigUint64Array;
  readonly view: DataView;
  /** The segment's descriptor when the mapping owns it (a channel's: fstat notices truncation); else -1. */
  readonly fd: number;

  constructor(fd: number, length: number, name: string, own = false) {
    const address = libc.mmap(null, length, libc.PROT_READ | libc.PROT_WRITE, libc.MAP_SHARED, fd, 0n);
    if (address === libc.MAP_FAILED) throw systemError(libc.errno(), 'mmap', name);
    this.address = address;
    this.length = length;
    const buffer = libc.viewNative(address, length);
    this.u8 = new Uint8Array(buffer);
    this.i32 = new Int32Array(buffer, 0, length >>> 2);
    this.i64 = new BigUint64Array(buffer, 0, length >>> 3);
    this.view = new DataView(buffer);
    this.fd = own ? fd : -1;
  }

  u32(offset: number): number {
    return this.view.getUint32(offset, true);
  }

  /** Unmaps the segment (and closes its descriptor when the mapping owns it). */
  unmap(): void {
    libc.munmap(this.address, this.length);
    if (this.fd >= 0) libc.close(this.fd);
  }

  /** The file's size now, when it no longer covers the mapping (truncated: touching it is a SIGBUS); else undefined. */
  shrunk(): number | undefined {
    const { size } = fstatSync(this.fd);
    return size < this.length ? size : undefined;
  }
}

/** The NUL-padded fingerprint field of a ring header. */
function fingerprintOf(bytes: Uint8Array): string {
  const field = bytes.subarray(L.OFF_FINGERPRINT, L.OFF_FINGERPRINT + L.FINGERPRINT_MAX);
  const end = field.indexOf(0);
  return new TextDecoder().decode(end < 0 ? field : field.subarray(0, end));
}

/** The fingerprint a mapped ring was created with ('' when unknown). */
export function ringFingerprint(segment: Segment): string {
  return fingerprintOf(segment.u8);
}

/** Whether a live process holds registry entry `e` of a mapped ring. */
export function handleLive(segment: Segment, e: number): boolean {
  return entryLive(segment, ringRegistry, e);
}

/** Why an existing segment cannot be attached with this codec. */
interface Mismatch {
  readonly kind: 'foreign' | 'corrupt' | 'incompatible';
  readonly message: string;
  /** For a corrupt header: the field that is wrong, what it holds and what it must hold. */
  readonly field?: string;
  readonly value?: string;
  readonly expected?: string;
}

/** Checks a mapped header against the protocol and the codec; undefined when they match. */
function mismatch(segment: Segment, url: string, codec: MessageCodec<unknown>): Mismatch | undefined {
  const magic = Atomics.load(segment.i64, L.OFF_MAGIC >> 3);
  const version = segment.u32(L.OFF_VERSION);
  if (segment.length < L.SEQ_OFFSET || magic !== L.MAGIC || version !== L.VERSION) {
    return {
      kind: 'foreign',
      message: `${url} is not a typed-ipc ring of protocol version ${L.VERSION} (magic 0x${magic.toString(16)}, version ${version}); remove it with unlink('${url}') if it is left over`,
    };
  }
  const problem = L.headerProblem(segment.view, segment.length);
  if (problem !== undefined) {
    return {
      kind: 'corrupt',
      ...problem,
      message:
        `${url} has a damaged ring header: ${problem.field} is ${problem.value}, expected ${problem.expected}; ` +
        `it was not used (nor replaced): unlink('${url}') it if it is left over, and check who else writes it`,
    };
  }
  const size = segment.u32(L.OFF_MSG_SIZE);
  const theirs = ringFingerprint(segment);
  if (size !== codec.size || (theirs !== '' && theirs !== codec.fingerprint)) {
    return {
      kind: 'incompatible',
      message:
        `${url} holds ${size}-byte messages with fingerprint ${theirs || '(none)'}, but codec '${codec.name}' ` +
        `is ${codec.size} bytes with fingerprint ${codec.fingerprint}; open it with the schema it was created ` +
        `with, or unlink('${url}') it to start afresh`,
    };
  }
  return undefined;
}

/** The file of a shm name. */
export function shmPath(name: string): string {
  return `/dev/shm${name}`;
}

function randomId(): bigint {
  return crypto.getRandomValues(new BigUint64Array(1))[0]!;
}

/** Removes temporary segments of creators that died before publishing them (never visible as rings). */
function sweepTemporaries(): void {
  for (const file of readdirSync('/dev/shm')) {
    const match = /^\.tipc-ring\.(\d+)\./.exec(file);
    const pid = Number(match?.[1]);
    if (match && libc.kill(pid, 0) !== 0 && libc.errno() === errnos.ESRCH) libc.unlink(`/dev/shm/${file}`);
  }
}

/**
 * Builds a complete segment under a temporary name and returns that name; the caller publishes it
 * with link() (fails if the name exists) or rename() (replaces a stale one). Nobody ever sees a
 * half-initialised ring under its real name.
 */
function buildSegment(
  name: string,
  codec: MessageCodec<unknown>,
  capacity: number,
  mode: number,
): { temporary: string; ringId: bigint } {
  const temporary = `/dev/shm/.tipc-ring.${process.pid}.${randomId().toString(16)}`;
  const fd = check(
    libc.open(temporary, libc.O_RDWR | libc.O_CREAT | libc.O_EXCL | libc.O_CLOEXEC | libc.O_NOFOLLOW, mode),
    'open',
    temporary,
  );
  const slots = Math.max(2, 2 ** Math.ceil(Math.log2(capacity)));
  const dataOffset = L.dataOffsetFor(slots);
  const length = dataOffset + slots * codec.size;
  try {
    check(libc.fchmod(fd, mode), 'fchmod', name);
    check(libc.ftruncate(fd, length), 'ftruncate', name);
    const segment = new Segment(fd, length, name);
    const { view } = segment;
    // ftruncate zero-fills: counters, sleeper masks, registry and statistics start at 0.
    view.setUint32(L.OFF_VERSION, L.VERSION, true);
    view.setUint32(L.OFF_MSG_SIZE, codec.size, true);
    view.setUint32(L.OFF_SLOTS, slots, true);
    view.setUint32(L.OFF_CAPACITY, capacity, true);
    view.setInt32(L.OFF_CREATOR_PID, process.pid, true);
    view.setUint32(L.OFF_MAX_HANDLES, L.HANDLES, true);
    const ringId = randomId();
    view.setBigUint64(L.OFF_RING_ID, ringId, true);
    view.setUint32(L.OFF_SEQ, L.SEQ_OFFSET, true);
    view.setUint32(L.OFF_DATA, dataOffset, true);
    view.setBigUint64(L.OFF_TOTAL_SIZE, BigInt(length), true);
    const fingerprint = new TextEncoder().encode(codec.fingerprint).subarray(0, L.FINGERPRINT_MAX - 1);
    segment.u8.set(fingerprint, L.OFF_FINGERPRINT);
    for (let i = 0; i < slots; i++) segment.i32[(L.SEQ_OFFSET >> 2) + i] = i;
    // The doorbell directory exists before the ring is visible under its name.
    makeBellDirectory(ringId, mode);
    Atomics.store(segment.i64, L.OFF_MAGIC >> 3, L.MAGIC);
    segment.unmap();
    return { temporary, ringId };
  } catch (error) {
    libc.unlink(temporary);
    throw error;
  } finally {
    libc.close(fd);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Tries to replace an incompatible ring nobody uses; false when it is in use. */
async function replaceStale(name: string, codec: MessageCodec<unknown>, capacity: number, mode: number) {
  const fd = libc.shmOpen(name, libc.O_RDWR | libc.O_CLOEXEC, 0);
  if (fd < 0) return true; // gone meanwhile: start over
  try {
    // Whoever replaces a segment holds its lock and checks that the name still points at it.
    if (libc.flock(fd, libc.LOCK_EX | libc.LOCK_NB) !== 0) {
      await sleep(1);
      return true;
    }
    const before = fstatSync(fd);
    let now: ReturnType<typeof statSync>;
    try {
      now = statSync(shmPath(name));
    } catch {
      return true;
    }
    // Changed meanwhile, or no longer a ring: start over (the opener reports what it finds).
    if (before.ino !== now.ino || before.size < L.SEQ_OFFSET) return true;
    const segment = new Segment(fd, before.size, name);
    const unused = registryUnused(segment, ringRegistry);
    const oldId = segment.view.getBigUint64(L.OFF_RING_ID, true);
    segment.unmap();
    if (!unused) return false;
    const { temporary, ringId } = buildSegment(name, codec, capacity, mode);
    if (libc.rename(temporary, shmPath(name)) !== 0) {
      const errno = libc.errno();
      libc.unlink(temporary);
      removeBellDirectory(ringId, L.HANDLES);
      throw systemError(errno, 'rename', name);
    }
    // Only a ring of this protocol has a doorbell directory to remove; a foreign segment is never replaced.
    removeBellDirectory(oldId, L.HANDLES);
    return true;
  } finally {
    libc.close(fd);
  }
}

/** Checks the URL, the codec and the options of an open; returns the name, capacity and mode. */
function validateOptions(address: ShmAddress, codec: MessageCodec<unknown>, options: OpenOptions) {
  const { name } = address;
  if (name.length < 2 || name.length > 200 || name.indexOf('/', 1) >= 0) {
    throw new ValidationError('url', 'shm:/name with one leading slash, no other, at most 200 bytes', name);
  }
  if (!codec.fixedSize) {
    throw new UnsupportedError(
      `${address.url}: shm rings carry fixed-size messages; codec '${codec.name}' is variable-size (use a struct codec, or a socket or message queue)`,
    );
  }
  if (!Number.isInteger(codec.size) || codec.size < 1 || codec.size > L.MAX_MSG_SIZE) {
    throw new ValidationError('codec.size', `1..${L.MAX_MSG_SIZE} bytes for a ring slot`, String(codec.size));
  }
  const capacity = options.capacity ?? DEFAULT_CAPACITY;
  if (!Number.isInteger(capacity) || capacity < 1 || capacity > L.MAX_CAPACITY) {
    throw new ValidationError('capacity', `an integer in [1, ${L.MAX_CAPACITY}] (messages)`, String(capacity));
  }
  const { create, exclusive } = checkCreate(options);
  return { name, capacity, mode: checkMode(options.mode), create, exclusive };
}

/** Opens (and with `create`, creates or recovers) a ring's segment, checked against the codec, and maps it. */
export async function attachSegment(
  address: ShmAddress,
  codec: MessageCodec<unknown>,
  options: OpenOptions,
): Promise<Segment> {
  const { name, capacity, mode, create, exclusive: exclusiveCreate } = validateOptions(address, codec, options);
  const url = address.url;
  let swept = false;
  // `exclusive` must create the segment itself; once it did, the loop opens what it created.
  let exclusive = exclusiveCreate;
  for (let attempt = 0; attempt < L.OPEN_ATTEMPTS; attempt++) {
    const fd = exclusive ? -1 : libc.shmOpen(name, libc.O_RDWR | libc.O_CLOEXEC, 0);
    if (fd < 0) {
      const errno = exclusive ? errnos.ENOENT : libc.errno();
      if (errno !== errnos.ENOENT || !create) throw systemError(errno, 'shm_open', name);
      if (!swept) sweepTemporaries();
      swept = true;
      const { temporary, ringId } = buildSegment(name, codec, capacity, mode);
      const linked = libc.link(temporary, shmPath(name)) === 0 ? 0 : libc.errno();
      libc.unlink(temporary);
      if (linked !== 0) removeBellDirectory(ringId, L.HANDLES);
      if (linked !== 0 && (linked !== errnos.EEXIST || exclusive)) throw systemError(linked, 'link', name);
      exclusive = false;
      continue;
    }
    let segment: Segment;
    try {
      const { size } = fstatSync(fd);
      if (size < L.SEQ_OFFSET) {
        throw new ValidationError('url', 'a typed-ipc ring', `${size} bytes`, {
          message: `${url} is not a typed-ipc ring (${size} bytes, less than its header); remove it with unlink('${url}') if it is left over`,
        });
      }
      segment = new Segment(fd, size, name, true);
    } catch (error) {
      libc.close(fd);
      throw error;
    }
    const found = mismatch(segment, url, codec);
    if (found === undefined) return segment;
    segment.unmap();
    if (found.kind === 'foreign') {
      throw new ValidationError('url', 'a typed-ipc ring', 'another kind of segment', { message: found.message });
    }
    if (found.kind === 'corrupt') {
      throw new ValidationError(`header.${found.field}`, found.expected ?? '', found.value ?? '', {
        message: found.message,
      });
    }
    if (!create) {
      throw new ValidationError('codec', 'the ring’s message layout', `codec '${codec.name}'`, {
        message: found.message,
      });
    }
    if (!(await replaceStale(name, codec, capacity, mode))) {
      throw new ValidationError('codec', 'the ring’s message layout', `codec '${codec.name}'`, {
        message: `${found.message} (it is in use by a live process, so it was not replaced)`,
      });
    }
  }
  throw systemError(errnos.EBUSY, 'open', name, 'the segment kept being replaced while opening it; try again');
}

/**
 * Takes a free registry entry of the mapped ring, or one left by a dead process, after checking its
 * doorbell directory, and binds `bell` as that entry's doorbell. Returns the entry.
 */
export function registerHandle(segment: Segment, bell: Doorbell, url: string): number {
  const ringId = segment.view.getBigUint64(L.OFF_RING_ID, true);
  const owner = fstatSync(segment.fd);
  const mode = owner.mode & 0o777;
  checkBellDirectory(url, ringId, { uid: owner.uid, gid: owner.gid, mode });
  const entry = withRegistryLock(segment.fd, url, () =>
    claimEntry(segment, ringRegistry, (e) => {
      const bound = bell.bind(e, mode);
      if (bound === 0) return 'taken';
      if (bound === errnos.EADDRINUSE) return 'retry'; // another opener's socket appeared meanwhile
      throw systemError(
        bound,
        'bind',
        bell.path(e),
        `${url}: this process may not create its doorbell in ${bell.path(e).replace(/\/\d+$/, '')}; the ring's ` +
          'owner grants its doorbells like its segment (write access to the segment gives access to the directory)',
      );
    }),
  );
  if (entry >= 0) return entry;
  throw systemError(
    errnos.EUSERS,
    'open',
    url,
    `all ${L.HANDLES} handles of the ring are held by live processes; close some channels on it`,
  );
}

/** The ring id and the live entries of the ring in `path`, read from the file (not mapped); undefined if not a ring. */
function readRegistry(path: string): { ringId: bigint; live: (entry: number) => boolean } | undefined {
  let header: Buffer | undefined;
  try {
    header = readHeaderBytes(path, L.SEQ_OFFSET);
  } catch {
    return undefined;
  }
  if (header === undefined || !L.isRingHeader(header)) return undefined;
  const live = (e: number): boolean => {
    const base = L.OFF_REGISTRY + e * L.ENTRY_SIZE;
    return alive(header.readInt32LE(base + L.E_PID), Number(header.readBigUInt64LE(base + L.E_START_TIME)));
  };
  return { ringId: header.readBigUInt64LE(L.OFF_RING_ID), live };
}

/** The first `length` bytes of the file at `path` (undefined when it is shorter); throws when it cannot be opened. */
export function readHeaderBytes(path: string, length: number): Buffer | undefined {
  const bytes = Buffer.alloc(length);
  const fd = openSync(path, 'r');
  try {
    return readSync(fd, bytes, 0, length, 0) < length ? undefined : bytes;
  } finally {
    closeSync(fd);
  }
}

/** Removes a ring's name and the doorbells of its dead handles (live handles keep theirs until they close). */
export function unlinkSegment(name: string): void {
  const registry = readRegistry(shmPath(name));
  check(libc.shmUnlink(name), 'shm_unlink', name);
  if (registry !== undefined) removeBellDirectory(registry.ringId, L.HANDLES, registry.live);
}

/** What a ring's header says, read from its file without mapping or joining the ring. */
export interface RingHeader {
  /** Protocol version of the segment. */
  readonly version: number;
  /** Bytes per message. */
  readonly messageSize: number;
  /** Messages the ring holds before producers wait. */
  readonly capacity: number;
  /** Slots in the ring (the capacity rounded up to a power of two). */
  readonly slots: number;
  /** The process that created the ring (informational). */
  readonly creatorPid: number;
  /** The message layout's fingerprint ('' when unknown). */
  readonly fingerprint: string;
  /** Messages written and not yet consumed (tail - head). */
  readonly pending: number;
}

/**
 * Reads the header of the ring stored in the file `path` (e.g. `/dev/shm/name`) with read(2), without
 * mapping it or taking a handle; undefined when the file is not a typed-ipc ring (of any version).
 * Throws the open's error when the file cannot be opened.
 */
export function readRingHeader(path: string): RingHeader | undefined {
  // The fields shown end with head; the version is reported, not required (`ls` shows old rings too).
  const bytes = readHeaderBytes(path, L.OFF_HEAD + 8);
  if (bytes === undefined || bytes.readBigUInt64LE(L.OFF_MAGIC) !== L.MAGIC) return undefined;
  const tail = bytes.readBigUInt64LE(L.OFF_TAIL);
  const head = bytes.readBigUInt64LE(L.OFF_HEAD);
  return {
    version: bytes.readUInt32LE(L.OFF_VERSION),
    messageSize: bytes.readUInt32LE(L.OFF_MSG_SIZE),
    capacity: bytes.readUInt32LE(L.OFF_CAPACITY),
    slots: bytes.readUInt32LE(L.OFF_SLOTS),
    creatorPid: bytes.readInt32LE(L.OFF_CREATOR_PID),
    fingerprint: fingerprintOf(bytes),
    pending: tail > head ? Number(tail - head) : 0,
  };
}
