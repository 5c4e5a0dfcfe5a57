/**
 * The measurement sample used by the ring tests and C peers: `struct sample { uint16_t channel;
 * uint64_t timestamp; double value; }` (24 bytes, timestamp at 8, value at 16), plus a `producer`
 * tag folded into `channel` so consumers can check FIFO per producer.
 */
import type { MessageCodec } from '../../src/codecs/codec.js';
import { DecodeError, ValidationError } from '../../src/errors.js';

/** One sample. */
export interface Sample {
  channel: number;
  timestamp: bigint;
  value: number;
}

/** A hand-written codec for `Sample` with GCC's x86_64 layout (until the codecs' struct() is used here). */
export function sampleCodec(fingerprint = 'sample-v1'): MessageCodec<Sample> {
  const check = (value: Sample): Sample => {
    if (!Number.isInteger(value.channel) || value.channel < 0 || value.channel > 0xffff) {
      throw new ValidationError('sample.channel', 'u16 (0..65535)', String(value.channel));
    }
    if (typeof value.timestamp !== 'bigint' || value.timestamp < 0n || value.timestamp >= 1n << 64n) {
      throw new ValidationError('sample.timestamp', 'u64 bigint', String(value.timestamp));
    }
    if (typeof value.value !== 'number') throw new ValidationError('sample.value', 'f64', String(value.value));
    return value;
  };
  return {
    name: 'sample',
    fixedSize: true,
    size: 24,
    fingerprint,
    validate: (value) => check(value as Sample),
    encode(value) {
      const bytes = new Uint8Array(24);
      this.encodeInto(value, bytes, 0);
      return bytes;
    },
    encodeInto(value, target, offset = 0) {
      check(value);
      const view = new DataView(target.buffer, target.byteOffset, target.byteLength);
      view.setUint16(offset, value.channel, true);
      view.setUint16(offset + 2, 0, true);
      view.setUint32(offset + 4, 0, true);
      view.setBigUint64(offset + 8, value.timestamp, true);
      view.setFloat64(offset + 16, value.value, true);
      return 24;
    },
    decode(bytes, offset) {
      if (offset === undefined && bytes.length !== 24)
        throw new DecodeError('sample', `expected 24 bytes, got ${bytes.length}`);
      const at = offset ?? 0;
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      return {
        channel: view.getUint16(at, true),
        timestamp: view.getBigUint64(at + 8, true),
        value: view.getFloat64(at + 16, true),
      };
    },
  };
}
