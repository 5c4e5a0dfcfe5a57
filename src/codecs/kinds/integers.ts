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

/** Stores an integer (interpreted). */
export function store(type: IntType, x: unknown, dv: DataView, u: Uint8Array, o: number, little: boolean): void {
  const n = x as number;
  const b = x as bigint;
  switch (type.name) {
    case 'u8':
      u[o] = n;
      return;
    case 'i8':
      dv.setInt8(o, n);
      return;
    case 'u16':
      dv.setUint16(o, n, little);
      return;
    case 'i16':
      dv.setInt16(o, n, little);
      return;
    case 'u32':
      dv.setUint32(o, n, little);
      return;
    case 'i32':
      dv.setInt32(o, n, little);
      return;
    case 'u64':
      dv.setBigUint64(o, b, little);
      return;
    case 'i64':
      dv.setBigInt64(o, b, little);
      return;
  }
}

/** Loads an integer (interpreted). */
export function load(type: IntType, dv: DataView, u: Uint8Array, o: number, little: boolean): number | bigint {
  switch (type.name) {
    case 'u8':
      return u[o]!;
    case 'i8':
      return dv.getInt8(o);
    case 'u16':
      return dv.getUint16(o, little);
    case 'i16':
      return dv.getInt16(o, little);
    case 'u32':
      return dv.getUint32(o, little);
    case 'i32':
      return dv.getInt32(o, little);
    case 'u64':
      return dv.getBigUint64(o, little);
    case 'i64':
      return dv.getBigInt64(o, little);
  }
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
