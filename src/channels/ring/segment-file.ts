/**
 * A segment as a file in /dev/shm, what the ring and pub/sub share whatever their header says:
 * checking the name and the codec of an open, mapping a segment, building one under a temporary name
 * and publishing it with link() (nobody ever sees a half-built segment under its name), one round of
 * open-or-create, taking a registry entry with its doorbell (reading a header with read(2) is header.ts)
 * (docs/ring-protocol.md, "Creating, opening, stale segments"; docs/pubsub.md, "Creating and opening").
 * What a header holds and how it is checked stays with each kind (ring/segment.ts, pubsub/segment.ts).
 */
import { fstatSync, readdirSync } from 'node:fs';
import type { MessageCodec } from '../../codecs/codec.js';
import { UnsupportedError, ValidationError } from '../../errors.js';
import { check, errnos, libc, systemError } from '../../native/index.js';
import { checkBellDirectory, type Doorbell, makeBellDirectory, removeBellDirectory } from './doorbell.js';
import { paddedText } from './header.js';
import { alive, claimEntry, entryOffset, type RegistryLayout, withRegistryLock } from './liveness.js';

/**
 * The header fields every kind of segment has, under the same names in each layout module
 * (ring/layout.ts, pubsub/layout.ts), each at its own offset.
 */
export interface CommonLayout {
  /** The u64 at offset 0, stored last: a segment is one of its kind only once it is complete. */
  readonly MAGIC: bigint;
  readonly VERSION: number;
  /** Byte offsets of the header fields both kinds have, by their C names. */
  readonly header: {
    readonly version: number;
    readonly msg_size: number;
    readonly slots: number;
    readonly creator_pid: number;
    readonly capacity: number;
    readonly seq_offset: number;
    readonly data_offset: number;
    readonly total_size: number;
    readonly fingerprint: number;
  };
  readonly FINGERPRINT_MAX: number;
  readonly MAX_MSG_SIZE: number;
}

/** What the shared code says of one kind of segment, in its files and in its messages. */
export interface SegmentKind {
  readonly layout: CommonLayout;
  /** Byte offset of the u64 id naming the doorbell directory (the ring's `ring_id`, pub/sub's `bell_id`). */
  readonly bellIdAt: number;
  /** The URL scheme: 'shm', 'shm+pubsub'. */
  readonly scheme: string;
  /** What one segment is called in messages: 'ring', 'pub/sub segment'. */
  readonly noun: string;
  /** Why a variable-size codec is refused, after the URL: "shm rings carry fixed-size messages; codec …". */
  variableSize(codec: MessageCodec<unknown>): string;
  /** What a message must fit: 'a ring slot'. */
  readonly slot: string;
  /** Half-built segments are /dev/shm/<temporary>.<pid>.<random>: '.tipc-ring', '.tipc-pubsub'. */
  readonly temporary: string;
  /** Bytes of the header: a smaller file is not a segment of this kind. */
  readonly headerBytes: number;
}

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

/** The file of a shm name. */
export function shmPath(name: string): string {
  return `/dev/shm${name}`;
}

/** A random 64-bit id (doorbell directories, temporary names). */
export function randomId(): bigint {
  return crypto.getRandomValues(new BigUint64Array(1))[0]!;
}

/** Checks the name and the codec of an open: a shm name, and fixed-size messages that fit a slot. */
export function checkNameAndCodec(
  kind: SegmentKind,
  address: { readonly url: string; readonly name: string },
  codec: MessageCodec<unknown>,
): void {
  const { name } = address;
  if (name.length < 2 || name.length > 200 || name.indexOf('/', 1) >= 0) {
    throw new ValidationError('url', `${kind.scheme}:/name with one leading slash, no other, at most 200 bytes`, name);
  }
  if (!codec.fixedSize) throw new UnsupportedError(`${address.url}: ${kind.variableSize(codec)}`);
  const max = kind.layout.MAX_MSG_SIZE;
  if (!Number.isInteger(codec.size) || codec.size < 1 || codec.size > max) {
    throw new ValidationError('codec.size', `1..${max} bytes for ${kind.slot}`, String(codec.size));
  }
}

/** Why a mapped segment's messages are not the codec's (their size, or both fingerprints when both have one); else undefined. */
export function codecMismatch(
  kind: SegmentKind,
  segment: Segment,
  url: string,
  codec: MessageCodec<unknown>,
): string | undefined {
  const { layout } = kind;
  const size = segment.u32(layout.header.msg_size);
  const theirs = paddedText(segment.u8, layout.header.fingerprint, layout.FINGERPRINT_MAX);
  if (size === codec.size && (theirs === '' || theirs === codec.fingerprint)) return undefined;
  return (
    `${url} holds ${size}-byte messages with fingerprint ${theirs || '(none)'}, but codec '${codec.name}' ` +
    `is ${codec.size} bytes with fingerprint ${codec.fingerprint}; open it with the schema it was created ` +
    `with, or unlink('${url}') it to start afresh`
  );
}

/** Removes temporary segments of creators that died before publishing them (never visible under a name). */
function sweepTemporaries(kind: SegmentKind): void {
  const prefix = `${kind.temporary}.`;
  for (const file of readdirSync('/dev/shm')) {
    const match = file.startsWith(prefix) ? /^(\d+)\./.exec(file.slice(prefix.length)) : null;
    const pid = Number(match?.[1]);
    if (match && libc.kill(pid, 0) !== 0 && libc.errno() === errnos.ESRCH) libc.unlink(`/dev/shm/${file}`);
  }
}

/** What a new segment is: its messages, size, mode, and where its kind puts what the shared header lacks. */
export interface Shape {
  readonly codec: MessageCodec<unknown>;
  /** Messages it holds; its slots are that, rounded up to a power of two (at least 2). */
  readonly capacity: number;
  readonly mode: number;
  /** Byte offset of the slot words. */
  readonly seqOffset: number;
  /** Byte offset of the message slots for `slots` slots. */
  dataOffset(slots: number): number;
  /** The word slot `i` of `slots` starts with. */
  firstWord(i: number, slots: number): number;
  /** Writes the header fields of the kind's own (on zero-filled memory). */
  fill(view: DataView): void;
}

/**
 * Builds a complete segment under a temporary name and returns that name and its doorbell directory's
 * id; the caller publishes it with link() (fails if the name exists) or rename() (replaces a stale one).
 * The doorbell directory exists before the segment is visible under its name, and the magic is stored last.
 */
export function buildSegment(kind: SegmentKind, name: string, shape: Shape): { temporary: string; bellId: bigint } {
  const L = kind.layout;
  const temporary = `/dev/shm/${kind.temporary}.${process.pid}.${randomId().toString(16)}`;
  const { codec, capacity, mode, seqOffset } = shape;
  const fd = check(
    libc.open(temporary, libc.O_RDWR | libc.O_CREAT | libc.O_EXCL | libc.O_CLOEXEC | libc.O_NOFOLLOW, mode),
    'open',
    temporary,
  );
  const slots = Math.max(2, 2 ** Math.ceil(Math.log2(capacity)));
  const dataOffset = shape.dataOffset(slots);
  const length = dataOffset + slots * codec.size;
  try {
    check(libc.fchmod(fd, mode), 'fchmod', name);
    check(libc.ftruncate(fd, length), 'ftruncate', name);
    const segment = new Segment(fd, length, name);
    const { view } = segment;
    // ftruncate zero-fills: counters, sleeper masks, registry and statistics start at 0.
    view.setUint32(L.header.version, L.VERSION, true);
    view.setUint32(L.header.msg_size, codec.size, true);
    view.setUint32(L.header.slots, slots, true);
    view.setInt32(L.header.creator_pid, process.pid, true);
    view.setUint32(L.header.capacity, capacity, true);
    const bellId = randomId();
    view.setBigUint64(kind.bellIdAt, bellId, true);
    view.setUint32(L.header.seq_offset, seqOffset, true);
    view.setUint32(L.header.data_offset, dataOffset, true);
    view.setBigUint64(L.header.total_size, BigInt(length), true);
    shape.fill(view);
    const fingerprint = new TextEncoder().encode(codec.fingerprint).subarray(0, L.FINGERPRINT_MAX - 1);
    segment.u8.set(fingerprint, L.header.fingerprint);
    for (let i = 0; i < slots; i++) segment.i32[(seqOffset >> 2) + i] = shape.firstWord(i, slots);
    makeBellDirectory(bellId, mode);
    Atomics.store(segment.i64, 0, L.MAGIC);
    segment.unmap();
    return { temporary, bellId };
  } catch (error) {
    libc.unlink(temporary);
    throw error;
  } finally {
    libc.close(fd);
  }
}

/** What an open asks for: the name, whether it may create and must (`exclusive`), and how to build one. */
export interface OpenPlan {
  readonly name: string;
  readonly url: string;
  readonly create: boolean;
  /** Set while the open must create the segment itself; cleared once it did, so the next round opens it. */
  exclusive: boolean;
  /** Set once the temporaries of dead creators were swept. */
  swept: boolean;
  /** What the open creates when the name is absent. */
  readonly shape: Shape;
}

/**
 * One round of an open: opens the name and maps it (undefined when, with `create`, this round built
 * and published a segment, or found the name taken meanwhile: the caller goes round again). Throws the
 * open's error when the name is absent and may not be created, and a ValidationError for a file smaller
 * than a header. The caller checks the header of what it gets.
 */
export function openRound(kind: SegmentKind, plan: OpenPlan): Segment | undefined {
  const { name, url } = plan;
  const fd = plan.exclusive ? -1 : libc.shmOpen(name, libc.O_RDWR | libc.O_CLOEXEC, 0);
  if (fd < 0) {
    const errno = plan.exclusive ? errnos.ENOENT : libc.errno();
    if (errno !== errnos.ENOENT || !plan.create) throw systemError(errno, 'shm_open', name);
    if (!plan.swept) sweepTemporaries(kind);
    plan.swept = true;
    const { temporary, bellId } = buildSegment(kind, name, plan.shape);
    const linked = libc.link(temporary, shmPath(name)) === 0 ? 0 : libc.errno();
    libc.unlink(temporary);
    // Never published: its doorbell directory holds no socket yet.
    if (linked !== 0) removeBellDirectory(bellId, 0);
    if (linked !== 0 && (linked !== errnos.EEXIST || plan.exclusive)) throw systemError(linked, 'link', name);
    plan.exclusive = false;
    return undefined;
  }
  try {
    const { size } = fstatSync(fd);
    if (size < kind.headerBytes) {
      throw new ValidationError('url', `a typed-ipc ${kind.noun}`, `${size} bytes`, {
        message: `${url} is not a typed-ipc ${kind.noun} (${size} bytes, less than its header); remove it with unlink('${url}') if it is left over`,
      });
    }
    return new Segment(fd, size, name, true);
  } catch (error) {
    libc.close(fd);
    throw error;
  }
}

/**
 * Takes a free entry of `table` (or one a dead process left) after checking the doorbell directory
 * `bellId`, and binds `bell` as doorbell `bellBase + entry`; `refused(path)` says why a bind was
 * refused. Returns the entry, or -1 when live processes hold every entry.
 */
export function claimHandle(
  segment: Segment,
  table: RegistryLayout,
  bell: { readonly id: bigint; readonly base: number; readonly doorbell: Doorbell },
  url: string,
  refused: (path: string) => string,
): number {
  const owner = fstatSync(segment.fd);
  const mode = owner.mode & 0o777;
  checkBellDirectory(url, bell.id, { uid: owner.uid, gid: owner.gid, mode });
  return withRegistryLock(segment.fd, url, () =>
    claimEntry(segment, table, (e) => {
      const bound = bell.doorbell.bind(bell.base + e, mode);
      if (bound === 0) return 'taken';
      if (bound === errnos.EADDRINUSE) return 'retry'; // another opener's socket appeared meanwhile
      const path = bell.doorbell.path(bell.base + e);
      throw systemError(bound, 'bind', path, refused(path));
    }),
  );
}

/** Whether entry `e` of `table` is held by a live process, in bytes read from the segment's file (not mapped). */
export function liveInCopy(bytes: Uint8Array, table: RegistryLayout): (e: number) => boolean {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return (e) => {
    const base = entryOffset(table, e);
    return alive(view.getInt32(base + table.pid, true), Number(view.getBigUint64(base + table.startTime, true)));
  };
}

/** Removes a segment's name, then the doorbells of `bells` (read before; undefined when it was not one of ours). */
export function unlinkName(
  name: string,
  bells: { readonly id: bigint; readonly count: number; readonly live: (entry: number) => boolean } | undefined,
): void {
  check(libc.shmUnlink(name), 'shm_unlink', name);
  if (bells !== undefined) removeBellDirectory(bells.id, bells.count, bells.live);
}
