/**
 * Records for the stream tests: `{ seq: u32, writer: u32, value: f64, fill: u8[size - 16] }` where
 * fill byte i is `(seq + writer + 16 + i) & 0xff`, so a torn, shifted or interleaved record shows
 * (`intact`) instead of passing as another record. The C peer (test/c/stream_peer.c) writes and checks
 * exactly the same bytes.
 */
import type { MessageCodec } from '../../src/codecs/codec.js';
import { bytes, f64, type StructType, struct, u32 } from '../../src/codecs/index.js';
import { ValidationError } from '../../src/errors.js';

/** One test record. */
export interface Rec {
  seq: number;
  writer: number;
  value: number;
  fill: Uint8Array;
}

/** The test record struct of `size` bytes (a multiple of 8, at least 24). */
export function recordCodec(size = 24): StructType<Rec> {
  if (size < 24 || size % 8 !== 0) throw new Error('record sizes are multiples of 8, at least 24');
  return struct(`rec${size}`, { seq: u32, writer: u32, value: f64, fill: bytes(size - 16) });
}

/** The value of record `seq` from `writer`, for records of `size` bytes. */
export function rec(seq: number, writer = 0, size = 24): Rec {
  const fill = new Uint8Array(size - 16);
  for (let i = 0; i < fill.length; i++) fill[i] = (seq + writer + 16 + i) & 0xff;
  return { seq, writer, value: seq * 0.5, fill };
}

/** Whether a received record is whole: its value and every filler byte match its seq and writer. */
export function intact(value: Rec): boolean {
  if (value.value !== value.seq * 0.5) return false;
  const base = value.seq + value.writer + 16;
  return value.fill.every((byte, i) => byte === ((base + i) & 0xff));
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
