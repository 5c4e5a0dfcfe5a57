/**
 * The layout and the bytes are GCC's: the schema fixtures and 220 seeded random schemas become a C
 * header and program compiled with `cc`; sizeof/_Alignof/offsetof are compared with the library's
 * numbers, and random values cross in both directions (TypeScript encodes, C reads each field; C
 * writes each field, TypeScript decodes and compares bytes, padding included).
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { NetworkHeader, Reading, Sample, SensorFrame } from '../../schemas/index.js';
import type { StructType } from '../../src/index.js';
import { compileC } from '../helpers.js';
import { cPeerSource, expectedLayout, readInput } from './c-peer.js';
import { Rng, randomStructs, randomValue, tokens } from './random-schemas.js';

const SEED = 0x7e57_1dc;
const VALUES_PER_SCHEMA = 4;

const fixtures = [Sample, SensorFrame, NetworkHeader, Reading] as StructType[];
const random = randomStructs(SEED, 220);
const roots = [...fixtures, ...random];

function run(binary: string, args: string[], input?: Uint8Array | string): Buffer {
  return execFileSync(binary, args, { input: input ?? '', maxBuffer: 256 * 1024 * 1024 });
}

describe('layout and bytes equal GCC on x86_64', () => {
  // -O0: the program is large and only its layout and member accesses matter.
  const binary = compileC('codecs-gcc-peer', [cPeerSource(roots)], ['-O0']);

  it('covers every type, option and byte order in the random schemas', () => {
    const kinds = new Set<string>();
    const options = new Set<string>();
    const visit = (type: StructType): void => {
      if (type.pack !== undefined) options.add(`pack${type.pack}`);
      if (type.alignOption !== undefined) options.add('align');
      options.add(type.endian);
      for (const field of type.fields) {
        let t = field.type;
        if (t.kind === 'aligned') {
          kinds.add('aligned');
          t = t.inner;
        }
        kinds.add(t.kind === 'int' || t.kind === 'float' || t.kind === 'bool' ? t.name : t.kind);
        while (t.kind === 'array') {
          if (t.element.kind === 'array') kinds.add('array of arrays');
          if (t.element.kind === 'struct') kinds.add('array of structs');
          t = t.element;
        }
        if (t.kind === 'struct') visit(t as StructType);
      }
    };
    for (const type of random) visit(type);
    expect([...kinds].sort()).toEqual(
      [
        'aligned',
        'array',
        'array of arrays',
        'array of structs',
        'bool',
        'bytes',
        'char',
        'enum',
        'f32',
        'f64',
        'i16',
        'i32',
        'i64',
        'i8',
        'struct',
        'u16',
        'u32',
        'u64',
        'u8',
      ].sort(),
    );
    expect([...options].sort()).toEqual(['align', 'big', 'little', 'pack1', 'pack16', 'pack2', 'pack4', 'pack8']);
  });

  it('sizeof, _Alignof and offsetof of every struct match', () => {
    const printed = run(binary, ['layout']).toString().trim().split('\n');
    expect(printed).toEqual(expectedLayout(roots));
  });

  it('C reads every field of values encoded by TypeScript', () => {
    const rng = new Rng(SEED + 1);
    const values = roots.map((type) => Array.from({ length: VALUES_PER_SCHEMA }, () => randomValue(rng, type)));
    const input = readInput(roots, values);
    const lines = run(binary, ['read', String(VALUES_PER_SCHEMA)], input)
      .toString()
      .split('\n');
    let line = 0;
    roots.forEach((type, i) => {
      for (const value of values[i]!) {
        expect(lines[line++]!.trim(), `${type.name}`).toBe(tokens(type, value).join(' '));
      }
    });
  });

  it('TypeScript decodes values written field by field by C, byte for byte', () => {
    const rng = new Rng(SEED + 2);
    const values = roots.map((type) => Array.from({ length: VALUES_PER_SCHEMA }, () => randomValue(rng, type)));
    const input = roots.flatMap((type, i) => values[i]!.map((value) => tokens(type, value).join(' '))).join('\n');
    const output = run(binary, ['write', String(VALUES_PER_SCHEMA)], input);
    let offset = 0;
    roots.forEach((type, i) => {
      for (const value of values[i]!) {
        const bytes = new Uint8Array(output.subarray(offset, offset + type.size));
        offset += type.size;
        // C zeroed the struct, then stored each member: the padding is zero on both sides.
        expect(Buffer.from(type.encode(value)).equals(bytes), `${type.name} bytes`).toBe(true);
        expect(type.decode(bytes), type.name).toEqual(value);
      }
    });
    expect(offset).toBe(output.length);
  });
});
