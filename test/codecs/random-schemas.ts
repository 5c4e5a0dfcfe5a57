/**
 * Seeded random struct schemas and values for the GCC and differential tests: every field type,
 * nesting, arrays of arrays and of structs, enums, `aligned`, and random pack/align/endian; with
 * `{ composite: true }` also unions, bitfields (zero-width ones included) and `packed`.
 */
import {
  aligned,
  array,
  bits,
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
  type UnionShape,
  type UnionType,
  u8,
  u16,
  u32,
  u64,
  union,
} from '../../src/index.js';

/** What the random schemas may hold beyond the original kinds. */
export interface RandomOptions {
  /** Unions, bitfields and `packed` structs too. */
  readonly composite?: boolean;
}

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

const bitBases = [u8, u16, u32, u64, i8, i16, i32, i64] as const;

function randomElement(rng: Rng, name: string, depth: number, options: RandomOptions = {}): ElementType {
  if (options.composite === true && depth < 2 && rng.chance(0.12)) return randomUnion(rng, name, depth + 1, options);
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
  if (roll < 87 && depth < 3) return array(randomElement(rng, name, depth + 1, options), rng.int(1, 4));
  if (depth < 2) return randomStruct(rng, name, depth + 1, options);
  return rng.pick(primitives);
}

/** A random bitfield: any base, any width (0 now and then). */
function randomBits(rng: Rng, zero: boolean): FieldType {
  const base = rng.pick(bitBases);
  return bits(base, zero ? 0 : rng.int(1, base.size * 8));
}

function randomField(rng: Rng, name: string, depth: number, options: RandomOptions = {}): FieldType {
  if (options.composite === true && rng.chance(0.3)) return randomBits(rng, false);
  const element = randomElement(rng, name, depth, options);
  if (!rng.chance(0.12)) return element;
  const alignments = [1, 2, 4, 8, 16, 32, 64].filter((n) => n >= element.align);
  return aligned(element, rng.pick(alignments));
}

/** A random struct named `name`; nested structs are named `<name>_<field index>`. */
export function randomStruct(rng: Rng, name: string, depth = 0, options: RandomOptions = {}): StructType {
  const count = rng.int(1, 6);
  const entries: [string, FieldType][] = [];
  for (let i = 0; i < count; i++) {
    // A zero-width bitfield now and then, between other members (C forbids naming it; it holds no value).
    if (options.composite === true && i > 0 && rng.chance(0.08)) entries.push([`z${i}`, randomBits(rng, true)]);
    entries.push([`f${i}`, randomField(rng, `${name}_${i}`, depth, options)]);
  }
  const pack = rng.chance(0.35) ? rng.pick([1, 2, 4, 8, 16] as const) : undefined;
  const packed = options.composite === true && rng.chance(0.2);
  const align = rng.chance(0.2) ? rng.pick([1, 2, 4, 8, 16, 32, 64]) : undefined;
  const hasBits = entries.some(([, type]) => type.kind === 'bits');
  // GCC numbers bitfields from the other end in big-endian structs; typed-ipc refuses that combination.
  const endian = !hasBits && rng.chance(0.5) ? 'big' : 'little';
  return struct(name, entries, {
    ...(pack === undefined ? {} : { pack }),
    ...(packed ? { packed } : {}),
    ...(align === undefined ? {} : { align }),
    endian,
  });
}

/** A random union named `name`: two to four members, bitfields among them. */
export function randomUnion(rng: Rng, name: string, depth: number, options: RandomOptions = {}): UnionType {
  const count = rng.int(2, 4);
  const entries: [string, FieldType][] = [];
  for (let i = 0; i < count; i++) {
    entries.push([
      `m${i}`,
      rng.chance(0.2) ? randomBits(rng, false) : randomElement(rng, `${name}_${i}`, depth, options),
    ]);
  }
  const hasBits = entries.some(([, type]) => type.kind === 'bits');
  const pack = rng.chance(0.25) ? rng.pick([1, 2, 4, 8, 16] as const) : undefined;
  const align = rng.chance(0.2) ? rng.pick([1, 2, 4, 8, 16]) : undefined;
  return union(name, entries, {
    ...(pack === undefined ? {} : { pack }),
    ...(align === undefined ? {} : { align }),
    endian: !hasBits && rng.chance(0.5) ? 'big' : 'little',
  });
}

/** `count` random structs named `s0`, `s1`, ... from one seed. */
export function randomStructs(seed: number, count: number, options: RandomOptions = {}): StructType[] {
  const rng = new Rng(seed);
  return Array.from({ length: count }, (_, i) => randomStruct(rng, `s${i}`, 0, options));
}

/** The member a union value names. */
export function chosenMember(type: UnionShape, value: unknown): number {
  return type.fields.findIndex((field) => (value as Record<string, unknown>)[field.name] !== undefined);
}

/** The fields of a struct that hold a value (zero-width bitfields do not). */
export function valuedFields(type: { readonly fields: StructType['fields'] }): StructType['fields'] {
  return type.fields.filter((field) => field.type.kind !== 'bits' || field.type.width > 0);
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
      return Object.fromEntries(valuedFields(type).map((field) => [field.name, randomValue(rng, field.type)]));
    case 'union': {
      const member = rng.pick(type.fields);
      return { [member.name]: randomValue(rng, member.type) };
    }
    case 'bits': {
      if (type.big) {
        const raw = (BigInt(rng.next()) << 32n) | BigInt(rng.next());
        const extreme = rng.int(0, 4);
        if (extreme === 0) return type.min;
        if (extreme === 1) return type.max;
        const span = (type.max as bigint) - (type.min as bigint) + 1n;
        return (type.min as bigint) + (raw % span);
      }
      const extreme = rng.int(0, 4);
      if (extreme === 0) return type.min;
      if (extreme === 1) return type.max;
      return (type.min as number) + Math.floor(rng.float() * ((type.max as number) - (type.min as number) + 1));
    }
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
    case 'union': {
      const roll = rng.int(0, 9);
      if (roll === 0) return rng.pick(bad);
      if (roll < 4) {
        // A second member beside the first: a union holds one value.
        const other = rng.pick(type.fields);
        const filler = rng.pick(type.fields.filter((f) => f !== other));
        return { ...(value as object), [other.name]: 0, [filler.name]: 1 };
      }
      if (roll === 4) return {};
      const member = type.fields[chosenMember(type, value)]!;
      return { [member.name]: corrupt(rng, member.type, (value as Record<string, unknown>)[member.name]) };
    }
    case 'struct': {
      if (rng.chance(0.1)) return rng.pick(bad);
      const field = rng.pick(valuedFields(type));
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
export function tokens(type: FieldType, value: unknown, out: string[] = [], choices?: number[] | 'inline'): string[] {
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
      for (const item of value as unknown[]) tokens(type.element, item, out, choices);
      break;
    case 'struct':
      for (const field of valuedFields(type)) {
        tokens(field.type, (value as Record<string, unknown>)[field.name], out, choices);
      }
      break;
    case 'union': {
      // C cannot tell which member a union holds: the writer is told (`choices`), the reader prints that member.
      const m = chosenMember(type, value);
      if (choices === 'inline') out.push(String(m));
      else choices?.push(m);
      const member = type.fields[m]!;
      tokens(member.type, (value as Record<string, unknown>)[member.name], out, choices);
      break;
    }
    case 'bits':
      out.push(String(value));
      break;
    case 'aligned':
      tokens(type.inner, value, out, choices);
      break;
  }
  return out;
}

/**
 * Whether `decoded` agrees with `value`: equal, except that a union decoded to every member's view
 * is compared on the member `value` names (the other views are what the bytes mean to them).
 */
export function agrees(type: FieldType, decoded: unknown, value: unknown): boolean {
  switch (type.kind) {
    case 'array':
      return (value as unknown[]).every((item, i) => agrees(type.element, (decoded as unknown[])[i], item));
    case 'struct':
      return valuedFields(type).every((field) =>
        agrees(
          field.type,
          (decoded as Record<string, unknown>)[field.name],
          (value as Record<string, unknown>)[field.name],
        ),
      );
    case 'union': {
      const member = type.fields[chosenMember(type, value)]!;
      const got = (decoded as Record<string, unknown>)[member.name];
      if (type.decodeMember !== undefined && type.decodeMember !== member.name) return true;
      return agrees(member.type, got, (value as Record<string, unknown>)[member.name]);
    }
    case 'aligned':
      return agrees(type.inner, decoded, value);
    case 'bytes':
      return decoded instanceof Uint8Array && Buffer.from(decoded).equals(Buffer.from(value as Uint8Array));
    default:
      return Object.is(decoded, value) || (typeof value === 'number' && decoded === value);
  }
}

/** Runs `fn` and returns its result or a comparable description of what it threw. */
export function outcome(fn: () => unknown): unknown {
  try {
    return { ok: fn() };
  } catch (error) {
    const e = error as Error & { code?: string; path?: string };
    return { error: e.name, code: e.code, path: e.path, message: e.message };
  }
}
