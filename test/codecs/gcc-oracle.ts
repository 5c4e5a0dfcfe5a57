/**
 * The GCC oracle both gcc test files hold the codecs to: the schemas become one C program compiled
 * with `cc`; its sizeof/_Alignof/offsetof must equal the library's, C must read every member of what
 * TypeScript encoded, and what C wrote member by member must decode in TypeScript to the same values
 * and encode to the same bytes.
 */
import { execFileSync } from 'node:child_process';
import { expect, it } from 'vitest';
import type { StructType } from '../../src/index.js';
import { compileC } from '../helpers.js';
import { cPeerSource, expectedLayout, readInput, writeInput } from './c-peer.js';
import { agrees, Rng, randomValue, tokens } from './random-schemas.js';

const VALUES_PER_SCHEMA = 4;

function run(binary: string, args: string[], input?: Uint8Array | string): Buffer {
  return execFileSync(binary, args, { input: input ?? '', maxBuffer: 256 * 1024 * 1024 });
}

/**
 * Declares the oracle's three specs for `roots` inside the calling `describe`. `unions` compares
 * decoded values on the member each union holds (the other members' views are what the bytes mean
 * to them); without it a decoded value must equal the written one exactly.
 */
export function gccOracleSpecs(name: string, roots: readonly StructType[], seed: number, unions = false): void {
  // -O0: the program is large and only its layout and member accesses matter.
  const binary = compileC(name, [cPeerSource(roots)], ['-O0']);
  const draw = (offset: number) => {
    const rng = new Rng(seed + offset);
    return roots.map((type) => Array.from({ length: VALUES_PER_SCHEMA }, () => randomValue(rng, type)));
  };

  it(`sizeof, _Alignof and offsetof of every struct${unions ? ' and union' : ''} match`, () => {
    const printed = run(binary, ['layout']).toString().trim().split('\n');
    expect(printed).toEqual(expectedLayout(roots));
  });

  it('C reads every member of values encoded by TypeScript', () => {
    const values = draw(1);
    const lines = run(binary, ['read', String(VALUES_PER_SCHEMA)], readInput(roots, values))
      .toString()
      .split('\n');
    let line = 0;
    roots.forEach((type, i) => {
      for (const value of values[i]!) expect(lines[line++]!.trim(), type.name).toBe(tokens(type, value).join(' '));
    });
  });

  it('TypeScript decodes and re-encodes, byte for byte, values that C wrote member by member', () => {
    const values = draw(2);
    const output = run(binary, ['write', String(VALUES_PER_SCHEMA)], writeInput(roots, values));
    let offset = 0;
    roots.forEach((type, i) => {
      for (const value of values[i]!) {
        const bytes = new Uint8Array(output.subarray(offset, offset + type.size));
        offset += type.size;
        // C zeroed the struct, then stored each member (one per union): padding is zero on both sides.
        expect(Buffer.from(type.encode(value)).toString('hex'), `${type.name} bytes`).toBe(
          Buffer.from(bytes).toString('hex'),
        );
        if (unions) expect(agrees(type, type.decode(bytes), value), type.name).toBe(true);
        else expect(type.decode(bytes), type.name).toEqual(value);
      }
    });
    expect(offset).toBe(output.length);
  });
}
