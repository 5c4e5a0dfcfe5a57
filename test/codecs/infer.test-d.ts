/** Type-level tests: what `Infer` gives for every field type, and what the codecs accept and return. */
import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import {
  aligned,
  array,
  bool,
  bytes,
  char,
  enumOf,
  f32,
  f64,
  type Infer,
  i8,
  i16,
  i32,
  i64,
  type MessageCodec,
  msgpack,
  type StructType,
  struct,
  u8,
  u16,
  u32,
  u64,
} from '../../src/index.js';

describe('Infer', () => {
  it('gives the measurement sample of DESIGN.md', () => {
    const Sample = struct('sample', { channel: u16, timestamp: u64, value: f64 });
    expectTypeOf<Infer<typeof Sample>>().toEqualTypeOf<{ channel: number; timestamp: bigint; value: number }>();
  });

  it('maps every field type', () => {
    const Inner = struct('inner', { x: i8 });
    const All = struct('all', {
      a: u8,
      b: u16,
      c: u32,
      d: u64,
      e: i8,
      f: i16,
      g: i32,
      h: i64,
      i: f32,
      j: f64,
      k: bool,
      l: char(4),
      m: bytes(4),
      n: array(u16, 3),
      o: array(array(i64, 2), 2),
      p: Inner,
      q: array(Inner, 2),
      r: enumOf(u8, { IDLE: 0, BUSY: 1 }),
      s: enumOf(u8, { A: 1 }, { allowUnknown: true }),
      t: aligned(u32, 16),
      u: aligned(Inner, 8),
    });
    expectTypeOf<Infer<typeof All>>().toEqualTypeOf<{
      a: number;
      b: number;
      c: number;
      d: bigint;
      e: number;
      f: number;
      g: number;
      h: bigint;
      i: number;
      j: number;
      k: boolean;
      l: string;
      m: Uint8Array;
      n: number[];
      o: bigint[][];
      p: { x: number };
      q: { x: number }[];
      r: 'IDLE' | 'BUSY';
      s: 'A' | number;
      t: number;
      u: { x: number };
    }>();
  });

  it('reads [name, type] pair declarations', () => {
    const Pairs = struct('pairs', [
      ['a', u8],
      ['b', u64],
    ] as const);
    expectTypeOf<Infer<typeof Pairs>>().toEqualTypeOf<{ a: number; b: bigint }>();
  });
});

describe('codec signatures', () => {
  const Sample = struct('sample', { channel: u16, timestamp: u64, value: f64 });
  type Sample = Infer<typeof Sample>;

  it('encode takes and decode returns the value type', () => {
    expectTypeOf(Sample.encode).parameter(0).toEqualTypeOf<Sample>();
    expectTypeOf(Sample.decode).returns.toEqualTypeOf<Sample>();
    expectTypeOf(Sample.validate).returns.toEqualTypeOf<Sample>();
    expectTypeOf(Sample).toMatchTypeOf<MessageCodec<Sample>>();
    expectTypeOf(Sample).toMatchTypeOf<StructType>();
    expectTypeOf(Sample.offsetOf).parameter(0).toEqualTypeOf<'channel' | 'timestamp' | 'value'>();
    // @ts-expect-error timestamp is a bigint
    Sample.encode({ channel: 1, timestamp: 1, value: 0 });
  });

  it('zod, typebox and Standard Schema carry the value type', () => {
    expectTypeOf<z.infer<typeof Sample.zod>>().toEqualTypeOf<Sample>();
    expectTypeOf(Sample['~standard'].validate).returns.toMatchTypeOf<
      { value: Sample } | { issues: readonly unknown[] } | Promise<unknown>
    >();
  });

  it('msgpack infers from a zod schema', () => {
    const codec = msgpack(z.object({ id: z.bigint(), tags: z.array(z.string()) }), { maxSize: 100 });
    expectTypeOf(codec.decode).returns.toEqualTypeOf<{ id: bigint; tags: string[] }>();
    expectTypeOf(codec).toMatchTypeOf<MessageCodec<{ id: bigint; tags: string[] }>>();
  });
});
