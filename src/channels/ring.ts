/**
 * `shm:/name`: a bounded multi-producer, multi-consumer ring of fixed-size messages in POSIX shared
 * memory, read and written in place through Atomics on a koffi view of the mapping. The protocol
 * (layout, ordering, wake-ups, dead peers, stale segments) is docs/ring-protocol.md; C peers use
 * include/typed_ipc_ring.h. Steady state makes no system call: a doorbell datagram is sent only
 * to peers that registered as sleeping.
 */
import {
  chmodSync,
  closeSync,
  existsSync,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmdirSync,
  statSync,
} from 'node:fs';
import type { MessageCodec } from '../codecs/codec.js';
import { ChannelClosedError, TimeoutError, UnsupportedError, ValidationError } from '../errors.js';
import { check, errnos, libc, systemError, type WaitOptions } from '../native/index.js';
import { type ChannelInfo, FdChannel, type Message, type Outgoing, type Received } from './channel.js';
import type { OpenOptions, Transport } from './transport.js';
import type { Address } from './url.js';

// --- layout (mirrors include/typed_ipc_ring.h; byte offsets) -----------------------------------
const MAGIC = 0x474e495243504954n; // the bytes "TIPCRING"
// Version 2: doorbells moved from abstract names (anyone could bind or flood them) to a directory
// whose access follows the segment's mode. Version 1 peers would never wake version 2 ones.
const VERSION = 2;
const OFF_VERSION = 8;
const OFF_MSG_SIZE = 16;
const OFF_SLOTS = 20;
const OFF_CREATOR_PID = 24;
const OFF_MAX_HANDLES = 28;
const OFF_RING_ID = 32;
const OFF_SEQ = 40;
const OFF_DATA = 44;
const OFF_TOTAL_SIZE = 48;
const OFF_CAPACITY = 56;
const OFF_FINGERPRINT = 64;
const FINGERPRINT_MAX = 64;
const OFF_TAIL = 128;
const OFF_HEAD = 192;
const OFF_CONSUMERS_WAITING = 256;
const OFF_PRODUCERS_WAITING = 264;
const OFF_RECOVERED = 320;
const OFF_ABANDONED = 328;
const OFF_REGISTRY = 512;
const HANDLES = 64;
const ENTRY_SIZE = 64;
const E_PID = 0;
const E_START_TIME = 8;
const E_PROD_POS = 16;
const E_PROD_COUNT = 24;
const E_CONS_POS = 32;
const E_CONS_COUNT = 40;
const SEQ_OFFSET = OFF_REGISTRY + HANDLES * ENTRY_SIZE;
const SKIP = 0x80000000 | 0;
const MAX_CAPACITY = 1 << 24;
const MAX_MSG_SIZE = 1 << 20;
const DEFAULT_CAPACITY = 1024;
const TWO_32 = 2 ** 32;
const LOW_32 = 0xffffffffn;
/** Int32 indexes of the low and high halves of the 64-bit tail and head (little-endian). */
const TAIL_LO = OFF_TAIL >> 2;
const TAIL_HI = TAIL_LO + 1;
const HEAD_LO = OFF_HEAD >> 2;
const HEAD_HI = HEAD_LO + 1;
/** How often a waiter blocked behind a claimed-but-unfinished slot checks whether its owner died. */
const RECOVERY_MS = 10;
/** How often a producer blocked on a full ring looks for a consumer that died holding a slot. */
const FULL_RECHECK_MS = 100;
/**
 * How often an idle consumer wakes to check that the segment was not truncated under it (one fstat):
 * a sleeper that was never rung still learns within this time that its ring is gone.
 */
const SIZE_RECHECK_MS = 1000;
/** Loads spent polling the ring before registering as a sleeper (a few microseconds). */
const SPIN = 256;

const dataOffsetFor = (slots: number): number => (SEQ_OFFSET + 4 * slots + 63) & ~63;

/** The segment layout's numbers, for tools and tests that read or craft segments (not part of the package API). */
export const ringLayout = {
  MAGIC,
  VERSION,
  OFF_VERSION,
  OFF_MSG_SIZE,
  OFF_SLOTS,
  OFF_MAX_HANDLES,
  OFF_RING_ID,
  OFF_SEQ,
  OFF_DATA,
  OFF_TOTAL_SIZE,
  OFF_CAPACITY,
  OFF_TAIL,
  OFF_HEAD,
  OFF_REGISTRY,
  HANDLES,
  ENTRY_SIZE,
  SEQ_OFFSET,
  dataOffsetFor,
} as const;

// --- processes ---------------------------------------------------------------------------------
/** Start time of a process in clock ticks since boot (/proc/<pid>/stat field 22); 0 if unknown. */
function startTime(pid: number): number {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return 0;
  }
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[19] ?? 0);
}

let selfStart: number | undefined;

/** Whether `pid`, registered with `start`, still runs (a different start time means pid reuse). */
function alive(pid: number, start: number): boolean {
  if (pid <= 0) return false;
  if (libc.kill(pid, 0) !== 0 && libc.errno() === errnos.ESRCH) return false;
  const now = startTime(pid);
  return now === 0 || now === start;
}

// --- the mapping -------------------------------------------------------------------------------
/** Why an existing segment cannot be attached with this codec. */
interface Mismatch {
  readonly kind: 'foreign' | 'corrupt' | 'incompatible';
  readonly message: string;
  /** For a corrupt header: the field that is wrong, what it holds and what it must hold. */
  readonly field?: string;
  readonly value?: string;
  readonly expected?: string;
}

/** A header field that disagrees with the protocol, the other fields or the file's size. */
interface HeaderProblem {
  readonly field: string;
  readonly value: string;
  readonly expected: string;
}

/**
 * Checks every layout field of a ring header (magic and version already matched) against the
 * protocol, against each other and against the file's size, in the order docs/ring-protocol.md
 * lists them. A peer uses these numbers to index the mapping: one out of range would make it read
 * or write outside the segment.
 */
function headerProblem(view: DataView, fileSize: number): HeaderProblem | undefined {
  const field = (name: string, value: number | bigint, expected: string) => ({
    field: name,
    value: String(value),
    expected,
  });
  const size = view.getUint32(OFF_MSG_SIZE, true);
  if (size < 1 || size > MAX_MSG_SIZE) return field('msg_size', size, `1..${MAX_MSG_SIZE}`);
  const slots = view.getUint32(OFF_SLOTS, true);
  if (slots < 2 || slots > MAX_CAPACITY || (slots & (slots - 1)) !== 0) {
    return field('slots', slots, `a power of two in 2..${MAX_CAPACITY}`);
  }
  const capacity = view.getUint32(OFF_CAPACITY, true);
  if (capacity < 1 || capacity > slots) return field('capacity', capacity, `1..${slots} (the slots)`);
  const handles = view.getUint32(OFF_MAX_HANDLES, true);
  if (handles !== HANDLES) return field('max_handles', handles, String(HANDLES));
  const seq = view.getUint32(OFF_SEQ, true);
  if (seq !== SEQ_OFFSET) return field('seq_offset', seq, String(SEQ_OFFSET));
  const data = view.getUint32(OFF_DATA, true);
  if (data !== dataOffsetFor(slots)) return field('data_offset', data, `${dataOffsetFor(slots)} (for ${slots} slots)`);
  const total = view.getBigUint64(OFF_TOTAL_SIZE, true);
  const end = data + slots * size;
  if (total !== BigInt(end)) return field('total_size', total, `${end} (data_offset + slots * msg_size)`);
  if (fileSize !== end) return field('file size', fileSize, `${end} (total_size)`);
  return undefined;
}

/** A mapped ring segment and typed views over it. */
class Segment {
  readonly address: bigint;
  readonly length: number;
  readonly u8: Uint8Array;
  readonly i32: Int32Array;
  /** Header words only: tail, head and statistics are unsigned 64-bit (positions pass 2^63 exactly). */
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
    this.i64 = new BigUint64Array(buffer, 0, OFF_REGISTRY / 8);
    this.view = new DataView(buffer);
    this.fd = own ? fd : -1;
  }

  u32(offset: number): number {
    return this.view.getUint32(offset, true);
  }

  fingerprint(): string {
    const bytes = this.u8.subarray(OFF_FINGERPRINT, OFF_FINGERPRINT + FINGERPRINT_MAX);
    const end = bytes.indexOf(0);
    return new TextDecoder().decode(end < 0 ? bytes : bytes.subarray(0, end));
  }

  /** Checks the header against the codec; undefined when they match. */
  mismatch(url: string, codec: MessageCodec<unknown>): Mismatch | undefined {
    const magic = Atomics.load(this.i64, 0);
    if (this.length < SEQ_OFFSET || magic !== MAGIC || this.u32(OFF_VERSION) !== VERSION) {
      return {
        kind: 'foreign',
        message: `${url} is not a typed-ipc ring of protocol version ${VERSION} (magic 0x${magic.toString(16)}, version ${this.u32(OFF_VERSION)}); remove it with unlink('${url}') if it is left over`,
      };
    }
    const problem = headerProblem(this.view, this.length);
    if (problem !== undefined) {
      return {
        kind: 'corrupt',
        ...problem,
        message:
          `${url} has a damaged ring header: ${problem.field} is ${problem.value}, expected ${problem.expected}; ` +
          `it was not used (nor replaced): unlink('${url}') it if it is left over, and check who else writes it`,
      };
    }
    const size = this.u32(OFF_MSG_SIZE);
    const theirs = this.fingerprint();
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

  /** Whether a live process holds registry entry `e`. */
  live(e: number): boolean {
    const base = OFF_REGISTRY + e * ENTRY_SIZE;
    const pid = Atomics.load(this.i32, (base + E_PID) >> 2);
    return pid !== 0 && alive(pid, this.#u64(base + E_START_TIME));
  }

  /** Whether no live process holds a handle on this ring. */
  unused(): boolean {
    for (let e = 0; e < HANDLES; e++) if (this.live(e)) return false;
    return true;
  }

  #u64(offset: number): number {
    return this.u32(offset) + this.u32(offset + 4) * TWO_32;
  }

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

function shmPath(name: string): string {
  return `/dev/shm${name}`;
}

function randomId(): bigint {
  return crypto.getRandomValues(new BigUint64Array(1))[0]!;
}

// --- doorbells (docs/ring-protocol.md, "Doorbells") --------------------------------------------
/** The directory holding a ring's doorbell sockets; only who may write the segment may enter it. */
function bellDirectory(ringId: bigint): string {
  return `/dev/shm/.tipc-bells.${ringId.toString(16).padStart(16, '0')}`;
}

/** The doorbell directory's permission bits for a segment of `mode`: rwx for each class that may write it. */
function bellsMode(mode: number): number {
  return 0o700 | (mode & 0o020 ? 0o070 : 0) | (mode & 0o002 ? 0o007 : 0);
}

/** Prebuilt `sockaddr_un` bytes of a registry entry's doorbell: family, path, NUL. */
function bellAddress(ringId: bigint, entry: number): Uint8Array {
  const path = new TextEncoder().encode(`${bellDirectory(ringId)}/${entry}`);
  const address = new Uint8Array(2 + path.length + 1);
  address[0] = libc.AF_UNIX; // sun_family, little-endian u16
  address.set(path, 2);
  return address;
}

/**
 * Checks that the doorbell directory is the one the ring's creator made: a directory (not a link),
 * with the segment's owner and group, granting nobody the segment does not grant. Whoever planted a
 * look-alike could otherwise take handles or read who sleeps.
 */
function checkBellDirectory(url: string, directory: string, segment: { uid: number; gid: number; mode: number }) {
  let stat: ReturnType<typeof lstatSync>;
  try {
    stat = lstatSync(directory);
  } catch {
    throw systemError(
      errnos.ENOENT,
      'lstat',
      directory,
      `${url}: its doorbell directory is missing (removed by hand?); unlink('${url}') and create the ring again`,
    );
  }
  const extra = stat.mode & 0o777 & ~bellsMode(segment.mode);
  if (!stat.isDirectory() || stat.uid !== segment.uid || stat.gid !== segment.gid || extra !== 0) {
    throw new ValidationError(
      'doorbells',
      `a directory of uid ${segment.uid}, gid ${segment.gid}, mode within 0${bellsMode(segment.mode).toString(8)}`,
      `${stat.isDirectory() ? 'a directory' : 'not a directory'} of uid ${stat.uid}, gid ${stat.gid}, mode 0${(stat.mode & 0o777).toString(8)}`,
      {
        message:
          `${url}: ${directory} is not the ring's own doorbell directory (expected a directory of the segment's ` +
          `owner ${segment.uid}:${segment.gid} granting at most 0${bellsMode(segment.mode).toString(8)}; found ` +
          `uid ${stat.uid}, gid ${stat.gid}, mode 0${(stat.mode & 0o777).toString(8)}${stat.isDirectory() ? '' : ', not a directory'}); ` +
          'it is not used. Someone else may have planted it: remove it, or chmod it like the segment',
      },
    );
  }
}

/** Creates a ring's doorbell directory, owner-only first, then with the exact mode (umask ignored). */
function makeBellDirectory(ringId: bigint, mode: number): void {
  const directory = bellDirectory(ringId);
  mkdirSync(directory, { mode: 0o700 });
  // setgid when the group is granted: sockets made in it get the ring's group, not their binder's.
  chmodSync(directory, bellsMode(mode) | (mode & 0o020 ? 0o2000 : 0));
}

/** Removes a ring's doorbell directory with the sockets in it (those of `keep` entries excepted). */
function removeBellDirectory(ringId: bigint, keep: (entry: number) => boolean = () => false): void {
  const directory = bellDirectory(ringId);
  for (let e = 0; e < HANDLES; e++) if (!keep(e)) libc.unlink(`${directory}/${e}`);
  try {
    rmdirSync(directory);
  } catch {
    // Not empty: a live handle's socket is still there; the last one to close removes the directory.
  }
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
  const dataOffset = dataOffsetFor(slots);
  const length = dataOffset + slots * codec.size;
  try {
    check(libc.fchmod(fd, mode), 'fchmod', name);
    check(libc.ftruncate(fd, length), 'ftruncate', name);
    const segment = new Segment(fd, length, name);
    const { view } = segment;
    // ftruncate zero-fills: counters, sleeper masks, registry and statistics start at 0.
    view.setUint32(OFF_VERSION, VERSION, true);
    view.setUint32(OFF_MSG_SIZE, codec.size, true);
    view.setUint32(OFF_SLOTS, slots, true);
    view.setUint32(OFF_CAPACITY, capacity, true);
    view.setInt32(OFF_CREATOR_PID, process.pid, true);
    view.setUint32(OFF_MAX_HANDLES, HANDLES, true);
    const ringId = randomId();
    view.setBigUint64(OFF_RING_ID, ringId, true);
    view.setUint32(OFF_SEQ, SEQ_OFFSET, true);
    view.setUint32(OFF_DATA, dataOffset, true);
    view.setBigUint64(OFF_TOTAL_SIZE, BigInt(length), true);
    const fingerprint = new TextEncoder().encode(codec.fingerprint).subarray(0, FINGERPRINT_MAX - 1);
    segment.u8.set(fingerprint, OFF_FINGERPRINT);
    for (let i = 0; i < slots; i++) segment.i32[(SEQ_OFFSET >> 2) + i] = i;
    // The doorbell directory exists before the ring is visible under its name.
    makeBellDirectory(ringId, mode);
    Atomics.store(segment.i64, 0, MAGIC);
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
    if (before.ino !== now.ino || before.size < SEQ_OFFSET) return true;
    const segment = new Segment(fd, before.size, name);
    const unused = segment.unused();
    const oldId = segment.view.getBigUint64(OFF_RING_ID, true);
    segment.unmap();
    if (!unused) return false;
    const { temporary, ringId } = buildSegment(name, codec, capacity, mode);
    if (libc.rename(temporary, shmPath(name)) !== 0) {
      const errno = libc.errno();
      libc.unlink(temporary);
      removeBellDirectory(ringId);
      throw systemError(errno, 'rename', name);
    }
    // Only a ring of this protocol has a doorbell directory to remove; a foreign segment is never replaced.
    removeBellDirectory(oldId);
    return true;
  } finally {
    libc.close(fd);
  }
}

function validateOptions(address: Address, codec: MessageCodec<unknown>, options: OpenOptions) {
  if (address.scheme !== 'shm') throw new UnsupportedError(`${address.url}: not a shared-memory ring`);
  const { name } = address;
  if (name.length < 2 || name.length > 200 || name.indexOf('/', 1) >= 0) {
    throw new ValidationError('url', 'shm:/name with one leading slash, no other, at most 200 bytes', name);
  }
  if (!codec.fixedSize) {
    throw new UnsupportedError(
      `${address.url}: shm rings carry fixed-size messages; codec '${codec.name}' is variable-size (use a struct codec, or a socket or message queue)`,
    );
  }
  if (!Number.isInteger(codec.size) || codec.size < 1 || codec.size > MAX_MSG_SIZE) {
    throw new ValidationError('codec.size', `1..${MAX_MSG_SIZE} bytes for a ring slot`, String(codec.size));
  }
  const capacity = options.capacity ?? DEFAULT_CAPACITY;
  if (!Number.isInteger(capacity) || capacity < 1 || capacity > MAX_CAPACITY) {
    throw new ValidationError('capacity', `an integer in [1, ${MAX_CAPACITY}] (messages)`, String(capacity));
  }
  const mode = options.mode ?? 0o600;
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o777) {
    throw new ValidationError('mode', 'permission bits in [0, 0o777]', String(mode));
  }
  return { name, capacity, mode };
}

/** Opens (and with `create`, creates or recovers) a ring and attaches a channel to it. */
async function openRing<T>(address: Address, codec: MessageCodec<T>, options: OpenOptions): Promise<RingChannel<T>> {
  const { name, capacity, mode } = validateOptions(address, codec, options);
  const url = address.url;
  let swept = false;
  // `exclusive` must create the segment itself; once it did, the loop opens what it created.
  let exclusive = options.create === true && options.exclusive === true;
  for (let attempt = 0; attempt < 200; attempt++) {
    const fd = exclusive ? -1 : libc.shmOpen(name, libc.O_RDWR | libc.O_CLOEXEC, 0);
    if (fd < 0) {
      const errno = exclusive ? errnos.ENOENT : libc.errno();
      if (errno !== errnos.ENOENT || options.create !== true) throw systemError(errno, 'shm_open', name);
      if (!swept) sweepTemporaries();
      swept = true;
      const { temporary, ringId } = buildSegment(name, codec, capacity, mode);
      const linked = libc.link(temporary, shmPath(name)) === 0 ? 0 : libc.errno();
      libc.unlink(temporary);
      if (linked !== 0) removeBellDirectory(ringId);
      if (linked !== 0 && (linked !== errnos.EEXIST || exclusive)) throw systemError(linked, 'link', name);
      exclusive = false;
      continue;
    }
    let segment: Segment;
    try {
      const { size } = fstatSync(fd);
      if (size < SEQ_OFFSET) {
        throw new ValidationError('url', 'a typed-ipc ring', `${size} bytes`, {
          message: `${url} is not a typed-ipc ring (${size} bytes, less than its header); remove it with unlink('${url}') if it is left over`,
        });
      }
      segment = new Segment(fd, size, name, true);
    } catch (error) {
      libc.close(fd);
      throw error;
    }
    const mismatch = segment.mismatch(url, codec);
    if (mismatch === undefined) return new RingChannel(url, codec, segment, options.ref !== false);
    segment.unmap();
    if (mismatch.kind === 'foreign') {
      throw new ValidationError('url', 'a typed-ipc ring', 'another kind of segment', { message: mismatch.message });
    }
    if (mismatch.kind === 'corrupt') {
      throw new ValidationError(`header.${mismatch.field}`, mismatch.expected ?? '', mismatch.value ?? '', {
        message: mismatch.message,
      });
    }
    if (options.create !== true) {
      throw new ValidationError('codec', 'the ring’s message layout', `codec '${codec.name}'`, {
        message: mismatch.message,
      });
    }
    if (!(await replaceStale(name, codec, capacity, mode))) {
      throw new ValidationError('codec', 'the ring’s message layout', `codec '${codec.name}'`, {
        message: `${mismatch.message} (it is in use by a live process, so it was not replaced)`,
      });
    }
  }
  throw systemError(errnos.EBUSY, 'open', name, 'the segment kept being replaced while opening it; try again');
}

// --- the channel -------------------------------------------------------------------------------
/** A claimed message that failed to decode, waiting for its turn to be thrown. */
class Undecodable {
  constructor(readonly error: unknown) {}
}

/** A channel on a shared-memory ring. */
export class RingChannel<T> extends FdChannel<T> {
  readonly transport = 'shm';
  readonly #segment: Segment;
  readonly #u8: Uint8Array;
  readonly #i32: Int32Array;
  readonly #i64: BigUint64Array;
  readonly #size: number;
  readonly #slots: number; // a power of two
  readonly #capacity: number; // messages held before producers wait; <= slots
  readonly #mask: number;
  readonly #seq: number; // int32 index of seq[0]
  readonly #data: number; // byte offset of slot 0
  readonly #entry: number;
  readonly #entryBase: number; // int32 index of this handle's registry entry
  readonly #bell: number;
  readonly #bells: Uint8Array[] = [];
  readonly #ringId: bigint;
  readonly #one = new Uint8Array(1);
  readonly #drain = new Uint8Array(64);
  /** Messages claimed after one that failed to decode, and that failure, in ring order: served first. */
  readonly #stash: (Message<T> | Undecodable)[] = [];
  /** Pending waits of this channel for a message ([0]) and for room ([1]). */
  readonly #sleepers = [0, 0];
  #nextRecovery = 0;
  /** Set when the segment was found truncated: the mapping must not be touched again. */
  #truncated = false;

  constructor(url: string, codec: MessageCodec<T>, segment: Segment, ref: boolean) {
    const bell = check(
      libc.socket(libc.AF_UNIX, libc.SOCK_DGRAM | libc.SOCK_NONBLOCK | libc.SOCK_CLOEXEC, 0),
      'socket',
      url,
    );
    let entry: number;
    try {
      entry = RingChannel.#register(segment, bell, url);
    } catch (error) {
      libc.close(bell);
      segment.unmap();
      throw error;
    }
    super(url, codec, bell, { ref });
    this.#segment = segment;
    this.#u8 = segment.u8;
    this.#i32 = segment.i32;
    this.#i64 = segment.i64;
    this.#size = segment.u32(OFF_MSG_SIZE);
    this.#slots = segment.u32(OFF_SLOTS);
    this.#capacity = segment.u32(OFF_CAPACITY);
    this.#mask = this.#slots - 1;
    this.#seq = segment.u32(OFF_SEQ) >> 2;
    this.#data = segment.u32(OFF_DATA);
    this.#ringId = segment.view.getBigUint64(OFF_RING_ID, true);
    this.#bell = bell;
    this.#entry = entry;
    this.#entryBase = (OFF_REGISTRY + entry * ENTRY_SIZE) >> 2;
    // The ring's readiness is its memory; the doorbell descriptor only wakes a sleeping wait.
    this.useWaits({ readable: (wait) => this.#waitReadable(wait), writable: (wait) => this.#waitWritable(wait) });
  }

  /** Takes a free registry entry, or one left by a dead process, and binds its doorbell. */
  static #register(segment: Segment, bell: number, url: string): number {
    const { i32, view } = segment;
    const ringId = view.getBigUint64(OFF_RING_ID, true);
    const owner = fstatSync(segment.fd);
    const directory = bellDirectory(ringId);
    checkBellDirectory(url, directory, { uid: owner.uid, gid: owner.gid, mode: owner.mode & 0o777 });
    selfStart ??= startTime(process.pid);
    for (let e = 0; e < HANDLES; e++) {
      const base = OFF_REGISTRY + e * ENTRY_SIZE;
      const seen = Atomics.load(i32, (base + E_PID) >> 2);
      if (seen !== 0) {
        const start =
          view.getUint32(base + E_START_TIME, true) + view.getUint32(base + E_START_TIME + 4, true) * TWO_32;
        if (alive(seen, start)) continue;
      }
      if (Atomics.compareExchange(i32, (base + E_PID) >> 2, seen, process.pid) !== seen) continue;
      // The entry is ours: a socket file left there by its dead owner goes (a forked child of that
      // owner may still hold the socket; it is no handle and gets no more rings).
      const path = `${directory}/${e}`;
      libc.unlink(path);
      const address = bellAddress(ringId, e);
      const bound = libc.bind(bell, address, address.length) === 0 ? 0 : libc.errno();
      if (bound === 0) {
        try {
          // Peers of other uids the segment grants must be able to ring it; the directory keeps out the rest.
          chmodSync(path, bellsMode(owner.mode) & 0o666);
        } catch {
          libc.unlink(path);
        }
      }
      if (bound !== 0 || !existsSync(path)) {
        Atomics.store(i32, (base + E_PID) >> 2, seen);
        if (bound === errnos.EADDRINUSE) continue; // another opener's socket appeared meanwhile
        throw systemError(
          bound || errnos.EACCES,
          'bind',
          path,
          `${url}: this process may not create its doorbell in ${directory}; the ring's owner grants its ` +
            'doorbells like its segment (write access to the segment gives access to the directory)',
        );
      }
      // The dead owner's intents are cleared before the start time marks the entry as ours.
      Atomics.store(i32, (base + E_PROD_COUNT) >> 2, 0);
      Atomics.store(i32, (base + E_CONS_COUNT) >> 2, 0);
      Atomics.store(i32, (base + E_START_TIME) >> 2, selfStart % TWO_32);
      Atomics.store(i32, (base + E_START_TIME + 4) >> 2, Math.floor(selfStart / TWO_32));
      return e;
    }
    throw systemError(
      errnos.EUSERS,
      'open',
      url,
      `all ${HANDLES} handles of the ring are held by live processes; close some channels on it`,
    );
  }

  // --- producing -------------------------------------------------------------------------------
  /**
   * Claims up to `n` free slots at the tail, copies `n` messages from `source` (starting at message
   * `first`) and publishes them. Returns how many were sent; 0 when the ring is full.
   */
  #push(source: Uint8Array, first: number, n: number): number {
    const i32 = this.#i32;
    const mask = this.#mask;
    const seq = this.#seq;
    const intent = this.#entryBase + (E_PROD_POS >> 2);
    let claimed = false;
    for (;;) {
      const tail = Atomics.load(this.#i64, OFF_TAIL >> 3);
      // Positions are 64-bit; slot words and intents need the two halves, read as int32 words after
      // the atomic load (no BigInt arithmetic per batch). Halves of a later tail than `tail` make the
      // CAS below fail (tail only grows), so a claim is only ever made with the halves of `tail`.
      const lo = i32[TAIL_LO]! >>> 0;
      const hi = i32[TAIL_HI]!;
      const room = this.#capacity < this.#slots ? Math.min(n, this.#room(lo)) : n;
      let k = 0;
      // The first seq is read atomically; the others were written before a store we have seen
      // (docs/ring-protocol.md, "Batches").
      if (room > 0 && Atomics.load(i32, seq + (lo & mask)) === (lo | 0)) {
        k = 1;
        while (k < room && i32[seq + ((lo + k) & mask)] === ((lo + k) | 0)) k++;
      }
      if (k === 0) {
        if (claimed) Atomics.store(i32, intent + 2, 0);
        return 0;
      }
      // The intent (position, count) is visible before the claim: a recoverer that sees the claim sees it.
      i32[intent] = lo | 0;
      i32[intent + 1] = hi;
      i32[intent + 2] = k;
      claimed = true;
      if (Atomics.compareExchange(this.#i64, OFF_TAIL >> 3, tail, tail + BigInt(k)) !== tail) continue;
      const size = this.#size;
      const index = lo & mask;
      const run = Math.min(k, this.#slots - index);
      const start = first * size;
      this.#u8.set(source.subarray(start, start + run * size), this.#data + index * size);
      if (run < k) this.#u8.set(source.subarray(start + run * size, start + k * size), this.#data);
      for (let j = 1; j < k; j++) i32[seq + ((lo + j) & mask)] = (lo + j + 1) | 0;
      // One seq_cst store publishes the whole batch.
      Atomics.store(i32, seq + index, (lo + 1) | 0);
      this.#ringBells(OFF_CONSUMERS_WAITING);
      return k;
    }
  }

  protected writeRecords(out: Outgoing): number {
    // Every record is #size bytes (fixed-size codecs only), so record i is at i * #size.
    return this.#push(out.bytes, out.sent, out.count - out.sent);
  }

  // --- consuming -------------------------------------------------------------------------------
  /** Claims up to `max` published slots at the head, decodes them and releases them. */
  #pop(max: number, out: Message<T>[]): Message<T>[] {
    const i32 = this.#i32;
    const mask = this.#mask;
    const seq = this.#seq;
    const intent = this.#entryBase + (E_CONS_POS >> 2);
    let claimed = false;
    for (;;) {
      const head = Atomics.load(this.#i64, OFF_HEAD >> 3);
      // As in #push: the halves of a later head only lead to a failing CAS.
      const lo = i32[HEAD_LO]! >>> 0;
      const hi = i32[HEAD_HI]!;
      let k = 0;
      let s = Atomics.load(i32, seq + (lo & mask));
      if (s === ((lo + 1) | 0) || s === ((lo + 1) ^ SKIP)) {
        k = 1;
        while (k < max) {
          s = i32[seq + ((lo + k) & mask)]!;
          const published = (lo + k + 1) | 0;
          if (s !== published && s !== (published ^ SKIP)) break;
          k++;
        }
      }
      if (k === 0) {
        if (claimed) Atomics.store(i32, intent + 2, 0);
        return out;
      }
      i32[intent] = lo | 0;
      i32[intent + 1] = hi;
      i32[intent + 2] = k;
      claimed = true;
      if (Atomics.compareExchange(this.#i64, OFF_HEAD >> 3, head, head + BigInt(k)) !== head) continue;
      const { codec } = this;
      const size = this.#size;
      const data = this.#data;
      const u8 = this.#u8;
      const slots = this.#slots;
      const stash = this.#stash;
      for (let j = 0; j < k; j++) {
        const index = (lo + j) & mask;
        if (i32[seq + index] !== ((lo + j + 1) | 0)) continue; // a skip left by recovery
        try {
          const message = { value: codec.decode(u8, data + index * size), priority: 0 };
          if (stash.length === 0) out.push(message);
          else stash.push(message);
        } catch (error) {
          // Consumed either way: the failure is thrown after the messages before it, and before those after it.
          stash.push(new Undecodable(error));
        }
      }
      for (let j = 1; j < k; j++) i32[seq + ((lo + j) & mask)] = (lo + j + slots) | 0;
      Atomics.store(i32, seq + (lo & mask), (lo + slots) | 0);
      this.#ringBells(OFF_PRODUCERS_WAITING);
      if (out.length > 0 || stash.length > 0) return out;
    }
  }

  /** Up to `max` messages: stashed ones first (throwing a stashed decode failure in its turn), then the ring's. */
  #take(max: number): Message<T>[] {
    const stash = this.#stash;
    if (stash.length === 0) {
      const out = this.#pop(max, []);
      if (out.length > 0 || stash.length === 0) return out;
    }
    const first = stash[0];
    if (first instanceof Undecodable) {
      stash.shift();
      throw first.error;
    }
    let n = 0;
    while (n < max && n < stash.length && !(stash[n] instanceof Undecodable)) n++;
    return stash.splice(0, n) as Message<T>[];
  }

  protected readRecords(max: number, into: Received<T>[]): void {
    for (const message of this.#take(max)) into.push(message);
  }

  // --- waiting ---------------------------------------------------------------------------------
  #readable(): boolean {
    const h = Atomics.load(this.#i32, HEAD_LO) >>> 0;
    const s = Atomics.load(this.#i32, this.#seq + (h & this.#mask));
    return s === ((h + 1) | 0) || s === ((h + 1) ^ SKIP);
  }

  #writable(): boolean {
    const t = Atomics.load(this.#i32, TAIL_LO) >>> 0;
    if (this.#capacity < this.#slots && this.#room(t) === 0) return false;
    return Atomics.load(this.#i32, this.#seq + (t & this.#mask)) === (t | 0);
  }

  /**
   * Messages that fit before `capacity` is reached, for a ring with fewer messages than slots.
   * `tailLo` is the tail's low half: tail - head is below 2^31 (at most the capacity, or negative
   * for a stale tail), so the int32 difference of the low halves is exact.
   */
  #room(tailLo: number): number {
    const used = (tailLo - Atomics.load(this.#i32, HEAD_LO)) | 0;
    return used >= this.#capacity ? 0 : this.#capacity - Math.max(0, used);
  }

  /** Sends a doorbell datagram to every sleeper registered in the mask at `offset`, clearing it. */
  #ringBells(offset: number): void {
    const i32 = this.#i32;
    for (let w = 0; w < 2; w++) {
      const word = (offset >> 2) + w;
      if (Atomics.load(i32, word) === 0) continue;
      let bits = Atomics.exchange(i32, word, 0);
      while (bits !== 0) {
        const bit = 31 - Math.clz32(bits & -bits);
        bits &= bits - 1;
        const entry = w * 32 + bit;
        this.#bells[entry] ??= bellAddress(this.#ringId, entry);
        const address = this.#bells[entry];
        // EAGAIN (a ring is already queued) and ECONNREFUSED (the sleeper left) need nothing.
        libc.sendto(this.#bell, this.#one, 1, libc.MSG_DONTWAIT | libc.MSG_NOSIGNAL, address, address.length);
      }
    }
  }

  /** Whether `alive` holds for a registry entry whose intent (at `field`) covers `position`. */
  #liveIntentCovers(field: number, position: bigint): boolean {
    const view = this.#segment.view;
    for (let e = 0; e < HANDLES; e++) {
      const base = OFF_REGISTRY + e * ENTRY_SIZE;
      const pid = Atomics.load(this.#i32, (base + E_PID) >> 2);
      if (pid === 0) continue;
      const count = Atomics.load(this.#i32, (base + field + 8) >> 2);
      const start = view.getBigUint64(base + field, true);
      if (count === 0 || position < start || position - start >= BigInt(count)) continue;
      const started =
        view.getUint32(base + E_START_TIME, true) + view.getUint32(base + E_START_TIME + 4, true) * TWO_32;
      if (alive(pid, started)) return true;
    }
    return false;
  }

  /**
   * The head slot was claimed by a producer that has not published it. Returns 'recovered' when its
   * owner was dead and the slot became a skip, 'stuck' while its owner lives, 'idle' otherwise.
   */
  #recoverProducer(): 'recovered' | 'stuck' | 'idle' {
    const position = Atomics.load(this.#i64, OFF_HEAD >> 3);
    const head = Number(position & LOW_32);
    const index = this.#seq + (head & this.#mask);
    if (Atomics.load(this.#i32, index) !== (head | 0)) return 'idle';
    if (Atomics.load(this.#i64, OFF_TAIL >> 3) <= position) return 'idle';
    if (performance.now() < this.#nextRecovery) return 'stuck';
    this.#nextRecovery = performance.now() + RECOVERY_MS;
    if (this.#liveIntentCovers(E_PROD_POS, position)) return 'stuck';
    if (Atomics.compareExchange(this.#i32, index, head | 0, (head + 1) ^ SKIP) !== (head | 0)) return 'recovered';
    Atomics.add(this.#i64, OFF_RECOVERED >> 3, 1n);
    this.#ringBells(OFF_CONSUMERS_WAITING);
    return 'recovered';
  }

  /** The tail slot still holds a message claimed by a consumer that has not released it. */
  #recoverConsumer(): 'recovered' | 'stuck' | 'idle' {
    const position = Atomics.load(this.#i64, OFF_TAIL >> 3);
    if (position < BigInt(this.#slots)) return 'idle';
    const held = position - BigInt(this.#slots);
    const tail = Number(position & LOW_32);
    const previous = Number(held & LOW_32);
    const index = this.#seq + (tail & this.#mask);
    const s = Atomics.load(this.#i32, index);
    if (s !== ((previous + 1) | 0) && s !== ((previous + 1) ^ SKIP)) return 'idle';
    if (Atomics.load(this.#i64, OFF_HEAD >> 3) <= held) return 'idle';
    if (performance.now() < this.#nextRecovery) return 'stuck';
    this.#nextRecovery = performance.now() + RECOVERY_MS;
    if (this.#liveIntentCovers(E_CONS_POS, held)) return 'stuck';
    if (Atomics.compareExchange(this.#i32, index, s, tail | 0) !== s) return 'recovered';
    Atomics.add(this.#i64, OFF_ABANDONED >> 3, 1n);
    this.#ringBells(OFF_PRODUCERS_WAITING);
    return 'recovered';
  }

  #waitReadable(options: WaitOptions): Promise<void> {
    return this.#sleep(
      OFF_CONSUMERS_WAITING,
      () => this.#readable(),
      () => this.#recoverProducer(),
      SIZE_RECHECK_MS,
      options,
    );
  }

  #waitWritable(options: WaitOptions): Promise<void> {
    const recover = (): 'recovered' | 'stuck' | 'idle' => this.#recoverConsumer();
    return this.#sleep(OFF_PRODUCERS_WAITING, () => this.#writable(), recover, FULL_RECHECK_MS, options);
  }

  /**
   * Spins briefly, then registers in the sleeper mask and waits on the doorbell. `idleRecheck`
   * (0: none) bounds the wait when nothing looks stuck; a stuck slot is rechecked every RECOVERY_MS.
   */
  async #sleep(
    mask: number,
    ready: () => boolean,
    recover: () => 'recovered' | 'stuck' | 'idle',
    idleRecheck: number,
    options: WaitOptions,
  ): Promise<void> {
    for (let i = 0; i < SPIN; i++) if (ready()) return;
    const state = recover();
    if (state === 'recovered') return;
    const word = (mask >> 2) + (this.#entry >> 5);
    const bit = 1 << (this.#entry & 31);
    const side = mask === OFF_CONSUMERS_WAITING ? 0 : 1;
    // Drain stale rings so the wait below ends only for a new one, but only when no other wait of
    // this channel is pending: a ring meant for it may not have reached its poll callback yet.
    if (!this.watch.waiting) {
      while (libc.recv(this.#bell, this.#drain, this.#drain.length, libc.MSG_DONTWAIT) > 0) {}
    }
    this.#sleepers[side]! += 1;
    Atomics.or(this.#i32, word, bit);
    try {
      // Dekker with the waker: it stores (publish/release) then loads the mask; we set the bit and
      // look at the ring again, both seq_cst, so one of us sees the other.
      if (ready()) return;
      const recheck = state === 'stuck' ? RECOVERY_MS : idleRecheck;
      const deadline = options.deadline ?? Number.POSITIVE_INFINITY;
      const internal = recheck > 0 && performance.now() + recheck < deadline;
      try {
        await this.watch.readable(internal ? { ...options, deadline: performance.now() + recheck } : options);
      } catch (error) {
        // A timeout (the caller's or ours) looks at the segment too before anything touches it.
        this.#assertIntact();
        if (!(internal && error instanceof TimeoutError)) throw error;
      }
      this.#assertIntact();
    } finally {
      // The bit is shared by this channel's waits on one side: the last one out clears it. After
      // close() the mapping is gone: touch it only while open.
      this.#sleepers[side]! -= 1;
      if (this.#sleepers[side] === 0 && !this.closed) Atomics.and(this.#i32, word, ~bit);
    }
  }

  /**
   * Fails, and closes the channel without touching the mapping again, when the segment's file was
   * truncated below the mapping: an access past its new end would kill the process with SIGBUS.
   * Called on every wake-up and timeout, before the ring is looked at (docs/ring-protocol.md, "Trust model").
   */
  #assertIntact(): void {
    if (this.closed) return;
    const size = this.#segment.shrunk();
    if (size === undefined) return;
    this.#truncated = true;
    const error = new ChannelClosedError(
      `${this.url}: the segment was truncated to ${size} bytes under this channel (the ring is ` +
        `${this.#segment.length}); whoever can write /dev/shm${this.url.slice(4)} did it. The channel is closed ` +
        'without touching the ring again; recreate the ring (unlink, then open with create)',
    );
    // destroy, not close: a graceful close would keep pending sends retrying against the shrunk mapping.
    this.destroy(error);
    throw error;
  }

  // --- lifecycle -------------------------------------------------------------------------------
  /** Removes this handle's doorbell file, and the directory once the ring is unlinked and this was the last. */
  #removeBell(): void {
    const directory = bellDirectory(this.#ringId);
    libc.unlink(`${directory}/${this.#entry}`);
    if (fstatSync(this.#segment.fd).nlink !== 0) return;
    // Unlinked ring: the sockets of dead handles go too (nobody will take their entries again), and
    // the directory with them unless a live handle remains. A truncated registry cannot be read.
    if (this.#truncated) removeBellDirectory(this.#ringId, () => true);
    else removeBellDirectory(this.#ringId, (e) => this.#segment.live(e));
  }

  protected closeResources(): void {
    if (this.#truncated) {
      // The registry entry and masks went with the truncated pages: nothing to clear, and touching them would fault.
      this.#removeBell();
      libc.close(this.#bell);
      this.#segment.unmap();
      return;
    }
    const i32 = this.#i32;
    const bit = 1 << (this.#entry & 31);
    // The doorbell file goes before the entry is freed: afterwards it may be the next owner's.
    this.#removeBell();
    Atomics.and(i32, (OFF_CONSUMERS_WAITING >> 2) + (this.#entry >> 5), ~bit);
    Atomics.and(i32, (OFF_PRODUCERS_WAITING >> 2) + (this.#entry >> 5), ~bit);
    Atomics.store(i32, this.#entryBase + (E_PROD_COUNT >> 2), 0);
    Atomics.store(i32, this.#entryBase + (E_CONS_COUNT >> 2), 0);
    Atomics.store(i32, this.#entryBase + (E_PID >> 2), 0);
    libc.close(this.#bell);
    this.#segment.unmap();
  }

  info(): ChannelInfo {
    this.assertOpen();
    const segment = this.#segment;
    const head = Atomics.load(this.#i64, OFF_HEAD >> 3);
    const tail = Atomics.load(this.#i64, OFF_TAIL >> 3);
    return {
      url: this.url,
      transport: this.transport,
      messageSize: this.#size,
      capacity: this.#capacity,
      pending: Number(tail > head ? tail - head : 0n),
      fingerprint: segment.fingerprint(),
      creatorPid: segment.view.getInt32(OFF_CREATOR_PID, true),
      handle: this.#entry,
      recovered: Number(Atomics.load(this.#i64, OFF_RECOVERED >> 3)),
      abandoned: Number(Atomics.load(this.#i64, OFF_ABANDONED >> 3)),
      slots: this.#slots,
      bytes: segment.length,
    };
  }
}

/** The ring id and the live entries of the ring in `path`, read from the file (not mapped); undefined if not a ring. */
function readRegistry(path: string): { ringId: bigint; live: (entry: number) => boolean } | undefined {
  const header = Buffer.alloc(SEQ_OFFSET);
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    if (readSync(fd, header, 0, SEQ_OFFSET, 0) < SEQ_OFFSET) return undefined;
  } finally {
    closeSync(fd);
  }
  if (header.readBigUInt64LE(0) !== MAGIC || header.readUInt32LE(OFF_VERSION) !== VERSION) return undefined;
  const live = (e: number): boolean => {
    const base = OFF_REGISTRY + e * ENTRY_SIZE;
    const start = Number(header.readBigUInt64LE(base + E_START_TIME));
    return alive(header.readInt32LE(base + E_PID), start);
  };
  return { ringId: header.readBigUInt64LE(OFF_RING_ID), live };
}

async function unlinkRing(address: Address): Promise<void> {
  if (address.scheme !== 'shm') throw new UnsupportedError(`${address.url}: not a shared-memory ring`);
  const registry = readRegistry(shmPath(address.name));
  check(libc.shmUnlink(address.name), 'shm_unlink', address.name);
  // Sockets of live handles stay (they keep working until closed; the last to close removes the directory).
  if (registry !== undefined) removeBellDirectory(registry.ringId, registry.live);
}

/** The `shm:` transport: open (create, attach, recover) and unlink. */
export const transports: Partial<Record<string, Transport>> = {
  shm: { open: openRing, unlink: unlinkRing },
};
