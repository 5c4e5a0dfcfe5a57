/** The measurement sample: a channel number, a timestamp in nanoseconds and a value. */
import { f64, type Infer, struct, u16, u64 } from '../src/index.js';

/** `struct sample { uint16_t channel; uint64_t timestamp; double value; }`: 24 bytes, 6 of them padding. */
export const Sample = struct('sample', { channel: u16, timestamp: u64, value: f64 });
/** A measurement sample value. */
export type Sample = Infer<typeof Sample>;
