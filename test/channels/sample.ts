/**
 * The measurement sample used by the socket tests and bench: `struct sample { uint16_t channel;
 * uint64_t timestamp; double value; }` (24 bytes; test/c/socket_peer.c declares the same struct).
 */
import { f64, type Infer, struct, u16, u64 } from '../../src/codecs/index.js';

/** The sample codec. */
export const Sample = struct('sample', { channel: u16, timestamp: u64, value: f64 });
/** One sample as Node sees it. */
export type Sample = Infer<typeof Sample>;
