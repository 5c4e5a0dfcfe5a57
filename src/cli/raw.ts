/** A codec of raw bytes, for looking at objects without knowing their schema. */
import type { MessageCodec } from '../codecs/index.js';
import { DecodeError, ValidationError } from '../errors.js';

/** Messages of exactly `size` bytes, passed through as Uint8Array copies; `fingerprint` as the object declares it. */
export function rawCodec(size: number, fingerprint = `raw-${size}`): MessageCodec<Uint8Array> {
  const validate = (value: unknown): Uint8Array => {
    if (!(value instanceof Uint8Array) || value.length !== size) {
      const received = value instanceof Uint8Array ? `${value.length} bytes` : typeof value;
      throw new ValidationError('raw', `a Uint8Array of ${size} bytes`, received);
    }
    return value;
  };
  return {
    name: `raw${size}`,
    fixedSize: true,
    size,
    fingerprint,
    encode: (value) => validate(value).slice(),
    encodeInto(value, target, offset = 0) {
      target.set(validate(value), offset);
      return size;
    },
    decode(bytes, offset) {
      if (offset === undefined && bytes.length !== size) {
        throw new DecodeError('raw', `expected ${size} bytes, got ${bytes.length}`);
      }
      return bytes.slice(offset ?? 0, (offset ?? 0) + size);
    },
    validate,
  };
}
