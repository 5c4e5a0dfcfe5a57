/**
 * The measurement sample used by the socket tests, `struct sample { uint16_t channel; uint64_t
 * timestamp; double value; }` (24 bytes), as a MessageCodec (test/c/socket_peer.c declares the same struct).
 */
import type { MessageCodec } from '../../src/codecs/codec.js';
import { DecodeError, ValidationError } from '../../src/errors.js';

/** One sample as Node sees it. */
export interface Sample {
  channel: number;
  timestamp: bigint;
  value: number;
}

function validate(value: unknown): Sample {
  const v = value as Partial<Sample> | null;
  if (typeof v !== 'object' || v === null) throw new ValidationError('sample', 'an object', String(value));
  if (typeof v.channel !== 'number' || !Number.isInteger(v.channel) || v.channel < 0 || v.channel > 0xffff) {
    throw new ValidationError('sample.channel', 'u16 (0..65535)', String(v.channel));
  }
  if (typeof v.timestamp !== 'bigint' || v.timestamp < 0n || v.timestamp > 0xffff_ffff_ffff_ffffn) {
    throw new ValidationError('sample.timestamp', 'u64 (bigint)', String(v.timestamp));
  }
  if (typeof v.value !== 'number') throw new ValidationError('sample.value', 'f64', String(v.value));
  return v as Sample;
}

/** The sample codec (little-endian, GCC x86_64 layout). */
export const Sample: MessageCodec<Sample> = {
  name: 'sample',
  fixedSize: true,
  size: 24,
  fingerprint: 'sample-u16@0-u64@8-f64@16',
  validate,
  encode(value) {
    const bytes = new Uint8Array(24);
    this.encodeInto(value, bytes, 0);
    return bytes;
  },
  encodeInto(value, target, offset = 0) {
    validate(value);
    const view = new DataView(target.buffer, target.byteOffset + offset, 24);
    view.setUint16(0, value.channel, true);
    view.setUint16(2, 0, true);
    view.setUint32(4, 0, true);
    view.setBigUint64(8, value.timestamp, true);
    view.setFloat64(16, value.value, true);
    return 24;
  },
  decode(bytes, offset) {
    if (offset === undefined && bytes.length !== 24)
      throw new DecodeError('sample', `expected 24 bytes, got ${bytes.length}`);
    const view = new DataView(bytes.buffer, bytes.byteOffset + (offset ?? 0), 24);
    return {
      channel: view.getUint16(0, true),
      timestamp: view.getBigUint64(8, true),
      value: view.getFloat64(16, true),
    };
  },
};
