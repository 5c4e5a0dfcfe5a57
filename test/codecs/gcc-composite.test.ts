/**
 * Unions, bitfields and `packed` against GCC, the way gcc.test.ts holds the other kinds to it: 160
 * seeded random schemas with unions (nested, in arrays, big-endian ones), bitfields of every base and
 * width (zero-width ones included, under `#pragma pack` and `packed` too) become a C header and
 * program compiled with `cc`. sizeof/_Alignof/offsetof must match, and values cross both ways: C
 * reads every member of what TypeScript encoded (bitfields through C's own bitfield access), and C's
 * field-by-field writes decode in TypeScript to the same values and encode to the same bytes.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { FieldType, StructType } from '../../src/index.js';
import { compileC } from '../helpers.js';
import { cPeerSource, expectedLayout, readInput, writeInput } from './c-peer.js';
import { agrees, Rng, randomStructs, randomValue, tokens } from './random-schemas.js';

const SEED = 0xb175;
const VALUES_PER_SCHEMA = 4;
const roots = randomStructs(SEED, 160, { composite: true });

function run(binary: string, args: string[], input?: Uint8Array | string): Buffer {
  return execFileSync(binary, args, { input: input ?? '', maxBuffer: 256 * 1024 * 1024 });
}

describe('unions, bitfields and packed equal GCC on x86_64', () => {
  const binary = compileC('codecs-gcc-composite', [cPeerSource(roots)], ['-O0']);

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

  it('sizeof, _Alignof and offsetof of every struct and union match', () => {
    const printed = run(binary, ['layout']).toString().trim().split('\n');
    expect(printed).toEqual(expectedLayout(roots));
  });

  it('C reads every field (bitfields, the member each union holds) of values encoded by TypeScript', () => {
    const rng = new Rng(SEED + 1);
    const values = roots.map((type) => Array.from({ length: VALUES_PER_SCHEMA }, () => randomValue(rng, type)));
    const input = readInput(roots, values);
    const lines = run(binary, ['read', String(VALUES_PER_SCHEMA)], input)
      .toString()
      .split('\n');
    let line = 0;
    roots.forEach((type, i) => {
      for (const value of values[i]!) expect(lines[line++]!.trim(), type.name).toBe(tokens(type, value).join(' '));
    });
  });

  it('TypeScript decodes and re-encodes, byte for byte, values that C wrote member by member', () => {
    const rng = new Rng(SEED + 2);
    const values = roots.map((type) => Array.from({ length: VALUES_PER_SCHEMA }, () => randomValue(rng, type)));
    const input = writeInput(roots, values);
    const output = run(binary, ['write', String(VALUES_PER_SCHEMA)], input);
    let offset = 0;
    roots.forEach((type: StructType, i) => {
      for (const value of values[i]!) {
        const bytes = new Uint8Array(output.subarray(offset, offset + type.size));
        offset += type.size;
        // C zeroed the struct, then stored each member (one per union): the rest is zero on both sides.
        expect(Buffer.from(type.encode(value)).toString('hex'), `${type.name} bytes`).toBe(
          Buffer.from(bytes).toString('hex'),
        );
        expect(agrees(type, type.decode(bytes), value), type.name).toBe(true);
      }
    });
    expect(offset).toBe(output.length);
  });
});
