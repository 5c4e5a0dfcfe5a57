/**
 * Unions and bitfields: what a user relies on (one member per union value, every member's view on
 * decode, range checks of bitfields, errors that name the path), validators that accept exactly what
 * encode accepts, and the generated codec and its interpreted twin agreeing on bytes, values and
 * errors over seeded random schemas with unions, bitfields and `packed`.
 */
import { describe, expect, it } from 'vitest';
import {
  bits,
  bool,
  type CompositeType,
  DecodeError,
  f32,
  i8,
  i32,
  struct,
  type UnionType,
  u8,
  u16,
  u32,
  u64,
  union,
  ValidationError,
} from '../../src/index.js';
import { agrees, corrupt, outcome, Rng, randomStructs, randomValue } from './random-schemas.js';

const random = randomStructs(0xc0de, 160, { composite: true });

function twin(type: CompositeType): CompositeType {
  const entries = type.fields.map(
    (field) => [field.name, field.type.kind === 'bits' ? bits(field.type.base, field.type.width) : field.type] as const,
  );
  const options = {
    ...(type.pack === undefined ? {} : { pack: type.pack as 1 }),
    ...(type.packed ? { packed: true } : {}),
    ...(type.alignOption === undefined ? {} : { align: type.alignOption }),
    endian: type.endian,
    interpreted: true,
  };
  if (type.kind === 'union') {
    const decode = (type as UnionType).decodeMember;
    return union(type.name, entries, { ...options, ...(decode === undefined ? {} : { decode }) });
  }
  return struct(type.name, entries, options);
}

describe('unions', () => {
  const Word = union('word', { asFloat: f32, asBits: u32, low: u8 });

  it('are as large and aligned as their largest member, every member at offset 0', () => {
    expect([Word.size, Word.align]).toEqual([4, 4]);
    expect(Word.fields.map((f) => f.offset)).toEqual([0, 0, 0]);
    const Tagged = struct('tagged', { tag: u8, value: union('value', { a: u64, b: u8 }) });
    expect([Tagged.size, Tagged.align, Tagged.offsetOf('value')]).toEqual([16, 8, 8]);
  });

  it('encode the one member the value names and decode every member view', () => {
    const bytes = Word.encode({ asFloat: 1.5 });
    expect(Buffer.from(bytes).toString('hex')).toBe('0000c03f');
    expect(Word.decode(bytes)).toEqual({ asFloat: 1.5, asBits: 0x3fc00000, low: 0 });
    // A shorter member leaves the rest of the union zero, also over a dirty target.
    const target = new Uint8Array(4).fill(0xff);
    Word.encodeInto({ low: 7 }, target);
    expect([...target]).toEqual([7, 0, 0, 0]);
  });

  it('refuse a value naming no member or two, saying which', () => {
    expect(() => Word.encode({ asFloat: 1.5, asBits: 2 })).toThrow(
      'word: expected union word with exactly one of asFloat, asBits, low, got 2 members (asFloat, asBits); a union holds one value: keep only the member you mean',
    );
    expect(() => Word.encode({})).toThrow(ValidationError);
    expect(() => Word.encode({})).toThrow('got no member');
    // A decoded value holds every view: sending it back is refused, never a silent pick.
    expect(() => Word.encode(Word.decode(Word.encode({ low: 1 })))).toThrow('got 3 members');
  });

  it('decode one chosen member with { decode }, so the value encodes back', () => {
    const Chosen = union('chosen', { asFloat: f32, asBits: u32 }, { decode: 'asBits' });
    const value = Chosen.decode(Chosen.encode({ asFloat: 1 }));
    expect(value).toEqual({ asBits: 0x3f800000 });
    expect(Chosen.decode(Chosen.encode(value))).toEqual(value);
    expect(() => union('bad', { a: u8 }, { decode: 'b' })).toThrow('option decode: "b" is no member; members: a');
  });

  it('leave out views the bytes do not hold, and refuse bytes no member holds', () => {
    const Flag = union('flag', { on: bool, code: u8 });
    expect(Flag.decode(Uint8Array.of(7))).toEqual({ code: 7 });
    const OnlyBool = union('only', { on: bool, yes: bool });
    expect(() => OnlyBool.decode(Uint8Array.of(7))).toThrow(DecodeError);
    expect(() => OnlyBool.decode(Uint8Array.of(7))).toThrow('none can');
  });

  it('have validators that accept exactly one member', () => {
    for (const good of [{ asFloat: 2 }, { low: 255 }]) {
      expect(Word.zod.safeParse(good).success).toBe(true);
      expect(Word['~standard'].validate(good)).toEqual({ value: good });
    }
    for (const bad of [{}, { asFloat: 1, low: 2 }, { low: 256 }]) {
      expect(Word.zod.safeParse(bad).success).toBe(false);
      expect(Word['~standard'].validate(bad)).toHaveProperty('issues');
    }
  });
});

describe('bitfields', () => {
  const Flags = struct('flags', { a: bits(u8, 3), b: bits(u8, 6), zero: bits(u32, 0), c: bits(i32, 5), d: u16 });

  it('follow GCC: a bitfield that would cross its unit starts the next; zero width aligns the next', () => {
    expect(Flags.fields.map((f) => [f.name, f.offset, f.type.kind === 'bits' ? f.type.shift : '-'])).toEqual([
      ['a', 0, 0],
      ['b', 1, 0],
      ['zero', 4, 0],
      ['c', 4, 0],
      ['d', 6, '-'],
    ]);
    expect([Flags.size, Flags.align]).toEqual([8, 4]);
    const Packed = struct('packed_bits', { a: bits(u8, 7), b: bits(u8, 3) }, { packed: true });
    expect([Packed.size, Packed.fields[1]!.offset, (Packed.fields[1]!.type as { shift: number }).shift]).toEqual([
      2, 0, 7,
    ]);
  });

  it('carry values bit for bit, sign-extended for signed bases, zero-width ones holding none', () => {
    const bytes = Flags.encode({ a: 5, b: 63, c: -3, d: 7 });
    expect(Buffer.from(bytes).toString('hex')).toBe('053f00001d000700');
    expect(Flags.decode(bytes)).toEqual({ a: 5, b: 63, c: -3, d: 7 });
    const Wide = struct('wide', { lo: bits(u64, 60), hi: bits(u64, 4) });
    expect(Wide.decode(Wide.encode({ lo: (1n << 60n) - 1n, hi: 9n }))).toEqual({ lo: (1n << 60n) - 1n, hi: 9n });
  });

  it('refuse values outside their width, like every integer', () => {
    expect(() => Flags.encode({ a: 8, b: 0, c: 0, d: 0 })).toThrow('flags.a: expected u8:3 bitfield (0..7), got 8');
    expect(() => Flags.encode({ a: 0, b: 0, c: -17, d: 0 })).toThrow('expected i32:5 bitfield (-16..15), got -17');
    expect(() => Flags.encode({ a: 1.5, b: 0, c: 0, d: 0 })).toThrow(ValidationError);
    expect(() => bits(u8, 9)).toThrow('expected a width from 0 to 8 (the bits of u8), got 9');
    expect(() => struct('be', { a: bits(i8, 3) }, { endian: 'big' })).toThrow('bitfields in a big-endian struct');
  });
});

describe('generated and interpreted codecs agree on unions and bitfields', () => {
  it.each(random.map((type) => [type.name, type] as const))('%s', (_, type) => {
    const other = twin(type);
    expect(other.fingerprint).toBe(type.fingerprint);
    const rng = new Rng(type.size * 31 + type.fields.length);
    for (let n = 0; n < 8; n++) {
      const value = randomValue(rng, type);
      const bytes = type.encode(value);
      expect(other.encode(value)).toEqual(bytes);
      const a = new Uint8Array(type.size + 16).fill(0xa5);
      const b = new Uint8Array(type.size + 16).fill(0xa5);
      type.encodeInto(value, a, 3);
      other.encodeInto(value, b, 3);
      expect(a).toEqual(b);
      expect(a.subarray(3, 3 + type.size)).toEqual(bytes);
      expect([a[2], a[3 + type.size]]).toEqual([0xa5, 0xa5]);
      const decoded = type.decode(bytes);
      expect(other.decode(bytes)).toEqual(decoded);
      expect(agrees(type, decoded, value)).toBe(true);
      const broken = corrupt(rng, type, value);
      expect(outcome(() => other.encode(broken))).toEqual(outcome(() => type.encode(broken)));
      expect(outcome(() => other.validate(broken))).toEqual(outcome(() => type.validate(broken)));
      const noise = Uint8Array.from({ length: type.size }, () => rng.int(0, 255));
      expect(outcome(() => other.decode(noise))).toEqual(outcome(() => type.decode(noise)));
    }
  });
});
