/**
 * Unions, bitfields and `packed` against GCC, the way gcc.test.ts holds the other kinds to it: 160
 * seeded random schemas with unions (nested, in arrays, big-endian ones), bitfields of every base and
 * width (zero-width ones included, under `#pragma pack` and `packed` too) become a C header and
 * program compiled with `cc`. sizeof/_Alignof/offsetof must match, and values cross both ways: C
 * reads every member of what TypeScript encoded (bitfields through C's own bitfield access), and C's
 * field-by-field writes decode in TypeScript to the same values and encode to the same bytes.
 */
import { describe, expect, it } from 'vitest';
import type { FieldType } from '../../src/index.js';
import { gccOracleSpecs } from './gcc-oracle.js';
import { randomStructs } from './random-schemas.js';

const SEED = 0xb175;
const roots = randomStructs(SEED, 160, { composite: true });

describe('unions, bitfields and packed equal GCC on x86_64', () => {
  it('covers unions, bitfields of every base, zero-width bitfields, packed and pack', () => {
    const seen = new Set<string>();
    const visit = (type: FieldType, under: string): void => {
      if (type.kind === 'array') visit(type.element, under);
      else if (type.kind === 'aligned') visit(type.inner, under);
      else if (type.kind === 'union') {
        seen.add(`union ${type.endian}`);
        for (const field of type.fields) visit(field.type, 'union');
      } else if (type.kind === 'struct') {
        const mode = type.packed ? 'packed' : type.pack !== undefined ? 'pack' : 'plain';
        for (const field of type.fields) visit(field.type, mode);
      } else if (type.kind === 'bits') {
        seen.add(type.width === 0 ? `zero-width ${under}` : `bits ${type.base.name}`);
        seen.add(`bits in ${under}`);
      }
    };
    for (const root of roots) visit(root, 'plain');
    for (const base of ['u8', 'u16', 'u32', 'u64', 'i8', 'i16', 'i32', 'i64']) expect(seen).toContain(`bits ${base}`);
    for (const where of ['plain', 'pack', 'packed', 'union']) expect(seen).toContain(`bits in ${where}`);
    for (const where of ['plain', 'pack', 'packed']) expect(seen).toContain(`zero-width ${where}`);
    expect(seen).toContain('union big');
    expect(seen).toContain('union little');
  });

  gccOracleSpecs('codecs-gcc-composite', roots, SEED, true);
});
