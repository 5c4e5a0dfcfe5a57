/**
 * Schemas used by the channel tests and benches: the measurement sample (`struct sample { uint16_t
 * channel; uint64_t timestamp; double value; }`, 24 bytes on x86_64; the C peers in test/c/ declare
 * the same struct) and raw blobs of any size.
 */
import { bytes, f64, type Infer, struct, u16, u64 } from '../../src/codecs/index.js';

/** The measurement sample. */
export const Sample = struct('sample', { channel: u16, timestamp: u64, value: f64 });
/** One sample as Node sees it. */
export type Sample = Infer<typeof Sample>;

/** `struct blob<size> { uint8_t data[size]; }`, for tests about sizes. */
export function blob(size: number) {
  return struct(`blob${size}`, { data: bytes(size) });
}
