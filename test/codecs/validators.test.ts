/**
 * zod, TypeBox and Standard Schema members accept and refuse exactly what `encode` accepts and
 * refuses: over the fixtures and random schemas with valid and corrupted values, and on the
 * edges (integer ranges, bigint, UTF-8 byte length, exact lengths, NaN/Infinity, f32 range, enums).
 */
import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { NetworkHeader, Sample, SensorFrame } from '../../schemas/index.js';
import {
  array,
  bytes,
  char,
  enumOf,
  f32,
  f64,
  i64,
  type StructType,
  struct,
  u8,
  u16,
  ValidationError,
} from '../../src/index.js';
import { corrupt, Rng, randomStructs, randomValue } from './random-schemas.js';

function encodes(type: StructType, value: unknown): boolean {
  try {
    type.encode(value);
    return true;
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    return false;
  }
}

function verdicts(type: StructType, value: unknown) {
  const standard = type['~standard'].validate(value) as { issues?: unknown };
  return {
    encode: encodes(type, value),
    zod: type.zod.safeParse(value).success,
    typebox: Value.Check(type.typebox, value),
    standard: standard.issues === undefined,
  };
}

const agree = (ok: boolean) => ({ encode: ok, zod: ok, typebox: ok, standard: ok });

describe('zod, TypeBox and Standard Schema agree with encode', () => {
  const Edge = struct('edge', {
    small: u8,
    port: u16,
    big: i64,
    name: char(4),
    raw: bytes(2),
    list: array(u8, 2),
    single: f32,
    wide: f64,
    kind: enumOf(u8, { A: 1, B: 2 }),
    loose: enumOf(u8, { A: 1 }, { allowUnknown: true }),
  });
  const good = {
    small: 255,
    port: 0,
    big: -(2n ** 63n),
    name: 'éa',
    raw: new Uint8Array(2),
    list: [1, 2],
    single: 3.4028234663852886e38,
    wide: NaN,
    kind: 'B',
    loose: 7,
  };

  it.each([
    ['a valid value', {}, true],
    ['u8 256', { small: 256 }, false],
    ['u8 1.5', { small: 1.5 }, false],
    ['u8 NaN', { small: NaN }, false],
    ['u16 -1', { port: -1 }, false],
    ['i64 as number', { big: 1 }, false],
    ['i64 below range', { big: -(2n ** 63n) - 1n }, false],
    ['char of 5 UTF-8 bytes', { name: 'aé€' }, false],
    ['char 4 ASCII bytes', { name: 'abcd' }, true],
    ['char with NUL', { name: 'a\0' }, false],
    ['char with lone surrogate', { name: '\ud800' }, false],
    ['bytes too short', { raw: new Uint8Array(1) }, false],
    ['bytes as array', { raw: [0, 0] }, false],
    ['array too long', { list: [1, 2, 3] }, false],
    ['array element 300', { list: [1, 300] }, false],
    ['f32 beyond range', { single: 1e39 }, false],
    ['f32 Infinity', { single: -Infinity }, true],
    ['f64 Infinity', { wide: Infinity }, true],
    ['f64 string', { wide: '1' }, false],
    ['unknown enum name', { kind: 'C' }, false],
    ['enum as number', { kind: 1 }, false],
    ['allowUnknown enum number', { loose: 255 }, true],
    ['allowUnknown enum out of base range', { loose: 256 }, false],
    ['missing field', { port: undefined }, false],
  ])('%s', (_, change, ok) => {
    expect(verdicts(Edge, { ...good, ...change })).toEqual(agree(ok));
  });

  it('refuses a non-object with all four', () => {
    expect(verdicts(Sample, null)).toEqual(agree(false));
    expect(verdicts(Sample, 'sample')).toEqual(agree(false));
  });

  it('Standard Schema reports the message and the path of the field', () => {
    const result = SensorFrame['~standard'].validate({
      ...(randomValue(new Rng(1), SensorFrame) as object),
      readings: Array.from({ length: 8 }, (_, i) => ({ channel: i, status: 'OK', raw: 0, value: i === 3 ? 'x' : 0 })),
    }) as { issues: { message: string; path: unknown[] }[] };
    expect(result.issues).toEqual([
      {
        message:
          'sensor_frame.readings[3].value: expected f32 (a number within ±3.4028234663852886e38, NaN or ±Infinity), got "x" (string)',
        path: ['readings', 3, 'value'],
      },
    ]);
    expect(SensorFrame['~standard'].version).toBe(1);
    expect(SensorFrame['~standard'].vendor).toBe('typed-ipc');
  });

  it.each([Sample, SensorFrame, NetworkHeader, ...randomStructs(0x5a11, 120)].map((t) => [t.name, t] as const))(
    'random values of %s',
    (_, type) => {
      const rng = new Rng(type.size + 17);
      let refused = 0;
      for (let n = 0; n < 10; n++) {
        const value = randomValue(rng, type);
        expect(verdicts(type, value)).toEqual(agree(true));
        const broken = corrupt(rng, type, value);
        const verdict = verdicts(type, broken);
        expect(verdict).toEqual(agree(verdict.encode));
        if (!verdict.encode) refused++;
      }
      expect(refused).toBeGreaterThan(0);
    },
  );
});
