/**
 * The few header fields of a shared-memory ring that `ls` and `stat` show, read from the segment's
 * file under /dev/shm without mapping or joining the ring. Offsets from docs/ring-protocol.md
 * (the layout section; include/typed_ipc_ring.h and src/channels/ring.ts hold the same numbers).
 */
import { closeSync, openSync, readSync } from 'node:fs';

const MAGIC = 'TIPCRING';
const HEADER_BYTES = 256;

/** What a ring's header says. */
export interface RingHeader {
  readonly version: number;
  readonly messageSize: number;
  readonly capacity: number;
  readonly creatorPid: number;
  /** Whether the creating process still exists. */
  readonly creatorAlive: boolean;
  readonly fingerprint: string;
  /** Messages written and not yet consumed (tail - head). */
  readonly pending: number;
}

/** Whether a process with this pid exists (signal 0 checks without sending anything). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Reads the header of the ring stored in `path`; undefined when the file is not a typed-ipc ring. */
export function readRingHeader(path: string): RingHeader | undefined {
  const bytes = Buffer.alloc(HEADER_BYTES);
  const fd = openSync(path, 'r');
  let length: number;
  try {
    length = readSync(fd, bytes, 0, HEADER_BYTES, 0);
  } finally {
    closeSync(fd);
  }
  if (length < HEADER_BYTES || bytes.toString('latin1', 0, 8) !== MAGIC) return undefined;
  const fingerprint = bytes.subarray(64, 128);
  const end = fingerprint.indexOf(0);
  const creatorPid = bytes.readInt32LE(24);
  const tail = bytes.readBigUInt64LE(128);
  const head = bytes.readBigUInt64LE(192);
  return {
    version: bytes.readUInt32LE(8),
    messageSize: bytes.readUInt32LE(16),
    // Offset 20 holds the slot count (a power of two); the capacity asked for is at 56.
    capacity: bytes.readUInt32LE(56),
    creatorPid,
    creatorAlive: creatorPid > 0 && processAlive(creatorPid),
    fingerprint: fingerprint.toString('utf8', 0, end < 0 ? fingerprint.length : end),
    pending: tail > head ? Number(tail - head) : 0,
  };
}
