/**
 * Reading a segment's header from its file with read(2), without mapping it or joining it: what
 * `readRingHeader` (package API), `typed-ipc ls` and `stat` need. Apart from segment.ts so that
 * `import 'typed-ipc'` does not load the ring: its modules load when a `shm:` URL is first opened.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import * as L from './layout.js';

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

/** The NUL-padded text field of `max` bytes at `offset` (a header's fingerprint). */
export function paddedText(bytes: Uint8Array, offset: number, max: number): string {
  const field = bytes.subarray(offset, offset + max);
  const end = field.indexOf(0);
  return new TextDecoder().decode(end < 0 ? field : field.subarray(0, end));
}

/** The fingerprint field of a ring's header ('' when unknown). */
export const ringFingerprintOf = (bytes: Uint8Array): string =>
  paddedText(bytes, L.header.fingerprint, L.FINGERPRINT_MAX);

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
  const bytes = readHeaderBytes(path, L.header.head + 8);
  if (bytes === undefined || bytes.readBigUInt64LE(L.header.magic) !== L.MAGIC) return undefined;
  const tail = bytes.readBigUInt64LE(L.header.tail);
  const head = bytes.readBigUInt64LE(L.header.head);
  return {
    version: bytes.readUInt32LE(L.header.version),
    messageSize: bytes.readUInt32LE(L.header.msg_size),
    capacity: bytes.readUInt32LE(L.header.capacity),
    slots: bytes.readUInt32LE(L.header.slots),
    creatorPid: bytes.readInt32LE(L.header.creator_pid),
    fingerprint: ringFingerprintOf(bytes),
    pending: tail > head ? Number(tail - head) : 0,
  };
}
