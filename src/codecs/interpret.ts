/**
 * The interpreted twin of the generated codecs: the same rules, walked over the type tree at run
 * time. It serves where `new Function` is not allowed and as the reference the differential test
 * holds the generated code to (identical bytes, values and errors).
 */
import type { CompiledCodec } from './emit.js';
import { paddingRanges } from './layout.js';
import type { FieldType, IntType, StructShape } from './types.js';
import { F32_OVERFLOW, runtime } from './values.js';

const {
  invalid,
  unknownEnum,
  badBool,
  badChar,
  charFits,
  bytesLength,
  copyBytes,
  writeChar,
  readChar,
  targetError,
  inputError,
} = runtime;

/** Checks `x` against `type`, pushing every leaf onto `snap` in the order `write` takes them. */
function check(type: FieldType, x: unknown, path: string, snap: unknown[]): void {
  switch (type.kind) {
    case 'int':
      if (type.big) {
        if (typeof x !== 'bigint' || x < (type.min as bigint) || x > (type.max as bigint)) throw invalid(path, type, x);
      } else if (
        typeof x !== 'number' ||
        !Number.isInteger(x) ||
        x < (type.min as number) ||
        x > (type.max as number)
      ) {
        throw invalid(path, type, x);
      }
      snap.push(x);
      return;
    case 'float':
      if (typeof x !== 'number') throw invalid(path, type, x);
      if (type.name === 'f32' && Math.abs(x) >= F32_OVERFLOW && Math.abs(x) !== Infinity) throw invalid(path, type, x);
      snap.push(x);
      return;
    case 'bool':
      if (typeof x !== 'boolean') throw invalid(path, type, x);
      snap.push(x);
      return;
    case 'char':
      if (typeof x !== 'string' || !charFits(x, type.length)) throw invalid(path, type, x);
      snap.push(x);
      return;
    case 'bytes':
      if (bytesLength(x) !== type.length) throw invalid(path, type, x);
      snap.push(x);
      return;
    case 'enum': {
      const base = type.base;
      const known = typeof x === 'string' && type.values.has(x);
      if (
        !known &&
        !(type.allowUnknown && typeof x === 'number' && Number.isInteger(x) && x >= base.min && x <= base.max)
      ) {
        throw invalid(path, type, x);
      }
      snap.push(x);
      return;
    }
    case 'array':
      if (!Array.isArray(x) || x.length !== type.length) throw invalid(path, type, x);
      for (let i = 0; i < type.length; i++) check(type.element, x[i], `${path}[${i}]`, snap);
      return;
    case 'struct':
      if (typeof x !== 'object' || x === null) throw invalid(path, type, x);
      for (const field of type.fields) {
        check(field.type, (x as Record<string, unknown>)[field.name], `${path}.${field.name}`, snap);
      }
      return;
    case 'aligned':
      check(type.inner, x, path, snap);
      return;
  }
}

/** Where `write` is in the snapshot. */
interface Cursor {
  k: number;
}

/** Writes a checked value from its snapshot (never from the value itself, see emit.ts). */
function write(
  type: FieldType,
  snap: unknown[],
  at: Cursor,
  dv: DataView,
  u: Uint8Array,
  o: number,
  little: boolean,
): void {
  switch (type.kind) {
    case 'int':
      store(type, snap[at.k++], dv, u, o, little);
      return;
    case 'float': {
      const x = snap[at.k++] as number;
      if (type.name === 'f32') dv.setFloat32(o, x, little);
      else dv.setFloat64(o, x, little);
      return;
    }
    case 'bool':
      u[o] = snap[at.k++] ? 1 : 0;
      return;
    case 'char':
      writeChar(u, o, snap[at.k++] as string, type.length);
      return;
    case 'bytes':
      u.set(snap[at.k++] as Uint8Array, o);
      return;
    case 'enum': {
      const x = snap[at.k++];
      store(type.base, typeof x === 'string' ? type.values.get(x) : x, dv, u, o, little);
      return;
    }
    case 'array':
      for (let i = 0; i < type.length; i++) write(type.element, snap, at, dv, u, o + i * type.element.size, little);
      return;
    case 'struct':
      for (const field of type.fields) write(field.type, snap, at, dv, u, o + field.offset, type.endian === 'little');
      return;
    case 'aligned':
      write(type.inner, snap, at, dv, u, o, little);
      return;
  }
}

/** Stores an integer (an int field, or an enum's number in its base type). */
function store(type: IntType, x: unknown, dv: DataView, u: Uint8Array, o: number, little: boolean): void {
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

function read(type: FieldType, dv: DataView, u: Uint8Array, o: number, little: boolean, path: string): unknown {
  switch (type.kind) {
    case 'int':
      switch (type.name) {
        case 'u8':
          return u[o];
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
      return undefined;
    case 'float':
      return type.name === 'f32' ? dv.getFloat32(o, little) : dv.getFloat64(o, little);
    case 'bool': {
      const b = u[o]!;
      if (b > 1) throw badBool(path, b);
      return b === 1;
    }
    case 'char': {
      const s = readChar(u, o, type.length);
      if (s === undefined) throw badChar(path, type.length);
      return s;
    }
    case 'bytes':
      return copyBytes(u, o, type.length);
    case 'enum': {
      const n = read(type.base, dv, u, o, little, path) as number;
      const name = type.names.get(n);
      if (name !== undefined) return name;
      if (type.allowUnknown) return n;
      throw unknownEnum(path, type, n);
    }
    case 'array': {
      const items: unknown[] = [];
      for (let i = 0; i < type.length; i++) {
        items.push(read(type.element, dv, u, o + i * type.element.size, little, `${path}[${i}]`));
      }
      return items;
    }
    case 'struct': {
      const value: Record<string, unknown> = {};
      for (const field of type.fields) {
        value[field.name] = read(
          field.type,
          dv,
          u,
          o + field.offset,
          type.endian === 'little',
          `${path}.${field.name}`,
        );
      }
      return value;
    }
    case 'aligned':
      return read(type.inner, dv, u, o, little, path);
  }
}

function validOffset(o: unknown): o is number {
  return typeof o === 'number' && Number.isInteger(o) && o >= 0;
}

/** Builds the interpreted codec functions of a struct (same contract as the generated ones). */
export function interpretStruct<T>(type: StructShape<T>): CompiledCodec<T> {
  const little = type.endian === 'little';
  const padding = paddingRanges(type.size, type.fields);
  return {
    source: `/* interpreted codec of struct ${type.name} */`,
    validate(value: unknown): T {
      check(type, value, type.name, []);
      return value as T;
    },
    encode(value: T): Uint8Array {
      const snap: unknown[] = [];
      check(type, value, type.name, snap);
      const u = new Uint8Array(type.size);
      write(type, snap, { k: 0 }, new DataView(u.buffer), u, 0, little);
      return u;
    },
    encodeInto(value: T, target: Uint8Array, offset = 0): number {
      if (!(target instanceof Uint8Array) || !validOffset(offset) || offset + type.size > target.length) {
        throw targetError(type, target, offset);
      }
      const snap: unknown[] = [];
      check(type, value, type.name, snap);
      for (const [start, end] of padding) target.fill(0, offset + start, offset + end);
      const dv = new DataView(target.buffer, target.byteOffset, target.byteLength);
      write(type, snap, { k: 0 }, dv, target, offset, little);
      return type.size;
    },
    decode(bytes: Uint8Array, offset?: number): T {
      if (offset === undefined) {
        if (!(bytes instanceof Uint8Array) || bytes.length !== type.size) throw inputError(type, bytes, offset);
      } else if (!(bytes instanceof Uint8Array) || !validOffset(offset) || offset + type.size > bytes.length) {
        throw inputError(type, bytes, offset);
      }
      const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      return read(type, dv, bytes, offset ?? 0, little, type.name) as T;
    },
  };
}
