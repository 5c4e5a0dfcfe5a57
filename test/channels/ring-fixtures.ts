/**
 * Schemas shared by the ring tests and the Node peer. `Sample` is the channel tests' measurement
 * sample (test/channels/sample.ts), the layout test/c/ring_peer.c uses; peers put their producer id
 * in `channel` and `id * 1e9 + timestamp` in `value`, so a consumer can check every message for
 * tearing and FIFO order per producer.
 */
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
