/** A codec of raw bytes, for looking at objects without knowing their schema. */
import type { MessageCodec } from '../codecs/index.js';
import { DecodeError, ValidationError } from '../errors.js';

/**
 * Messages of exactly `size` bytes (or, with `fixedSize` false, of at most `size` bytes), passed
 * through as Uint8Array copies; `fingerprint` as the object declares it.
 */
export function rawCodec(size: number, fingerprint = `raw-${size}`, fixedSize = true): MessageCodec<Uint8Array> {
  const validate = (value: unknown): Uint8Array => {
    if (!(value instanceof Uint8Array) || (fixedSize ? value.length !== size : value.length > size)) {
      const received = value instanceof Uint8Array ? `${value.length} bytes` : typeof value;
      throw new ValidationError('raw', `a Uint8Array of ${fixedSize ? '' : 'at most '}${size} bytes`, received);
    }
    return value;
  };
  return {
    name: `raw${size}`,
    fixedSize,
    size,
    fingerprint,
    encode: (value) => validate(value).slice(),
    encodeInto(value, target, offset = 0) {
      const bytes = validate(value);
      target.set(bytes, offset);
      return bytes.length;
    },
    decode(bytes, offset) {
      if (offset === undefined && (fixedSize ? bytes.length !== size : bytes.length > size)) {
        throw new DecodeError('raw', `expected ${fixedSize ? '' : 'at most '}${size} bytes, got ${bytes.length}`);
      }
      return bytes.slice(offset ?? 0, (offset ?? 0) + size);
    },
    validate,
  };
}
