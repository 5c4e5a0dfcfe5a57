/**
 * The recorder's byte writer of message JSON, generated and interpreted, against the spelling of
 * `toJson` (what `typed-ipc tail` prints and the reader parses): identical text for every fixture,
 * decoded from real encoded bytes, and never past the writer's bound.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  aligned,
  array,
  bits,
  bool,
  bytes,
  char,
  enumOf,
  f32,
  f64,
  i8,
  i16,
  i32,
  i64,
  type MessageCodec,
  msgpack,
  struct,
  toJson,
  u8,
  u16,
  u32,
  u64,
  union,
} from '../../src/index.js';
import { envelopeWriter } from '../../src/record/json-bytes.js';

const Inner = struct('inner', { id: u16, level: f32, tag: char(4) });
const Mode = enumOf(u8, { IDLE: 0, RUN: 1, LONGER_NAME: 2 });
const Loose = enumOf(u16, { A: 1 }, { allowUnknown: true });
const Word = union('word', { asFloat: f32, asBits: u32, low: u8 });
const Flag = union('flag', { on: bool, code: u8 });
const Everything = struct('everything', {
  a: u8,
  b: u16,
  c: u32,
  d: u64,
  e: i8,
  f: i16,
  g: i32,
  h: i64,
  x: f32,
  y: f64,
  ok: bool,
  name: char(12),
  raw: bytes(5),
  list: array(i32, 3),
  bigs: array(u64, 2),
  inner: Inner,
  inners: array(Inner, 2),
  mode: Mode,
  loose: Loose,
  wide: aligned(u32, 16),
  word: Word,
  flag: Flag,
  low: bits(u8, 3),
  zero: bits(u32, 0),
  high: bits(i64, 40),
  ubig: bits(u64, 64),
});
type Everything = Parameters<typeof Everything.encode>[0];

const inner = (id: number, level: number, tag: string) => ({ id, level, tag });
const base: Everything = {
  a: 255,
  b: 65535,
  c: 4294967295,
  d: 18446744073709551615n,
  e: -128,
  f: -32768,
  g: -2147483648,
  h: -9223372036854775808n,
  x: 0.1,
  y: -1.7976931348623157e308,
  ok: true,
  name: 'sensor-1',
  raw: Uint8Array.of(0, 1, 0xab, 0xff, 0x10),
  list: [0, -1, 2147483647],
  bigs: [0n, 9007199254740993n],
  inner: inner(7, -0.5, 'abcd'),
  inners: [inner(0, 0, ''), inner(65535, 3.4e38, 'é')],
  mode: 'LONGER_NAME',
  loose: 999,
  wide: 123456,
  word: { asFloat: 1.5 },
  flag: { code: 7 },
  low: 5,
  high: -549755813888n,
  ubig: 1764654000123456789n,
};

/** Values that reach every fast path and its edges: 2^32, 2^53 around, -0, NaN, ±Infinity, escapes, non-ASCII. */
const fixtures: Everything[] = [
  base,
  { ...base, d: 0n, h: 0n, y: -0, x: Number.NaN, ok: false, name: '', mode: 'IDLE', loose: 'A', high: 0n, ubig: 0n },
  { ...base, d: 4294967295n, h: 4294967296n, y: Number.POSITIVE_INFINITY, x: Number.NEGATIVE_INFINITY },
  { ...base, d: 9007199254740991n, h: 9007199254740992n, y: 9007199254740994, ubig: 9007199254740993n },
  { ...base, d: 18446744073709551614n, h: 9223372036854775807n, y: 1e21, x: 1e-7, high: 549755813887n },
  { ...base, d: 10000000000000000000n, h: -1n, y: 123456789.125, bigs: [1000000n, 999999999999999999n] },
  { ...base, name: 'tab\there', inner: inner(1, 1, 'q"\\') },
  { ...base, name: 'line\nbreak', inners: [inner(2, 2, '\u0001'), inner(3, 3, '€')] },
  { ...base, name: 'naïve 日', y: 5e-324, x: 3.4028234663852886e38 },
];

const expected = (value: unknown, priority: number, from?: string): string =>
  `{"value":${toJson(value)},"priority":${priority}${from === undefined ? '' : `,"from":${JSON.stringify(from)}`}}`;

function written(codec: MessageCodec<unknown>, interpreted: boolean, value: unknown, priority: number, from?: string) {
  const writer = envelopeWriter(codec, { interpreted });
  const message = from === undefined ? { value, priority } : { value, priority, from };
  const bound = writer.bound(message);
  // Room for exactly the bound, inside a larger buffer filled with a marker: nothing written past it.
  const out = new Uint8Array(bound + 64).fill(0xee);
  const end = writer.put(out, 3, message);
  expect(end - 3).toBeLessThanOrEqual(bound);
  expect([...out.subarray(end)].every((b) => b === 0xee)).toBe(true);
  return Buffer.from(out.subarray(3, end)).toString('utf8');
}

describe('the recorder writes message JSON as bytes', () => {
  for (const interpreted of [false, true]) {
    it(`${interpreted ? 'interpreted' : 'generated'}: the same text as toJson for every fixture, decoded from its bytes`, () => {
      const codec = Everything as unknown as MessageCodec<unknown>;
      for (const [i, fixture] of fixtures.entries()) {
        const value = Everything.decode(Everything.encode(fixture));
        const from = i % 3 === 0 ? undefined : i % 3 === 1 ? 'unix+dgram:/tmp/peer' : 'subj "é"\n';
        const text = written(codec, interpreted, value, i, from);
        expect(text).toBe(expected(value, i, from));
        // Every digit of the 64-bit fields survives a JSON reader.
        const parsed = JSON.parse(text) as { value: Record<string, unknown> };
        expect(BigInt(parsed.value.d as string)).toBe(value.d);
        expect(BigInt(parsed.value.ubig as string)).toBe(value.ubig);
      }
    });
  }

  it('a union chosen at decode, a top-level union, and the bound of the longest values', () => {
    const Chosen = union('chosen', { asFloat: f32, asBits: u32 }, { decode: 'asBits' });
    const Longest = struct('longest', { s: char(6), h: i64, y: f64, n: i32 });
    const cases: [MessageCodec<unknown>, unknown][] = [
      [Chosen as unknown as MessageCodec<unknown>, Chosen.decode(Chosen.encode({ asFloat: 1 }))],
      [Word as unknown as MessageCodec<unknown>, Word.decode(Word.encode({ asFloat: 1.5 }))],
      [Flag as unknown as MessageCodec<unknown>, Flag.decode(Flag.encode({ code: 9 }))],
      // Six control characters: six bytes of JSON each, the bound of char(n).
      [
        Longest as unknown as MessageCodec<unknown>,
        Longest.decode(
          Longest.encode({
            s: '\u0001\u0002\u0003\u0004\u0005\u0006',
            h: -9223372036854775808n,
            y: -2.2250738585072014e-308,
            n: -2147483648,
          }),
        ),
      ],
    ];
    for (const interpreted of [false, true]) {
      for (const [codec, value] of cases) {
        expect(written(codec, interpreted, value, 9, 'x')).toBe(expected(value, 9, 'x'));
      }
    }
  });

  it('codecs without a C layout (msgpack) go through toJson', () => {
    const Note = msgpack(z.object({ text: z.string(), when: z.bigint() }), { maxSize: 64, name: 'note' });
    const value = Note.decode(Note.encode({ text: 'hi "there"', when: 12345678901234567890n }));
    expect(written(Note as unknown as MessageCodec<unknown>, false, value, 0)).toBe(expected(value, 0));
  });

  it('the generated source reads fields by name and pastes no value into it', () => {
    const writer = envelopeWriter(Everything as unknown as MessageCodec<unknown>);
    expect(writer.source).toContain('v["inner"]');
    expect(writer.source).not.toContain('sensor');
    expect(
      envelopeWriter(Everything as unknown as MessageCodec<unknown>, { interpreted: true }).source,
    ).toBeUndefined();
  });
});
