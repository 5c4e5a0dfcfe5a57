/**
 * The layout and the bytes are GCC's: the schema fixtures and 220 seeded random schemas become a C
 * header and program compiled with `cc`; sizeof/_Alignof/offsetof are compared with the library's
 * numbers, and random values cross in both directions (TypeScript encodes, C reads each field; C
 * writes each field, TypeScript decodes and compares bytes, padding included).
 */
import { describe, expect, it } from 'vitest';
import { NetworkHeader, Reading, Sample, SensorFrame } from '../../schemas/index.js';
import type { StructType } from '../../src/index.js';
import { gccOracleSpecs } from './gcc-oracle.js';
import { randomStructs } from './random-schemas.js';

const SEED = 0x7e57_1dc;

const fixtures = [Sample, SensorFrame, NetworkHeader, Reading] as StructType[];
const random = randomStructs(SEED, 220);
const roots = [...fixtures, ...random];

describe('layout and bytes equal GCC on x86_64', () => {
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

  gccOracleSpecs('codecs-gcc-peer', roots, SEED);
});
