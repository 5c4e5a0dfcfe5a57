/**
 * The measurement sample used by the channel tests: `struct sample { uint16_t channel; uint64_t
 * timestamp; double value; }`, 24 bytes on x86_64. Hand-written until `struct()` lands from the
 * codecs issue; it implements the MessageCodec contract the channels consume.
 */
import type { MessageCodec } from '../../src/codecs/codec.js';
import { DecodeError, ValidationError } from '../../src/errors.js';

/** A measurement sample. */
export interface Sample {
  channel: number;
  timestamp: bigint;
  value: number;
}

function validate(value: unknown): Sample {
  const v = value as Partial<Sample> | null;
  if (typeof v !== 'object' || v === null) throw new ValidationError('sample', 'an object', String(value));
  if (!Number.isInteger(v.channel) || (v.channel as number) < 0 || (v.channel as number) > 0xffff) {
    throw new ValidationError('sample.channel', 'u16 (0..65535)', String(v.channel));
  }
  if (typeof v.timestamp !== 'bigint' || v.timestamp < 0n || v.timestamp > 0xffff_ffff_ffff_ffffn) {
    throw new ValidationError('sample.timestamp', 'u64 (bigint 0..2^64-1)', String(v.timestamp));
  }
  if (typeof v.value !== 'number') throw new ValidationError('sample.value', 'f64', String(v.value));
  return v as Sample;
}

function encodeInto(value: Sample, target: Uint8Array, offset = 0): number {
  validate(value);
  const view = new DataView(target.buffer, target.byteOffset + offset, 24);
  view.setUint16(0, value.channel, true);
  view.setUint16(2, 0, true);
  view.setUint32(4, 0, true);
  view.setBigUint64(8, value.timestamp, true);
  view.setFloat64(16, value.value, true);
  return 24;
}

/** Codec of `struct sample` (24 bytes, little-endian, C layout). */
export const Sample: MessageCodec<Sample> = {
  name: 'sample',
  fixedSize: true,
  size: 24,
  fingerprint: 'hand-written-sample',
  encode(value) {
    const bytes = new Uint8Array(24);
    encodeInto(value, bytes);
    return bytes;
  },
  encodeInto,
  decode(bytes, offset) {
    if (offset === undefined && bytes.length !== 24) {
      throw new DecodeError('sample', `expected 24 bytes, got ${bytes.length}`);
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset + (offset ?? 0), 24);
    return {
      channel: view.getUint16(0, true),
      timestamp: view.getBigUint64(8, true),
      value: view.getFloat64(16, true),
    };
  },
  validate,
};

/** A fixed-size codec of raw bytes (`uint8_t data[size]`), for tests about sizes. */
export function blob(size: number): MessageCodec<Uint8Array> {
  const check = (value: unknown): Uint8Array => {
    if (!(value instanceof Uint8Array) || value.length !== size) {
      throw new ValidationError('blob', `a Uint8Array of ${size} bytes`, String(value));
    }
    return value;
  };
  return {
    name: `blob${size}`,
    fixedSize: true,
    size,
    fingerprint: `blob-${size}`,
    encode: (value) => check(value).slice(),
    encodeInto(value, target, offset = 0) {
      target.set(check(value), offset);
      return size;
    },
    decode(bytes, offset) {
      if (offset === undefined && bytes.length !== size) {
        throw new DecodeError(`blob${size}`, `expected ${size} bytes, got ${bytes.length}`);
      }
      return bytes.slice(offset ?? 0, (offset ?? 0) + size);
    },
    validate: check,
  };
}
