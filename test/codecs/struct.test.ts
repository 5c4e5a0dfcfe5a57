/**
 * Struct behaviour a user relies on: the sample's layout and bytes, offsetOf, zero padding,
 * decode at an offset, 64-bit bigint ranges, byte order, char(n) UTF-8, and fingerprints
 * (equal for independently declared equal layouts, different for any change that matters).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { NetworkHeader, Sample, SensorFrame } from '../../schemas/index.js';
import {
  aligned,
  array,
  bool,
  bytes,
  char,
  DecodeError,
  enumOf,
  f32,
  f64,
  i16,
  i64,
  SchemaError,
  type StructType,
  struct,
  u8,
  u16,
  u32,
  u64,
  ValidationError,
} from '../../src/index.js';
import { Rng, randomStructs, randomValue } from './random-schemas.js';

describe('the measurement sample', () => {
  it('has the C layout: 24 bytes, 6 of padding after channel', () => {
    expect([Sample.name, Sample.size, Sample.align]).toEqual(['sample', 24, 8]);
    expect(Sample.fields.map(({ name, offset, size, align }) => ({ name, offset, size, align }))).toEqual([
      { name: 'channel', offset: 0, size: 2, align: 2 },
      { name: 'timestamp', offset: 8, size: 8, align: 8 },
      { name: 'value', offset: 16, size: 8, align: 8 },
    ]);
    expect(Sample.offsetOf('value')).toBe(16);
    expect(() => Sample.offsetOf('nope' as never)).toThrow(SchemaError);
    expect(Sample.fixedSize).toBe(true);
  });

  it('encodes to the exact little-endian bytes, padding zero', () => {
    const bytes = Sample.encode({ channel: 0x0102, timestamp: 0x1122334455667788n, value: 1 });
    expect(Buffer.from(bytes).toString('hex')).toBe('0201000000000000' + '8877665544332211' + '000000000000f03f');
  });

  it('encodeInto zeroes padding in a dirty buffer and decodes at an offset', () => {
    const target = new Uint8Array(40).fill(0xff);
    expect(Sample.encodeInto({ channel: 1, timestamp: 2n, value: 3 }, target, 8)).toBe(24);
    expect(target.subarray(10, 16)).toEqual(new Uint8Array(6));
    expect(target[7]).toBe(0xff);
    expect(target[32]).toBe(0xff);
    expect(Sample.decode(target, 8)).toEqual({ channel: 1, timestamp: 2n, value: 3 });
    // A view with a byteOffset into a larger buffer decodes the same.
    expect(Sample.decode(target.subarray(8, 32))).toEqual({ channel: 1, timestamp: 2n, value: 3 });
  });

  it('encodes each message into bytes of its own', () => {
    const a = Sample.encode({ channel: 1, timestamp: 1n, value: 1 });
    const b = Sample.encode({ channel: 2, timestamp: 2n, value: 2 });
    expect(Sample.decode(a).channel).toBe(1);
    expect(Sample.decode(b).channel).toBe(2);
    expect(a.length).toBe(24);
  });

  it('decodes into values that do not share memory with the input', () => {
    const Blob = struct('blob', { raw: bytes(4), name: char(4) });
    const input = Blob.encode({ raw: Uint8Array.of(1, 2, 3, 4), name: 'abc' });
    const value = Blob.decode(input);
    input.fill(0);
    expect(value).toEqual({ raw: Uint8Array.of(1, 2, 3, 4), name: 'abc' });
  });

  it('keeps 64-bit extremes exact as bigint', () => {
    const Wide = struct('wide', { u: u64, i: i64 });
    for (const value of [
      { u: 0n, i: -(2n ** 63n) },
      { u: 2n ** 64n - 1n, i: 2n ** 63n - 1n },
    ]) {
      expect(Wide.decode(Wide.encode(value))).toEqual(value);
    }
  });
});

describe('byte order, strings and examples', () => {
  it('big-endian changes byte order only, never layout', () => {
    const fields = { a: u16, b: u32, c: array(i16, 2), d: f32 } as const;
    const little = struct('h', fields);
    const big = struct('h', fields, { endian: 'big' });
    expect(big.fields).toEqual(little.fields);
    const value = { a: 0x0102, b: 0x03040506, c: [-2, 7], d: 1.5 };
    expect(Buffer.from(big.encode(value)).toString('hex')).toBe('0102000003040506fffe00073fc00000');
    expect(Buffer.from(little.encode(value)).toString('hex')).toBe('020100000605040' + '3feff07000000c03f');
    expect(big.decode(big.encode(value))).toEqual(value);
  });

  it('char(n) holds UTF-8, NUL-padded, exactly n bytes allowed', () => {
    const Name = struct('named', { name: char(6) });
    expect(Array.from(Name.encode({ name: 'hé' }))).toEqual([0x68, 0xc3, 0xa9, 0, 0, 0]);
    expect(Name.decode(Name.encode({ name: '€€' }))).toEqual({ name: '€€' });
    expect(Name.decode(Name.encode({ name: '' }))).toEqual({ name: '' });
    expect(Name.decode(Uint8Array.of(0x61, 0, 0x62, 0, 0, 0))).toEqual({ name: 'a' });
  });

  it('round-trips the example schemas', () => {
    const frame = {
      sequence: 7,
      timestamp: 123n,
      name: 'thermo-α',
      count: 2,
      readings: Array.from({ length: 8 }, (_, i) => ({
        channel: i,
        status: (['OK', 'SATURATED', 'FAULT'] as const)[i % 3]!,
        raw: 100 - i * 50,
        value: i / 2,
      })),
    };
    expect(SensorFrame.size).toBe(4 + 8 + 16 + 1 + 8 * 8);
    expect(SensorFrame.decode(SensorFrame.encode(frame))).toEqual(frame);
    const header = {
      magic: 0x54495043,
      version: 1,
      kind: 'DATA' as const,
      flags: 3,
      length: 9,
      id: 1n,
      key: new Uint8Array(16).fill(9),
    };
    const bytes = NetworkHeader.encode(header);
    expect(Array.from(bytes.subarray(0, 4))).toEqual([0x54, 0x49, 0x50, 0x43]);
    expect(NetworkHeader.decode(bytes)).toEqual(header);
  });
});

describe('layout rules', () => {
  it('applies pack, align and _Alignas as GCC does', () => {
    const packed = struct('p', { a: u8, b: u32, c: u16 }, { pack: 1 });
    expect([packed.size, packed.align, packed.offsetOf('b'), packed.offsetOf('c')]).toEqual([7, 1, 1, 5]);
    const two = struct('p2', { a: u8, b: f64 }, { pack: 2 });
    expect([two.size, two.offsetOf('b')]).toEqual([10, 2]);
    const wide = struct('w', { a: u8 }, { align: 16 });
    expect([wide.size, wide.align]).toEqual([16, 16]);
    const over = struct('o', { a: u8, b: aligned(u16, 8) });
    expect([over.size, over.align, over.offsetOf('b')]).toEqual([16, 8, 8]);
    // #pragma pack caps _Alignas too.
    const capped = struct('c', { a: u8, b: aligned(u32, 16) }, { pack: 2 });
    expect([capped.size, capped.offsetOf('b')]).toEqual([6, 2]);
  });

  it('nests structs and arrays of structs with their own alignment', () => {
    const Inner = struct('inner', { x: u8, y: f64 });
    const Outer = struct('outer', { tag: u8, inner: Inner, list: array(Inner, 2), k: enumOf(u16, { A: 1 }) });
    expect([Outer.size, Outer.offsetOf('inner'), Outer.offsetOf('list'), Outer.offsetOf('k')]).toEqual([64, 8, 24, 56]);
  });
});

describe('fingerprint', () => {
  const declare = (): StructType => struct('sample', { channel: u16, timestamp: u64, value: f64 });

  it('is equal for independently declared identical layouts', () => {
    expect(declare().fingerprint).toBe(Sample.fingerprint);
    expect(Sample.fingerprint).toMatch(/^[0-9a-f]{16}$/);
  });

  it.each<[string, StructType]>([
    ['struct name', struct('sample2', { channel: u16, timestamp: u64, value: f64 })],
    ['field name', struct('sample', { chan: u16, timestamp: u64, value: f64 })],
    ['field type of the same size', struct('sample', { channel: i16, timestamp: u64, value: f64 })],
    ['field type u64 to f64', struct('sample', { channel: u16, timestamp: f64, value: f64 })],
    ['offset (pack)', struct('sample', { channel: u16, timestamp: u64, value: f64 }, { pack: 2 })],
    ['offset (_Alignas)', struct('sample', { channel: aligned(u16, 2), timestamp: aligned(u64, 16), value: f64 })],
    ['size (align)', struct('sample', { channel: u16, timestamp: u64, value: f64 }, { align: 32 })],
    ['byte order', struct('sample', { channel: u16, timestamp: u64, value: f64 }, { endian: 'big' })],
    ['field order', struct('sample', { timestamp: u64, channel: u16, value: f64 })],
    ['char length', struct('sample', { channel: u16, timestamp: u64, value: char(8) })],
    ['char vs bytes', struct('sample', { channel: u16, timestamp: u64, value: bytes(8) })],
  ])('changes with the %s', (_, other) => {
    expect(other.fingerprint).not.toBe(Sample.fingerprint);
  });

  it('changes with an enum member and with a nested struct', () => {
    const a = struct('e', { k: enumOf(u8, { A: 1, B: 2 }) });
    expect(struct('e', { k: enumOf(u8, { A: 1, B: 2 }) }).fingerprint).toBe(a.fingerprint);
    expect(struct('e', { k: enumOf(u8, { A: 1, B: 3 }) }).fingerprint).not.toBe(a.fingerprint);
    expect(struct('e', { k: enumOf(u8, { A: 1, C: 2 }) }).fingerprint).not.toBe(a.fingerprint);
    const n1 = struct('n', { inner: struct('i', { x: u8 }) });
    expect(struct('n', { inner: struct('i', { x: u8 }) }).fingerprint).toBe(n1.fingerprint);
    expect(struct('n', { inner: struct('i', { x: u8 }, { endian: 'big' }) }).fingerprint).not.toBe(n1.fingerprint);
    expect(struct('n', { inner: struct('i', { y: u8 }) }).fingerprint).not.toBe(n1.fingerprint);
  });
});

describe('values that change while they are read', () => {
  // A getter or proxy that answers a valid value to the check and another one afterwards must not get
  // an unchecked value written (u16 70000 would wrap to 4464): every leaf is read exactly once.
  const shapes = (interpreted: boolean) => ({
    reading: struct('reading', { channel: u16, value: f64 }, { interpreted }),
    frame: struct(
      'frame',
      { readings: array(struct('point', { at: u32, flag: u8 }, { interpreted }), 3), raw: bytes(4) },
      { interpreted },
    ),
  });

  for (const interpreted of [false, true]) {
    const { reading, frame } = shapes(interpreted);
    const kind = interpreted ? 'interpreted' : 'generated';

    it(`${kind}: reads each field once, and writes what it checked`, () => {
      let reads = 0;
      const shifty = {
        get channel() {
          reads += 1;
          return reads === 1 ? 7 : 70_000;
        },
        value: 0.5,
      };
      const bytes = reading.encode(shifty);
      expect(reads).toBe(1);
      expect(reading.decode(bytes)).toEqual({ channel: 7, value: 0.5 });
      const target = new Uint8Array(reading.size);
      reads = 0;
      reading.encodeInto(shifty, target);
      expect(reads).toBe(1);
      expect(reading.decode(target).channel).toBe(7);
    });

    it(`${kind}: reads each array element once, through a proxy`, () => {
      const elementReads = [0, 0, 0];
      const points = [
        { at: 1, flag: 1 },
        { at: 2, flag: 0 },
        { at: 3, flag: 1 },
      ];
      const proxy = new Proxy(points, {
        get(target, property, receiver) {
          if (typeof property === 'string' && /^\d+$/.test(property)) {
            const index = Number(property);
            elementReads[index] = (elementReads[index] ?? 0) + 1;
            // A second read would see an out-of-range value.
            return elementReads[index]! > 1 ? { at: -1, flag: 300 } : target[index];
          }
          return Reflect.get(target, property, receiver);
        },
      });
      const value = { readings: proxy, raw: new Uint8Array([1, 2, 3, 4]) };
      expect(frame.decode(frame.encode(value))).toEqual({ readings: points, raw: new Uint8Array([1, 2, 3, 4]) });
      expect(elementReads).toEqual([1, 1, 1]);
    });

    it(`${kind}: judges bytes(n) by the array's own length, not a length property`, () => {
      class Liar extends Uint8Array {
        override get length(): number {
          return 4;
        }
      }
      const target = new Uint8Array(frame.size).fill(0xee);
      const value = { readings: [0, 1, 2].map((at) => ({ at, flag: 0 })), raw: new Liar(64) };
      expect(() => frame.encodeInto(value, target)).toThrow(ValidationError);
      expect(target.every((byte) => byte === 0xee)).toBe(true);
      expect(() => frame.validate(value)).toThrow(/frame\.raw: expected bytes\[4\]/);
    });

    it(`${kind}: a getter that encodes with the same codec again gets both messages right`, () => {
      const inner = { channel: 2, value: 2.5 };
      const outer = {
        get channel() {
          expect(reading.decode(reading.encode(inner))).toEqual(inner);
          return 1;
        },
        value: 1.5,
      };
      expect(reading.decode(reading.encode(outer))).toEqual({ channel: 1, value: 1.5 });
      const target = new Uint8Array(reading.size);
      reading.encodeInto(outer, target);
      expect(reading.decode(target)).toEqual({ channel: 1, value: 1.5 });
    });
  }
});

describe('decoded bytes(n) fields', () => {
  for (const interpreted of [false, true]) {
    it(`${interpreted ? 'interpreted' : 'generated'}: are copies of their own, small (on the heap) or large (slab)`, () => {
      for (const n of [16, 64, 65, 4096, 9000]) {
        const blob = struct(`blob${n}`, { id: u16, data: bytes(n) }, { interpreted });
        const fill = (k: number) => ({ id: k, data: new Uint8Array(n).map((_, i) => (i * 7 + k) & 0xff) });
        const input = blob.encode(fill(1));
        const first = blob.decode(input);
        const second = blob.decode(blob.encode(fill(2)));
        expect(first).toEqual(fill(1));
        expect(second).toEqual(fill(2));
        expect(first.data.length).toBe(n);
        // Neither the input nor another decoded value shares the bytes.
        input.fill(0xff);
        second.data.fill(0xaa);
        expect(first).toEqual(fill(1));
        expect(blob.decode(blob.encode(fill(3)))).toEqual(fill(3));
        expect(first).toEqual(fill(1));
      }
    });
  }
});

describe('validate() and encode() keep no reference to the values they saw', () => {
  // The collector is asked directly: a WeakRef to the value's parts must come back empty once the
  // caller lets go, which fails if the codec kept a leaf (a snapshot array holding the Uint8Array).
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const collected = async (ref: WeakRef<object>) => {
    for (let i = 0; i < 5 && ref.deref() !== undefined; i++) {
      // A WeakRef target stays alive until the current job ends: let the turn finish first.
      await new Promise((resolve) => setImmediate(resolve));
      gc();
    }
    return ref.deref() === undefined;
  };

  for (const interpreted of [false, true]) {
    const point = struct('kept_point', { at: u32, tag: bytes(4) }, { interpreted });
    const frame = struct('kept_frame', { raw: bytes(8), points: array(point, 2) }, { interpreted });
    const make = () => ({
      raw: new Uint8Array(8),
      points: [
        { at: 1, tag: new Uint8Array(4) },
        { at: 2, tag: new Uint8Array(4) },
      ],
    });

    it(`${interpreted ? 'interpreted' : 'generated'}: validate`, async () => {
      let value: ReturnType<typeof make> | undefined = make();
      const raw = new WeakRef(value.raw);
      const tag = new WeakRef(value.points[1]!.tag);
      expect(frame.validate(value)).toBe(value);
      value = undefined;
      expect(await collected(raw)).toBe(true);
      expect(await collected(tag)).toBe(true);
    });

    it(`${interpreted ? 'interpreted' : 'generated'}: encode and encodeInto`, async () => {
      let value: ReturnType<typeof make> | undefined = make();
      const raw = new WeakRef(value.raw);
      const tag = new WeakRef(value.points[0]!.tag);
      frame.encode(value);
      frame.encodeInto(value, new Uint8Array(frame.size));
      value = undefined;
      expect(await collected(raw)).toBe(true);
      expect(await collected(tag)).toBe(true);
    });
  }
});

describe("lending codecs: bytes(n) as views of the codec's own copy", () => {
  for (const interpreted of [false, true]) {
    const kind = interpreted ? 'interpreted' : 'generated';
    const blob = struct('lend_blob', { id: u16, data: bytes(100), tags: array(bytes(3), 2) }, { interpreted });
    const fill = (k: number) => ({
      id: k,
      data: new Uint8Array(100).map((_, i) => (i * 5 + k) & 0xff),
      tags: [new Uint8Array([k, 1, 2]), new Uint8Array([k, 3, 4])],
    });

    it(`${kind}: decodes what decode decodes, without sharing the input`, () => {
      const lending = blob.lending({ slots: 4 });
      expect(lending.fingerprint).toBe(blob.fingerprint);
      expect(lending.size).toBe(blob.size);
      expect(lending.slots).toBe(4);
      const input = new Uint8Array(blob.size + 9);
      blob.encodeInto(fill(1), input, 5);
      const value = lending.decode(input, 5);
      expect(value).toEqual(blob.decode(input, 5));
      // The input may be reused by the channel at once: the value is the codec's copy.
      input.fill(0xee);
      expect(value).toEqual(fill(1));
      expect(lending.decode(blob.encode(fill(2)))).toEqual(fill(2));
    });

    it(`${kind}: a value stays valid for slots - 1 further decodes, its fields views of one buffer`, () => {
      const lending = blob.lending({ slots: 3 });
      const first = lending.decode(blob.encode(fill(1)));
      const second = lending.decode(blob.encode(fill(2)));
      const third = lending.decode(blob.encode(fill(3)));
      expect(first.data.buffer).toBe(second.data.buffer);
      expect(first.tags[1]!.buffer).toBe(third.data.buffer);
      expect([first, second, third]).toEqual([fill(1), fill(2), fill(3)]);
      // The fourth decode takes the first region back, as documented.
      lending.decode(blob.encode(fill(4)));
      expect(first).toEqual({ ...fill(1), data: fill(4).data, tags: fill(4).tags });
      expect([second, third]).toEqual([fill(2), fill(3)]);
    });

    it(`${kind}: refuses what decode refuses, with the same errors, and bad slots`, () => {
      const lending = blob.lending();
      const refusal = (decode: () => unknown) => {
        try {
          decode();
        } catch (error) {
          return { error, message: (error as Error).message };
        }
        return undefined;
      };
      for (const input of [new Uint8Array(3), new Uint8Array(blob.size + 1)]) {
        const ours = refusal(() => lending.decode(input));
        expect(ours?.error).toBeInstanceOf(DecodeError);
        expect(ours?.message).toBe(refusal(() => blob.decode(input))?.message);
      }
      expect(() => lending.decode(new Uint8Array(blob.size), 1)).toThrow(/expected \d+ bytes at offset 1/);
      for (const slots of [0, 1.5, -1, 2 ** 31]) expect(() => blob.lending({ slots })).toThrow(SchemaError);
    });
  }
});

describe('decodeViews: bytes(n) as views of the input', () => {
  for (const interpreted of [false, true]) {
    const kind = interpreted ? 'interpreted' : 'generated';
    const blob = struct('view_blob', { id: u16, data: bytes(100), tags: array(bytes(3), 2) }, { interpreted });
    const fill = (k: number) => ({
      id: k,
      data: new Uint8Array(100).map((_, i) => (i * 7 + k) & 0xff),
      tags: [new Uint8Array([k, 5, 6]), new Uint8Array([k, 7, 8])],
    });

    it(`${kind}: decodes what decode decodes, its bytes fields views of the input at the offset`, () => {
      const input = new Uint8Array(blob.size + 11);
      blob.encodeInto(fill(3), input, 7);
      const value = blob.decodeViews(input, 7);
      expect(value).toEqual(blob.decode(input, 7));
      expect(value.data.buffer).toBe(input.buffer);
      expect(value.data.byteOffset).toBe(input.byteOffset + 7 + blob.offsetOf('data'));
      expect(value.tags[1]!.buffer).toBe(input.buffer);
      // Views, not copies: writing the input shows in the value (decode's copy keeps its bytes).
      const copy = blob.decode(input, 7);
      input.fill(0xab);
      expect(value.data.every((b) => b === 0xab)).toBe(true);
      expect(value.tags[0]).toEqual(new Uint8Array([0xab, 0xab, 0xab]));
      expect(copy).toEqual(fill(3));
      // The numbers were read at decode time.
      expect(value.id).toBe(3);
      // A subarray input: views of the same memory, at its own offset.
      const outer = new Uint8Array(blob.size + 20);
      const inner = outer.subarray(13, 13 + blob.size);
      blob.encodeInto(fill(4), inner);
      const fromInner = blob.decodeViews(inner);
      expect(fromInner).toEqual(fill(4));
      expect(fromInner.data.byteOffset).toBe(13 + blob.offsetOf('data'));
    });

    it(`${kind}: refuses what decode refuses, with the same errors`, () => {
      const refusal = (decode: () => unknown) => {
        try {
          decode();
        } catch (error) {
          return { error, message: (error as Error).message };
        }
        return undefined;
      };
      for (const [input, offset] of [
        [new Uint8Array(3), undefined],
        [new Uint8Array(blob.size + 1), undefined],
        [new Uint8Array(blob.size), 1],
        [new Uint8Array(blob.size + 4), -1],
      ] as const) {
        const ours = refusal(() => blob.decodeViews(input, offset));
        expect(ours?.error).toBeInstanceOf(DecodeError);
        expect(ours?.message).toBe(refusal(() => blob.decode(input, offset))?.message);
      }
      const bad = struct('view_flag', { on: bool, data: bytes(8) }, { interpreted });
      const input = new Uint8Array(bad.size);
      input[0] = 2;
      const ours = refusal(() => bad.decodeViews(input));
      expect(ours?.error).toBeInstanceOf(DecodeError);
      expect(ours?.message).toBe(refusal(() => bad.decode(input))?.message);
    });
  }
});

describe('lending decoders and decodeViews, generated and interpreted, agree with decode', () => {
  it.each(randomStructs(0x1e4d, 60).map((type) => [type.name, type] as const))('%s', (_, type) => {
    const entries = type.fields.map((field) => [field.name, field.type] as const);
    const twin = struct(type.name, entries, {
      ...(type.pack === undefined ? {} : { pack: type.pack as 1 }),
      ...(type.alignOption === undefined ? {} : { align: type.alignOption }),
      endian: type.endian,
      interpreted: true,
    });
    const generated = type.lending({ slots: 2 });
    const interpreted = twin.lending({ slots: 2 });
    const rng = new Rng(type.size);
    for (let n = 0; n < 4; n++) {
      const bytes = type.encode(randomValue(rng, type));
      expect(generated.decode(bytes)).toEqual(type.decode(bytes));
      expect(interpreted.decode(bytes)).toEqual(type.decode(bytes));
      expect(type.decodeViews(bytes)).toEqual(type.decode(bytes));
      expect(twin.decodeViews(bytes)).toEqual(type.decode(bytes));
      const noise = Uint8Array.from({ length: type.size }, () => rng.int(0, 255));
      const outcome = (decode: (b: Uint8Array) => unknown) => {
        try {
          return { ok: decode(noise) };
        } catch (error) {
          return { error: (error as Error).name, message: (error as Error).message };
        }
      };
      expect(outcome(generated.decode)).toEqual(outcome((b) => type.decode(b)));
      expect(outcome(interpreted.decode)).toEqual(outcome((b) => type.decode(b)));
      expect(outcome(type.decodeViews)).toEqual(outcome((b) => type.decode(b)));
      expect(outcome(twin.decodeViews)).toEqual(outcome((b) => type.decode(b)));
    }
  });
});
