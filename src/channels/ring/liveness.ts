/**
 * Who is alive: processes named by (pid, start time), and registries of handles in shared memory whose
 * entries such a pair marks as taken (docs/ring-protocol.md, "Handles and the registry"). Any segment
 * with a registry of this shape (the ring's, a pub/sub segment's) uses these; a layout says where its
 * entries are.
 */
import { readFileSync } from 'node:fs';
import { errnos, libc, systemError } from '../../native/index.js';

/** Start time of a process in clock ticks since boot (/proc/<pid>/stat field 22); 0 if unknown. */
export function startTime(pid: number): number {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return 0;
  }
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[19] ?? 0);
}

let ownStart: number | undefined;

/** This process's start time (read once). */
export function ownStartTime(): number {
  ownStart ??= startTime(process.pid);
  return ownStart;
}

/** Whether `pid`, registered with `start`, still runs (a different start time means pid reuse). */
export function alive(pid: number, start: number): boolean {
  if (pid <= 0) return false;
  if (libc.kill(pid, 0) !== 0 && libc.errno() === errnos.ESRCH) return false;
  const now = startTime(pid);
  return now === 0 || now === start;
}

/** Where a registry lives in a segment: `count` entries of `entrySize` bytes from `offset`, each with a u32 pid and a u64 start time. */
export interface RegistryLayout {
  readonly offset: number;
  readonly count: number;
  readonly entrySize: number;
  /** Offsets within an entry. */
  readonly pid: number;
  readonly startTime: number;
  /** Offsets within an entry of u32 words a new owner zeroes before its start time marks the entry as its own. */
  readonly clear: readonly number[];
}

/** The mapped words a registry is read through (views over the whole segment from byte 0). */
export interface RegistryMemory {
  readonly i32: Int32Array;
  readonly i64: BigUint64Array;
}

/** Byte offset of entry `e`. */
export const entryOffset = (layout: RegistryLayout, e: number): number => layout.offset + e * layout.entrySize;

/** Whether a live process holds entry `e` (its pid and its 64-bit start time are read atomically). */
export function entryLive(memory: RegistryMemory, layout: RegistryLayout, e: number): boolean {
  const base = entryOffset(layout, e);
  const pid = Atomics.load(memory.i32, (base + layout.pid) >> 2);
  return pid !== 0 && alive(pid, Number(Atomics.load(memory.i64, (base + layout.startTime) >> 3)));
}

/** Whether no live process holds an entry. */
export function registryUnused(memory: RegistryMemory, layout: RegistryLayout): boolean {
  for (let e = 0; e < layout.count; e++) if (entryLive(memory, layout, e)) return false;
  return true;
}

/**
 * Takes a free entry, or one whose process died: CAS of its pid from what was seen to ours, then
 * `adopt(e)` (bind what the entry names; 'retry' gives it back and tries the next, throwing gives it
 * back and fails), then the entry's `clear` words are zeroed and the start time is stored last, as
 * one 64-bit atomic. Returns the entry, or -1 when every entry belongs to a live process.
 */
export function claimEntry(
  memory: RegistryMemory,
  layout: RegistryLayout,
  adopt: (e: number) => 'taken' | 'retry',
): number {
  const { i32, i64 } = memory;
  for (let e = 0; e < layout.count; e++) {
    const base = entryOffset(layout, e);
    const pidWord = (base + layout.pid) >> 2;
    const seen = Atomics.load(i32, pidWord);
    if (seen !== 0 && alive(seen, Number(Atomics.load(i64, (base + layout.startTime) >> 3)))) continue;
    if (Atomics.compareExchange(i32, pidWord, seen, process.pid) !== seen) continue;
    let outcome: 'taken' | 'retry';
    try {
      outcome = adopt(e);
    } catch (error) {
      Atomics.store(i32, pidWord, seen);
      throw error;
    }
    if (outcome === 'retry') {
      Atomics.store(i32, pidWord, seen);
      continue;
    }
    // The dead owner's words are cleared before the start time marks the entry as ours.
    for (const offset of layout.clear) Atomics.store(i32, (base + offset) >> 2, 0);
    Atomics.store(i64, (base + layout.startTime) >> 3, BigInt(ownStartTime()));
    return e;
  }
  return -1;
}

/** Tries of the registry lock (1 ms apart) before an open gives up: a claim holds it for microseconds. */
const LOCK_TRIES = 5000;

/**
 * Runs `claim` (a claimEntry) holding flock(LOCK_EX) on the segment's descriptor. Two openers that
 * claimed entries at once could both take one entry: the second sees the first's pid before its start
 * time is stored, and judges it dead. Every opener (Node and C, ring and pub/sub) takes the lock around
 * its claim; the kernel drops it when its holder dies. Never held across a wait: tries 1 ms apart
 * (blocking, as the claim itself is synchronous), then EBUSY.
 */
export function withRegistryLock<R>(fd: number, url: string, claim: () => R): R {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let attempt = 0; libc.flock(fd, libc.LOCK_EX | libc.LOCK_NB) !== 0; attempt++) {
    if (attempt >= LOCK_TRIES) {
      throw systemError(errnos.EBUSY, 'flock', url, 'another process kept the segment locked while opening; try again');
    }
    Atomics.wait(pause, 0, 0, 1);
  }
  try {
    return claim();
  } finally {
    libc.flock(fd, libc.LOCK_UN);
  }
}
