/**
 * The header fields of a shared-memory ring that `ls` and `stat` show, read from the segment's file
 * under /dev/shm without mapping or joining the ring: the ring's own reader (its layout descriptor
 * knows the offsets), plus whether the creator still runs.
 */
import { type RingHeader as Header, readRingHeader as readHeader } from '../channels/index.js';

/** What a ring's header says, and whether its creator still runs. */
export interface RingHeader extends Header {
  /** Whether the creating process still exists. */
  readonly creatorAlive: boolean;
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
  const header = readHeader(path);
  if (header === undefined) return undefined;
  return { ...header, creatorAlive: header.creatorPid > 0 && processAlive(header.creatorPid) };
}
