/** Integer kind (`u8`…`i64`): range checks without wrapping, DataView stores and loads. */
import type { IntType } from '../types.js';
import { invalid } from '../values.js';
import { at, dvAt, type Emit, type Kind, littleArg, type Offset } from './kind.js';

/** DataView method suffixes of the integer types (u8 goes through the Uint8Array itself). */
const accessors = {
  u16: 'Uint16',
  u32: 'Uint32',
  u64: 'BigUint64',
  i8: 'Int8',
  i16: 'Int16',
  i32: 'Int32',
  i64: 'BigInt64',
} as const;

// Integer-ness and range in one comparison: the coercion changes every out-of-range, fractional or
// NaN value (NaN !== anything), and leaves valid ones equal.
const coercions = {
  u8: (x: string) => `(${x} & 255)`,
  u16: (x: string) => `(${x} & 65535)`,
  u32: (x: string) => `(${x} >>> 0)`,
  i8: (x: string) => `(${x} << 24 >> 24)`,
  i16: (x: string) => `(${x} << 16 >> 16)`,
  i32: (x: string) => `(${x} | 0)`,
} as const;

/** Emits the store of an integer in `x` (an int field, or an enum's number in its base type). */
export function emitStore(type: IntType, x: string, offset: Offset, little: boolean, out: string[]): void {
  if (type.name === 'u8') out.push(`u[${at(offset)}] = ${x};`);
  else
    out.push(`dv.set${accessors[type.name]}(${dvAt(offset)}, ${x}${type.size > 1 ? `, ${littleArg(little)}` : ''});`);
}

/** The expression loading an integer. */
export function emitLoad(type: IntType, offset: Offset, little: boolean): string {
  if (type.name === 'u8') return `u[${at(offset)}]`;
  return `dv.get${accessors[type.name]}(${dvAt(offset)}${type.size > 1 ? `, ${littleArg(little)}` : ''})`;
}

type Setter = (offset: number, value: number | bigint, little?: boolean) => void;
type Getter = (offset: number, little?: boolean) => number | bigint;

/** Stores an integer (interpreted), through the same DataView method the generated code calls. */
export function store(type: IntType, x: unknown, dv: DataView, u: Uint8Array, o: number, little: boolean): void {
  if (type.name === 'u8') u[o] = x as number;
  else (dv[`set${accessors[type.name]}`] as Setter).call(dv, o, x as number | bigint, little);
}

/** Loads an integer (interpreted), through the same DataView method the generated code calls. */
export function load(type: IntType, dv: DataView, u: Uint8Array, o: number, little: boolean): number | bigint {
  if (type.name === 'u8') return u[o]!;
  return (dv[`get${accessors[type.name]}`] as Getter).call(dv, o, little);
}

/** The integer kind. */
export const integers: Kind<IntType> = {
  emitCheck(e: Emit, type, x, path, out) {
    const fail = e.fail(type, x, path);
    if (type.big) {
      // asUintN/asIntN plus one equality: about half the cost of two BigInt range comparisons.
      const wrap = type.signed ? 'asIntN' : 'asUintN';
      out.push(`if (typeof ${x} !== 'bigint' || BigInt.${wrap}(64, ${x}) !== ${x}) ${fail}`);
    } else {
      const coerce = coercions[type.name as keyof typeof coercions](x);
      out.push(`if (typeof ${x} !== 'number' || ${coerce} !== ${x}) ${fail}`);
    }
    e.keep(x, out);
  },
  emitWrite(e, type, offset, little, out) {
    emitStore(type, e.take(out), offset, little, out);
  },
  emitRead(_e, type, offset, little) {
    return emitLoad(type, offset, little);
  },
  check(_w, type, x, path, snap) {
    if (type.big) {
      if (typeof x !== 'bigint' || x < (type.min as bigint) || x > (type.max as bigint)) throw invalid(path, type, x);
    } else if (typeof x !== 'number' || !Number.isInteger(x) || x < (type.min as number) || x > (type.max as number)) {
      throw invalid(path, type, x);
    }
    snap.push(x);
  },
  write(_w, type, snap, dv, u, o, little) {
    store(type, snap.leaves[snap.k++], dv, u, o, little);
  },
  read(_w, type, dv, u, o, little) {
    return load(type, dv, u, o, little);
  },
};
