/**
 * Field types of a struct schema: plain data with a phantom type that `Infer` reads. Each type knows
 * its natural C size and alignment on x86_64 (System V ABI); struct layout lives in `layout.ts`.
 */
import { SchemaError } from '../errors.js';

/** Common shape of every field type. */
interface TypeBase<T> {
  /** C size in bytes. */
  readonly size: number;
  /** Natural C alignment in bytes (before `pack`). */
  readonly align: number;
  /** Phantom: the value type that `Infer` reads; never present at run time. */
  readonly '~type'?: T;
}

/** Names of the integer types. */
export type IntName = 'u8' | 'u16' | 'u32' | 'u64' | 'i8' | 'i16' | 'i32' | 'i64';

/** An integer type; 64-bit integers are bigint. */
export interface IntType<N extends IntName = IntName, T = number | bigint> extends TypeBase<T> {
  readonly kind: 'int';
  readonly name: N;
  readonly signed: boolean;
  /** True for u64/i64, whose values are bigint. */
  readonly big: boolean;
  readonly min: T;
  readonly max: T;
}

/** A floating-point type. */
export interface FloatType<N extends 'f32' | 'f64' = 'f32' | 'f64'> extends TypeBase<number> {
  readonly kind: 'float';
  readonly name: N;
}

/** C `_Bool` (one byte, 0 or 1). */
export interface BoolType extends TypeBase<boolean> {
  readonly kind: 'bool';
  readonly name: 'bool';
}

/** C `char x[n]`: a UTF-8 string of at most n bytes, NUL-padded. */
export interface CharType extends TypeBase<string> {
  readonly kind: 'char';
  readonly length: number;
}

/** C `uint8_t x[n]`: exactly n raw bytes. */
export interface BytesType extends TypeBase<Uint8Array> {
  readonly kind: 'bytes';
  readonly length: number;
}

/** C `type x[n]`: a JS array of exactly n elements. */
export interface ArrayType<E extends ElementType = ElementType> extends TypeBase<Infer<E>[]> {
  readonly kind: 'array';
  readonly element: E;
  readonly length: number;
}

/** Integer types an enum may be based on. */
export type EnumBase = IntType<'u8' | 'u16' | 'u32' | 'i8' | 'i16' | 'i32', number>;

/** Options of `enumOf`. */
export interface EnumOptions {
  /** Let values outside the declared ones through (as numbers) instead of refusing them. */
  readonly allowUnknown?: boolean;
}

/** An enumeration stored as its integer base type; values are the member names. */
export interface EnumType<K extends string = string, T = K | number> extends TypeBase<T> {
  readonly kind: 'enum';
  readonly base: EnumBase;
  /** Member name → integer value, in declaration order. */
  readonly members: Readonly<Record<K, number>>;
  readonly allowUnknown: boolean;
  /** Integer value → member name (first name declared for a value). */
  readonly names: ReadonlyMap<number, K>;
  /** Member name → integer value. */
  readonly values: ReadonlyMap<string, number>;
}

/** C `_Alignas(n) type x`: a field aligned to more than its natural alignment. */
export interface AlignedType<I extends ElementType = ElementType> extends TypeBase<Infer<I>> {
  readonly kind: 'aligned';
  readonly inner: I;
  /** The `_Alignas` value. */
  readonly alignment: number;
}

/** What struct and union shapes share: a named, laid-out group of fields with its own byte order. */
interface CompositeBase<T> extends TypeBase<T> {
  readonly name: string;
  readonly endian: 'little' | 'big';
  readonly pack: number | undefined;
  /** The `packed` option (`__attribute__((packed))`). */
  readonly packed: boolean;
  /** The `align` option, if any. */
  readonly alignOption: number | undefined;
  readonly fields: readonly FieldLayout[];
  readonly fingerprint: string;
}

/** The shape of a struct type as seen by the layout, codecs and generators (see `struct.ts`). */
export interface StructShape<T = unknown> extends CompositeBase<T> {
  readonly kind: 'struct';
}

/**
 * The shape of a union type (see `union.ts`): every member at offset 0 (a bitfield member at bit
 * 0), size and alignment those of the largest member. A value names exactly one member.
 */
export interface UnionShape<T = unknown> extends CompositeBase<T> {
  readonly kind: 'union';
  /** The one member `decode` reads, if the union was declared with `{ decode: name }`; else every member. */
  readonly decodeMember: string | undefined;
}

/** A struct or a union: a type with named fields. */
export type CompositeShape<T = unknown> = StructShape<T> | UnionShape<T>;

/**
 * C bitfield `base name : width`: an integer of `width` bits inside the storage of `base` (u8..u64,
 * i8..i64; signed bases give signed fields). Values are numbers, or bigints for 64-bit bases. Width
 * 0 is C's unnamed `base : 0`, which holds no value and moves the next bitfield to a fresh unit.
 */
export interface BitsType<T = number | bigint | undefined> extends TypeBase<T> {
  readonly kind: 'bits';
  readonly base: IntType;
  readonly width: number;
  readonly signed: boolean;
  /** True for 64-bit bases, whose values are bigint. */
  readonly big: boolean;
  readonly min: T;
  readonly max: T;
  /**
   * The field's first bit within the byte at its offset (0..7), set by the layout; the type the user
   * declares has 0. A field's position is `offset * 8 + type.shift` bits, counted from the least
   * significant bit of byte 0, as GCC counts on x86-64.
   */
  readonly shift: number;
}

/** A field of a laid-out struct. */
export interface FieldLayout {
  readonly name: string;
  readonly type: FieldType;
  /** Byte offset from the start of the struct (for a bitfield: of the byte holding its first bit). */
  readonly offset: number;
  /** Bytes the field spans (a bitfield: the bytes its bits touch; 0 for a zero-width bitfield). */
  readonly size: number;
  /** Alignment used for this field (after `_Alignas` and `pack`). */
  readonly align: number;
}

/** Types that may be array elements or wrapped by `aligned`. */
export type ElementType =
  | IntType
  | FloatType
  | BoolType
  | CharType
  | BytesType
  | ArrayType
  | EnumType
  | StructShape
  | UnionShape;

/** Any field type. */
export type FieldType = ElementType | AlignedType | BitsType<number | bigint | undefined>;

/** The TypeScript value type of a schema type. */
export type Infer<S> = S extends { readonly '~type'?: infer T } ? T : never;

function int<N extends IntName, T extends number | bigint>(name: N, size: number, signed: boolean): IntType<N, T> {
  const bits = BigInt(size * 8);
  const big = size === 8;
  const min = signed ? -(1n << (bits - 1n)) : 0n;
  const max = signed ? (1n << (bits - 1n)) - 1n : (1n << bits) - 1n;
  return Object.freeze({
    kind: 'int',
    name,
    size,
    align: size,
    signed,
    big,
    min: (big ? min : Number(min)) as T,
    max: (big ? max : Number(max)) as T,
  });
}

/** Unsigned 8-bit integer (`uint8_t`). */
export const u8 = int<'u8', number>('u8', 1, false);
/** Unsigned 16-bit integer (`uint16_t`). */
export const u16 = int<'u16', number>('u16', 2, false);
/** Unsigned 32-bit integer (`uint32_t`). */
export const u32 = int<'u32', number>('u32', 4, false);
/** Unsigned 64-bit integer (`uint64_t`), a bigint. */
export const u64 = int<'u64', bigint>('u64', 8, false);
/** Signed 8-bit integer (`int8_t`). */
export const i8 = int<'i8', number>('i8', 1, true);
/** Signed 16-bit integer (`int16_t`). */
export const i16 = int<'i16', number>('i16', 2, true);
/** Signed 32-bit integer (`int32_t`). */
export const i32 = int<'i32', number>('i32', 4, true);
/** Signed 64-bit integer (`int64_t`), a bigint. */
export const i64 = int<'i64', bigint>('i64', 8, true);
/** 32-bit IEEE float (`float`). */
export const f32: FloatType<'f32'> = Object.freeze({ kind: 'float', name: 'f32', size: 4, align: 4 });
/** 64-bit IEEE float (`double`). */
export const f64: FloatType<'f64'> = Object.freeze({ kind: 'float', name: 'f64', size: 8, align: 8 });
/** Boolean (`bool`, one byte holding 0 or 1). */
export const bool: BoolType = Object.freeze({ kind: 'bool', name: 'bool', size: 1, align: 1 });

/** Largest size of any type or struct: a message must fit a Uint8Array and a C `int`. */
export const MAX_SIZE = 0x7fff_ffff;
/** Largest alignment accepted by `aligned` and the `align` option. */
export const MAX_ALIGN = 4096;

function checkLength(what: string, n: unknown): number {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1 || n > MAX_SIZE) {
    throw new SchemaError(
      `${what}: expected a length from 1 to ${MAX_SIZE}, got ${String(n)}; C has no zero-length or negative arrays`,
    );
  }
  return n;
}

/** Checks an alignment value: a power of two from 1 to MAX_ALIGN. */
export function checkAlignment(what: string, n: unknown): number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_ALIGN || (n & (n - 1)) !== 0) {
    throw new SchemaError(`${what}: expected a power of two from 1 to ${MAX_ALIGN}, got ${String(n)}`);
  }
  return n;
}

function checkType(what: string, type: unknown, allowAligned: boolean): asserts type is FieldType {
  const kind = (type as { kind?: unknown } | null)?.kind;
  const known = ['int', 'float', 'bool', 'char', 'bytes', 'array', 'enum', 'struct', 'union', 'aligned', 'bits'];
  if (typeof type !== 'object' || type === null || typeof kind !== 'string' || !known.includes(kind)) {
    throw new SchemaError(`${what}: expected a field type (u8, f64, char(n), array(...), a struct, ...), got ${type}`);
  }
  if (kind === 'aligned' && !allowAligned) {
    throw new SchemaError(`${what}: aligned(...) applies to a struct field only, not to an array element`);
  }
  if (kind === 'bits' && !allowAligned) {
    throw new SchemaError(`${what}: bits(...) is a struct or union member only (C has no arrays of bitfields)`);
  }
}

/**
 * `bits(base, width)`: a C bitfield `base name : width` (GCC's x86-64 allocation; see `layout.ts`).
 * `bits(u32, 0)` is C's `uint32_t : 0`: no value, the next bitfield starts a fresh u32 unit.
 */
export function bits<const B extends IntType, const W extends number>(
  base: B,
  width: W,
): BitsType<W extends 0 ? undefined : B extends IntType<IntName, infer T> ? T : never> {
  if (base?.kind !== 'int') {
    throw new SchemaError(`bits(base, width): expected an integer base (u8..u64, i8..i64), got ${String(base)}`);
  }
  const limit = base.size * 8;
  if (typeof width !== 'number' || !Number.isInteger(width) || width < 0 || width > limit) {
    throw new SchemaError(
      `bits(${base.name}, width): expected a width from 0 to ${limit} (the bits of ${base.name}), got ${String(width)}`,
    );
  }
  const w = BigInt(width);
  const min = base.signed && width > 0 ? -(1n << (w - 1n)) : 0n;
  const max = width === 0 ? 0n : base.signed ? (1n << (w - 1n)) - 1n : (1n << w) - 1n;
  return Object.freeze({
    kind: 'bits',
    base,
    width,
    signed: base.signed,
    big: base.big,
    min: base.big ? min : Number(min),
    max: base.big ? max : Number(max),
    size: base.size,
    align: base.align,
    shift: 0,
  }) as never;
}

/** The same bitfield type placed at `shift` bits into its first byte (the layout's copy). */
export function placeBits(type: BitsType, shift: number): BitsType {
  return shift === type.shift ? type : Object.freeze({ ...type, shift });
}

/** `char x[n]`: a UTF-8 string of at most `n` bytes, NUL-padded. */
export function char(n: number): CharType {
  const length = checkLength('char(n)', n);
  return Object.freeze({ kind: 'char', length, size: length, align: 1 });
}

/** `uint8_t x[n]`: exactly `n` raw bytes as a Uint8Array. */
export function bytes(n: number): BytesType {
  const length = checkLength('bytes(n)', n);
  return Object.freeze({ kind: 'bytes', length, size: length, align: 1 });
}

/** `type x[n]`: exactly `n` elements (arrays of structs and of arrays too). */
export function array<const E extends ElementType>(element: E, n: number): ArrayType<E> {
  checkType('array(type, n)', element, false);
  const length = checkLength('array(type, n)', n);
  const size = element.size * length;
  if (size > MAX_SIZE) throw new SchemaError(`array(type, ${n}): ${size} bytes exceeds the limit of ${MAX_SIZE}`);
  return Object.freeze({ kind: 'array', element, length, size, align: element.align }) as ArrayType<E>;
}

const enumBases = new Set(['u8', 'u16', 'u32', 'i8', 'i16', 'i32']);
const cIdentifier = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * `enumOf(base, { NAME: value })`: an integer field whose values are the member names. Values must
 * fit both the base type and a C `int` (C11 enum constants are ints).
 */
export function enumOf<const M extends Record<string, number>, const O extends EnumOptions = {}>(
  base: EnumBase,
  members: M,
  options?: O,
): EnumType<keyof M & string, O extends { allowUnknown: true } ? (keyof M & string) | number : keyof M & string> {
  if (base?.kind !== 'int' || !enumBases.has(base.name)) {
    throw new SchemaError(`enumOf(base, ...): expected base u8, u16, u32, i8, i16 or i32, got ${String(base?.name)}`);
  }
  const names = new Map<number, keyof M & string>();
  const values = new Map<string, number>();
  const entries = Object.entries(members ?? {});
  if (entries.length === 0) throw new SchemaError('enumOf(base, members): expected at least one member, got none');
  for (const [name, value] of entries) {
    if (!cIdentifier.test(name)) {
      throw new SchemaError(
        `enumOf: member name ${JSON.stringify(name)} is not a C identifier; use [A-Za-z_][A-Za-z0-9_]*`,
      );
    }
    const lo = Math.max(base.min, -0x8000_0000);
    const hi = Math.min(base.max, 0x7fff_ffff);
    if (typeof value !== 'number' || !Number.isInteger(value) || value < lo || value > hi) {
      throw new SchemaError(
        `enumOf: member ${name}: expected an integer in ${lo}..${hi} (${base.name}, C int), got ${value}`,
      );
    }
    values.set(name, value);
    if (!names.has(value)) names.set(value, name as keyof M & string);
  }
  return Object.freeze({
    kind: 'enum',
    base,
    members: Object.freeze({ ...members }),
    allowUnknown: options?.allowUnknown === true,
    names,
    values,
    size: base.size,
    align: base.align,
  }) as never;
}

/** `_Alignas(n) type x`: a struct field aligned to `n`, which must be at least its natural alignment. */
export function aligned<const I extends ElementType>(type: I, n: number): AlignedType<I> {
  checkType('aligned(type, n)', type, false);
  const alignment = checkAlignment('aligned(type, n)', n);
  if (alignment < type.align) {
    throw new SchemaError(
      `aligned(type, ${n}): ${n} is below the type's natural alignment ${type.align}; C's _Alignas cannot reduce alignment`,
    );
  }
  return Object.freeze({
    kind: 'aligned',
    inner: type,
    alignment,
    size: type.size,
    align: alignment,
  }) as AlignedType<I>;
}

/** Checks that a value is a field type usable as a struct member. */
export function assertFieldType(what: string, type: unknown): asserts type is FieldType {
  checkType(what, type, true);
}

/** Whether `name` is a C identifier (also a safe JS property name once reserved names are excluded). */
export function isCIdentifier(name: string): boolean {
  return cIdentifier.test(name);
}

/** Short C-like spelling of a type for messages, fingerprints and headers: `u16`, `char[16]`, `u8[4][2]`. */
export function typeName(type: FieldType): string {
  switch (type.kind) {
    case 'int':
    case 'float':
    case 'bool':
      return type.name;
    case 'char':
      return `char[${type.length}]`;
    case 'bytes':
      return `bytes[${type.length}]`;
    case 'array':
      return `${typeName(type.element)}[${type.length}]`;
    case 'enum':
      return `enum ${type.base.name} {${[...type.values].map(([k, v]) => `${k}=${v}`).join(',')}}`;
    case 'struct':
      return `struct ${type.name}`;
    case 'union':
      return `union ${type.name}`;
    case 'bits':
      return `${type.base.name}:${type.width}`;
    case 'aligned':
      return `_Alignas(${type.alignment}) ${typeName(type.inner)}`;
  }
}
