/**
 * Seeded random struct schemas and values for the GCC and differential tests: every field type,
 * nesting, arrays of arrays and of structs, enums, `aligned`, and random pack/align/endian.
 */
import {
  aligned,
  array,
  bool,
  bytes,
  char,
  type ElementType,
  enumOf,
  type FieldType,
  f32,
  f64,
  i8,
  i16,
  i32,
  i64,
  type StructType,
  struct,
  u8,
  u16,
  u32,
  u64,
} from '../../src/index.js';

/** mulberry32: small, fast, good enough for test data, and reproducible from one seed. */
export class Rng {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A uniformly random uint32. */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + (this.next() % (hi - lo + 1));
  }

  /** A uniformly random number in [0, 1). */
  float(): number {
    return this.next() / 0x1_0000_0000;
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)]!;
  }
}

const primitives = [u8, u16, u32, u64, i8, i16, i32, i64, f32, f64, bool] as const;
const enumBases = [u8, u16, u32, i8, i16, i32] as const;

function randomElement(rng: Rng, name: string, depth: number): ElementType {
  const roll = rng.int(0, 99);
  if (roll < 55) return rng.pick(primitives);
  if (roll < 62) return char(rng.int(1, 12));
  if (roll < 68) return bytes(rng.int(1, 9));
  if (roll < 74) {
    const base = rng.pick(enumBases);
    const members: Record<string, number> = {};
    const count = rng.int(1, 4);
    const used = new Set<number>();
    for (let i = 0; i < count; i++) {
      // Distinct values: an alias decodes to the first name declared for its value.
      const value = base.min < 0 ? rng.int(-100, 100) : rng.int(0, Math.min(base.max, 1000));
      if (used.has(value)) continue;
      used.add(value);
      members[`V${i}`] = value;
    }
    return enumOf(base, members, { allowUnknown: rng.chance(0.3) });
  }
  if (roll < 87 && depth < 3) return array(randomElement(rng, name, depth + 1), rng.int(1, 4));
  if (depth < 2) return randomStruct(rng, name, depth + 1);
  return rng.pick(primitives);
}

function randomField(rng: Rng, name: string, depth: number): FieldType {
  const element = randomElement(rng, name, depth);
  if (!rng.chance(0.12)) return element;
  const options = [1, 2, 4, 8, 16, 32, 64].filter((n) => n >= element.align);
  return aligned(element, rng.pick(options));
}

/** A random struct named `name`; nested structs are named `<name>_<field index>`. */
export function randomStruct(rng: Rng, name: string, depth = 0): StructType {
  const count = rng.int(1, 6);
  const entries: [string, FieldType][] = [];
  for (let i = 0; i < count; i++) entries.push([`f${i}`, randomField(rng, `${name}_${i}`, depth)]);
  const pack = rng.chance(0.35) ? rng.pick([1, 2, 4, 8, 16] as const) : undefined;
  const align = rng.chance(0.2) ? rng.pick([1, 2, 4, 8, 16, 32, 64]) : undefined;
  const endian = rng.chance(0.5) ? 'big' : 'little';
  return struct(name, entries, {
    ...(pack === undefined ? {} : { pack }),
    ...(align === undefined ? {} : { align }),
    endian,
  });
}

/** `count` random structs named `s0`, `s1`, ... from one seed. */
export function randomStructs(seed: number, count: number): StructType[] {
  const rng = new Rng(seed);
  return Array.from({ length: count }, (_, i) => randomStruct(rng, `s${i}`));
}

const charPieces = ['a', 'Z', '0', ' ', '~', 'é', '€', '😀', 'ß', '\u{10ffff}'];

/** A random valid value of `type`, extremes included. */
export function randomValue(rng: Rng, type: FieldType): unknown {
  switch (type.kind) {
    case 'int': {
      if (type.big) {
        const raw = (BigInt(rng.next()) << 32n) | BigInt(rng.next());
        const extreme = rng.int(0, 9);
        if (extreme === 0) return type.min;
        if (extreme === 1) return type.max;
        return type.signed ? BigInt.asIntN(64, raw) : raw;
      }
      const extreme = rng.int(0, 9);
      if (extreme === 0) return type.min;
      if (extreme === 1) return type.max;
      const bits = type.size * 8;
      const raw = rng.next();
      if (bits === 32) return type.signed ? raw | 0 : raw;
      const masked = raw & ((1 << bits) - 1);
      return type.signed ? (masked << (32 - bits)) >> (32 - bits) : masked;
    }
    case 'float': {
      const view = new DataView(new ArrayBuffer(8));
      for (;;) {
        const special = rng.int(0, 19);
        if (special === 0) return 0;
        if (special === 1) return -0;
        if (special === 2) return rng.chance(0.5) ? Infinity : -Infinity;
        if (special === 3) return rng.int(-1000, 1000) / 8;
        view.setUint32(0, rng.next());
        view.setUint32(4, rng.next());
        const value = type.name === 'f32' ? view.getFloat32(0) : view.getFloat64(0);
        if (Number.isFinite(value)) return value;
      }
    }
    case 'bool':
      return rng.chance(0.5);
    case 'char': {
      let text = '';
      let used = 0;
      const target = rng.int(0, type.length);
      while (true) {
        const piece = rng.pick(charPieces);
        const size = new TextEncoder().encode(piece).length;
        if (used + size > target) break;
        text += piece;
        used += size;
      }
      return text;
    }
    case 'bytes':
      return Uint8Array.from({ length: type.length }, () => rng.int(0, 255));
    case 'enum': {
      if (type.allowUnknown && rng.chance(0.3)) {
        // An integer the enum does not declare: it must cross as a number.
        const base = type.base;
        for (;;) {
          const n = base.min + (rng.next() % (base.max - base.min + 1));
          if (!type.names.has(n)) return n;
        }
      }
      return rng.pick([...type.values.keys()]);
    }
    case 'array':
      return Array.from({ length: type.length }, () => randomValue(rng, type.element));
    case 'struct':
      return Object.fromEntries(type.fields.map((field) => [field.name, randomValue(rng, field.type)]));
    case 'aligned':
      return randomValue(rng, type.inner);
  }
}

/** A copy of `value` with one randomly chosen leaf replaced by a wrong value. */
export function corrupt(rng: Rng, type: FieldType, value: unknown): unknown {
  const bad: unknown[] = [
    undefined,
    null,
    'x',
    1.5,
    -1,
    2 ** 64,
    70000n,
    NaN,
    {},
    [],
    true,
    1e40,
    '\0',
    'a'.repeat(80),
  ];
  switch (type.kind) {
    case 'struct': {
      if (rng.chance(0.1)) return rng.pick(bad);
      const field = rng.pick(type.fields);
      return {
        ...(value as object),
        [field.name]: corrupt(rng, field.type, (value as Record<string, unknown>)[field.name]),
      };
    }
    case 'array': {
      if (rng.chance(0.15)) return (value as unknown[]).slice(1);
      const items = [...(value as unknown[])];
      const i = rng.int(0, items.length - 1);
      items[i] = corrupt(rng, type.element, items[i]);
      return items;
    }
    case 'aligned':
      return corrupt(rng, type.inner, value);
    default:
      return rng.pick(bad);
  }
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/**
 * The canonical text of a value, one token per scalar in declaration order: integers in decimal,
 * floats as the hex of their IEEE bits, strings and bytes as hex ('-' when empty).
 */
export function tokens(type: FieldType, value: unknown, out: string[] = []): string[] {
  switch (type.kind) {
    case 'int':
      out.push(String(value));
      break;
    case 'float': {
      const view = new DataView(new ArrayBuffer(8));
      if (type.name === 'f32') {
        view.setFloat32(0, value as number);
        out.push(view.getUint32(0).toString(16).padStart(8, '0'));
      } else {
        view.setFloat64(0, value as number);
        out.push(view.getBigUint64(0).toString(16).padStart(16, '0'));
      }
      break;
    }
    case 'bool':
      out.push(value ? '1' : '0');
      break;
    case 'char': {
      const text = hex(new TextEncoder().encode(value as string));
      out.push(text === '' ? '-' : text);
      break;
    }
    case 'bytes':
      out.push(hex(value as Uint8Array));
      break;
    case 'enum':
      out.push(String(typeof value === 'string' ? type.values.get(value) : value));
      break;
    case 'array':
      for (const item of value as unknown[]) tokens(type.element, item, out);
      break;
    case 'struct':
      for (const field of type.fields) tokens(field.type, (value as Record<string, unknown>)[field.name], out);
      break;
    case 'aligned':
      tokens(type.inner, value, out);
      break;
  }
  return out;
}
