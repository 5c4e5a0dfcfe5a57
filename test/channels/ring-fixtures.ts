/**
 * Schemas shared by the ring tests, the Node peer and the bench. `Sample` is
 * `struct sample { uint16_t channel; uint64_t timestamp; double value; }` (24 bytes), the layout
 * test/c/ring_peer.c uses; peers put their producer id in `channel` and `id * 1e9 + timestamp` in
 * `value`, so a consumer can check every message for tearing and FIFO order per producer.
 */
import { f64, type Infer, struct, u16, u32, u64 } from '../../src/index.js';

/** The 24-byte measurement sample. */
export const Sample = struct('sample', { channel: u16, timestamp: u64, value: f64 });
/** A value of `Sample`. */
export type Sample = Infer<typeof Sample>;
/** Same size as `Sample`, different layout (and fingerprint). */
export const Wide = struct('wide', { channel: u32, timestamp: u64, value: f64 });
/** A smaller struct (16 bytes). */
export const Small = struct('small', { timestamp: u64, value: f64 });

/** The sample producer `id` sends as its `i`-th message. */
export function sample(id: number, i: number): Sample {
  return { channel: id, timestamp: BigInt(i), value: id * 1e9 + i };
}
