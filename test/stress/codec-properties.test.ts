/**
 * Bad input, codec side: fast-check property tests over random schemas and values. Encode then
 * decode is the identity; decode of random bytes either yields a value the schema accepts or throws
 * DecodeError, never anything else.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  aligned,
  array,
  bool,
  bytes,
  char,
  DecodeError,
  enumOf,
  type FieldType,
  f32,
  f64,
  i8,
  i16,
  i32,
  i64,
  type StructType,
  struct,
  u8,
  u16,
  u32,
  u64,
} from '../../src/index.js';
import { record } from './figures.js';
import { sizes } from './sizes.js';

/** A random schema: a struct type and an arbitrary of its values. */
interface Case {
  readonly type: StructType<Record<string, unknown>>;
  readonly values: fc.Arbitrary<Record<string, unknown>>;
}

type Leaf = { type: FieldType; value: fc.Arbitrary<unknown> };

const ints = [u8, u16, u32, i8, i16, i32] as const;
const utf8 = new TextEncoder();

const leaf: fc.Arbitrary<Leaf> = fc.oneof(
  fc.constantFrom(...ints).map((t) => ({ type: t, value: fc.integer({ min: t.min, max: t.max }) })),
  fc.constantFrom(u64, i64).map((t) => ({ type: t, value: fc.bigInt({ min: t.min, max: t.max }) })),
  fc.constant({ type: f32, value: fc.float() }),
  fc.constant({ type: f64, value: fc.double() }),
  fc.constant({ type: bool, value: fc.boolean() }),
  fc.integer({ min: 1, max: 24 }).map((n) => ({
    type: char(n),
    // A char(n) field holds at most n bytes of UTF-8 and no NUL (NUL is the padding).
    value: fc.string({ unit: 'binary', maxLength: n }).filter((s) => !s.includes('\0') && utf8.encode(s).length <= n),
  })),
  fc.integer({ min: 1, max: 24 }).map((n) => ({
    type: bytes(n),
    value: fc.uint8Array({ minLength: n, maxLength: n }),
  })),
  fc.constantFrom(u8, u16, i32).chain((base) =>
    fc
      .uniqueArray(fc.integer({ min: Math.max(base.min, -1000), max: Math.min(base.max, 1000) }), {
        minLength: 1,
        maxLength: 5,
      })
      .map((values) => {
        const members = Object.fromEntries(values.map((v, i) => [`M${i}`, v] as const));
        return { type: enumOf(base, members) as FieldType, value: fc.constantFrom(...Object.keys(members)) };
      }),
  ),
);

function withArrays(element: fc.Arbitrary<Leaf>): fc.Arbitrary<Leaf> {
  return fc.oneof(
    { arbitrary: element, weight: 4 },
    {
      arbitrary: fc.tuple(element, fc.integer({ min: 1, max: 4 })).map(([e, n]) => ({
        type: array(e.type as never, n),
        value: fc.array(e.value, { minLength: n, maxLength: n }),
      })),
      weight: 1,
    },
  );
}

let structCounter = 0;

function structOf(fields: readonly Leaf[], options: fc.Arbitrary<object>): fc.Arbitrary<Leaf> {
  return options.map((opts) => {
    structCounter += 1;
    const type = struct(
      `s${structCounter}`,
      fields.map((f, i) => [`f${i}`, f.type] as const),
      opts,
    );
    const value = fc.record(Object.fromEntries(fields.map((f, i) => [`f${i}`, f.value])));
    return { type: type as unknown as FieldType, value };
  });
}

const structOptions = fc.record(
  {
    pack: fc.constantFrom(1, 2, 4, 8, 16),
    align: fc.constantFrom(1, 2, 4, 8, 16, 32),
    endian: fc.constantFrom('little', 'big'),
  },
  { requiredKeys: [] },
);

/** A field: a leaf, an array, a nested struct, or any of those `_Alignas`-ed. */
const nestedField: fc.Arbitrary<Leaf> = fc
  .array(withArrays(leaf), { minLength: 1, maxLength: 4 })
  .chain((fields) => structOf(fields, structOptions));

const field: fc.Arbitrary<Leaf> = fc
  .tuple(
    fc.oneof({ arbitrary: withArrays(leaf), weight: 5 }, { arbitrary: nestedField, weight: 1 }),
    fc.option(fc.constantFrom(1, 2, 4, 8, 16, 32), { freq: 4 }),
  )
  .map(([f, alignment]) =>
    alignment === null ? f : { type: aligned(f.type as never, Math.max(alignment, f.type.align)), value: f.value },
  );

const schema: fc.Arbitrary<Case> = fc
  .array(field, { minLength: 1, maxLength: 8 })
  .chain((fields) => structOf(fields, structOptions))
  .map((s) => ({ type: s.type as unknown as Case['type'], values: s.value as Case['values'] }));

const runs = sizes.propertyRuns;
let tried = 0;

describe('codec properties', () => {
  afterAll(() => {
    record({
      section: 'input',
      transport: 'codec',
      inputs: tried,
      note: `${tried.toLocaleString('en')} random schema/value/byte cases, every one identity or DecodeError`,
    });
  });

  it('encode then decode is the identity over random schemas and values', () => {
    fc.assert(
      fc.property(
        schema.chain((c) => fc.tuple(fc.constant(c.type), fc.array(c.values, { minLength: 1, maxLength: 4 }))),
        ([type, values]) => {
          for (const value of values) {
            tried += 1;
            const encoded = type.encode(value);
            expect(encoded.length).toBe(type.size);
            expect(type.decode(encoded)).toEqual(value);
            // The same value through encodeInto at an offset, and decode at that offset.
            const target = new Uint8Array(type.size + 13);
            expect(type.encodeInto(value, target, 13)).toBe(type.size);
            expect(type.decode(target, 13)).toEqual(value);
          }
        },
      ),
      { numRuns: runs },
    );
  });

  it('decode of random bytes yields a valid value or throws DecodeError, never anything else', () => {
    fc.assert(
      fc.property(
        schema.chain((c) =>
          fc.tuple(
            fc.constant(c.type),
            fc.oneof(
              fc.uint8Array({ minLength: c.type.size, maxLength: c.type.size }),
              fc.uint8Array({ minLength: 0, maxLength: c.type.size * 2 + 2 }),
            ),
          ),
        ),
        ([type, bytes]) => {
          tried += 1;
          let decoded: unknown;
          try {
            decoded = type.decode(bytes);
          } catch (error) {
            expect(error).toBeInstanceOf(DecodeError);
            return;
          }
          expect(bytes.length).toBe(type.size);
          // Whatever decodes must be a value the schema accepts, and encode back to the same bytes
          // (floats may hold a NaN whose payload bits JS does not keep, so compare values then).
          expect(() => type.validate(decoded)).not.toThrow();
          expect(type.decode(type.encode(decoded as never))).toEqual(decoded);
        },
      ),
      { numRuns: runs },
    );
  });
});
