/**
 * Schemas shared by the ring tests and the Node peer. `Sample` is the channel tests' measurement
 * sample (test/channels/sample.ts), the layout test/c/ring_peer.c uses; peers put their producer id
 * in `channel` and `id * 1e9 + timestamp` in `value`, so a consumer can check every message for
 * tearing and FIFO order per producer.
 */
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { ringLayout } from '../../src/channels/ring.js';
import { f64, struct, u32, u64 } from '../../src/index.js';
import { Sample } from './sample.js';

export { Sample };

/** Same size as `Sample`, different layout (and fingerprint). */
export const Wide = struct('wide', { channel: u32, timestamp: u64, value: f64 });
/** A smaller struct (16 bytes). */
export const Small = struct('small', { timestamp: u64, value: f64 });

/** The sample producer `id` sends as its `i`-th message. */
export function sample(id: number, i: number): Sample {
  return { channel: id, timestamp: BigInt(i), value: id * 1e9 + i };
}

/**
 * Puts the ring `/dev/shm<name>` at `position`, as if `position` messages had passed through it:
 * tail = head = position, and each slot's word says it is free for its next position. Only for a
 * ring no peer has attached yet (or all have closed): it rewrites the counters under their feet.
 */
export function startRingAt(name: string, position: bigint): void {
  const { OFF_SLOTS, OFF_SEQ, OFF_TAIL, OFF_HEAD } = ringLayout;
  const fd = openSync(`/dev/shm${name}`, 'r+');
  try {
    const header = Buffer.alloc(OFF_SEQ + 4);
    readSync(fd, header, 0, header.length, 0);
    const slots = header.readUInt32LE(OFF_SLOTS);
    const seq = header.readUInt32LE(OFF_SEQ);
    const words = Buffer.alloc(4 * slots);
    for (let i = 0n; i < BigInt(slots); i++) {
      const p = position + i;
      words.writeUInt32LE(Number(p & 0xffffffffn), 4 * Number(p % BigInt(slots)));
    }
    writeSync(fd, words, 0, words.length, seq);
    const counter = Buffer.alloc(8);
    counter.writeBigUInt64LE(position);
    writeSync(fd, counter, 0, 8, OFF_TAIL);
    writeSync(fd, counter, 0, 8, OFF_HEAD);
  } finally {
    closeSync(fd);
  }
}
