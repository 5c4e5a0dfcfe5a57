/**
 * Generated code and its interpreted twin agree on everything: bytes of encode and encodeInto,
 * decoded values, and the class, message and path of every error, over the fixtures and seeded
 * random schemas with valid values, broken values and random bytes.
 */
import { describe, expect, it } from 'vitest';
import { NetworkHeader, Reading, Sample, SensorFrame } from '../../schemas/index.js';
import { type StructType, struct } from '../../src/index.js';
import { corrupt, outcome, Rng, randomStructs, randomValue } from './random-schemas.js';

const fixtures = [Sample, SensorFrame, NetworkHeader, Reading] as StructType[];
const random = randomStructs(0xd1ff, 200);

/** The same struct with the interpreted codec. */
function twin(type: StructType): StructType {
  const entries = type.fields.map((field) => [field.name, field.type] as const);
  return struct(type.name, entries, {
    ...(type.pack === undefined ? {} : { pack: type.pack as 1 }),
    ...(type.alignOption === undefined ? {} : { align: type.alignOption }),
    endian: type.endian,
    interpreted: true,
  });
}

describe('generated and interpreted codecs are identical', () => {
  it('exposes the generated source, and the twin says it is interpreted', () => {
    expect(Sample.source).toContain('dv.setBigUint64(p + 8, x');
    expect(twin(Sample).source).toContain('interpreted');
  });

  it.each([...fixtures, ...random].map((type) => [type.name, type] as const))('%s', (_, type) => {
    const other = twin(type);
    expect(other.fingerprint).toBe(type.fingerprint);
    const rng = new Rng(type.size * 7919 + type.fields.length);
    let refused = 0;
    for (let n = 0; n < 8; n++) {
      const value = randomValue(rng, type);
      const bytes = type.encode(value);
      expect(other.encode(value)).toEqual(bytes);
      // encodeInto over garbage at an odd offset: same bytes, padding zeroed, nothing outside touched.
      const a = new Uint8Array(type.size + 16).fill(0xa5);
      const b = new Uint8Array(type.size + 16).fill(0xa5);
      expect(type.encodeInto(value, a, 3)).toBe(type.size);
      expect(other.encodeInto(value, b, 3)).toBe(type.size);
      expect(a).toEqual(b);
      expect(a.subarray(3, 3 + type.size)).toEqual(bytes);
      expect(a[2]).toBe(0xa5);
      expect(a[3 + type.size]).toBe(0xa5);
      expect(type.decode(bytes)).toEqual(value);
      expect(other.decode(bytes)).toEqual(value);
      expect(type.decode(a, 3)).toEqual(value);
      expect(other.decode(a.subarray(3, 3 + type.size))).toEqual(value);

      const broken = corrupt(rng, type, value);
      const generated = outcome(() => type.encode(broken));
      expect(outcome(() => other.encode(broken))).toEqual(generated);
      if ((generated as { error?: string }).error === 'ValidationError') refused++;
      expect(outcome(() => type.validate(broken))).toEqual(outcome(() => other.validate(broken)));

      const noise = Uint8Array.from({ length: type.size }, () => rng.int(0, 255));
      expect(outcome(() => other.decode(noise))).toEqual(outcome(() => type.decode(noise)));
    }
    // The corruptions must really exercise the error paths, not only valid values.
    expect(refused).toBeGreaterThan(0);
  });
});
