/** The messages of the mq bench: the 24-byte sample, or `{ channel, timestamp, data }` filling `size` bytes. */
import { bytes, type MessageCodec, struct, u16, u64 } from '../../src/index.js';
import { Sample } from '../../test/channels/sample.js';

/** A bench message: the timestamp carries the sequence number. */
export interface BenchMessage {
  channel: number;
  timestamp: bigint;
}

/** The schema of `size`-byte bench messages (channel at 0, timestamp at 8, as the C peer writes them). */
export function benchSchema(size: number): MessageCodec<BenchMessage> {
  if (size === Sample.size) return Sample;
  return struct(`payload${size}`, { channel: u16, timestamp: u64, data: bytes(size - 16) });
}

/** A message to send with `benchSchema(size)`. */
export function benchMessage(size: number): BenchMessage {
  const message = size === Sample.size ? { value: 0.5 } : { data: new Uint8Array(size - 16) };
  return { channel: 1, timestamp: 0n, ...message };
}
