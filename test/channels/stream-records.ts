/**
 * Records for the stream tests: `{ seq: u32, writer: u32, value: f64 }` followed by filler bytes up to
 * `size`, where filler byte i is `(seq + writer + i) & 0xff`. Decoding checks the filler, so a torn,
 * shifted or interleaved record fails loudly instead of passing as another record. The C peer
 * (test/c/stream_peer.c) writes and checks exactly the same bytes.
 */
import type { MessageCodec } from '../../src/codecs/codec.js';
import { DecodeError, ValidationError } from '../../src/errors.js';

/** One test record. */
export interface Rec {
  seq: number;
  writer: number;
  value: number;
}

/** The value of record `seq` from `writer`. */
export function rec(seq: number, writer = 0): Rec {
  return { seq, writer, value: seq * 0.5 };
}

/** A fixed-size codec of `size` bytes (>= 16) for Rec, checking its filler on decode. */
export function recordCodec(size = 24): MessageCodec<Rec> {
  if (size < 16) throw new Error('records need at least 16 bytes');
  const encodeInto = (value: Rec, target: Uint8Array, offset = 0): number => {
    if (!Number.isInteger(value.seq) || value.seq < 0 || value.seq > 0xffff_ffff) {
      throw new ValidationError('rec.seq', 'u32', String(value.seq));
    }
    const view = new DataView(target.buffer, target.byteOffset + offset, size);
    view.setUint32(0, value.seq, true);
    view.setUint32(4, value.writer, true);
    view.setFloat64(8, value.value, true);
    const base = value.seq + value.writer;
    for (let i = 16; i < size; i++) target[offset + i] = (base + i) & 0xff;
    return size;
  };
  return {
    name: `rec${size}`,
    fixedSize: true,
    size,
    fingerprint: `rec${size}`,
    encode: (value) => {
      const bytes = new Uint8Array(size);
      encodeInto(value, bytes, 0);
      return bytes;
    },
    encodeInto,
    decode: (bytes, offset) => {
      const at = offset ?? 0;
      if (offset === undefined && bytes.length !== size) throw new DecodeError('rec', `expected ${size} bytes`);
      const view = new DataView(bytes.buffer, bytes.byteOffset + at, size);
      const value = { seq: view.getUint32(0, true), writer: view.getUint32(4, true), value: view.getFloat64(8, true) };
      const base = value.seq + value.writer;
      for (let i = 16; i < size; i++) {
        if (bytes[at + i] !== ((base + i) & 0xff)) throw new DecodeError('rec', `torn record: filler byte ${i}`);
      }
      return value;
    },
    validate: (value) => value as Rec,
  };
}

/** A variable-size codec (JSON text, at most `maxSize` bytes) standing in for msgpack in framing tests. */
export function jsonCodec(maxSize = 256): MessageCodec<unknown> {
  const encode = (value: unknown): Uint8Array => {
    const bytes = new TextEncoder().encode(JSON.stringify(value));
    if (bytes.length > maxSize) throw new ValidationError('json', `at most ${maxSize} bytes`, `${bytes.length}`);
    return bytes;
  };
  return {
    name: 'json',
    fixedSize: false,
    size: maxSize,
    fingerprint: 'json',
    encode,
    encodeInto: (value, target, offset = 0) => {
      const bytes = encode(value);
      target.set(bytes, offset);
      return bytes.length;
    },
    decode: (bytes) => JSON.parse(new TextDecoder().decode(bytes)) as unknown,
    validate: (value) => value,
  };
}
