/**
 * C-ABI struct layout, exactly as GCC lays structs out on x86_64 Linux: each field at the next
 * multiple of its alignment (natural, raised by `_Alignas`, capped by `#pragma pack`), the struct
 * aligned to its largest field alignment (raised by `__attribute__((aligned))`) and its size rounded
 * up to that alignment.
 *
 * Bitfields follow GCC's x86-64 (System V) rules: a bitfield goes at the next free bit unless it
 * would cross a boundary of its base type's alignment, then it starts at that boundary; a named
 * bitfield aligns the struct like its base type; a zero-width one moves the next field to a
 * boundary of its base type and aligns nothing. Under `#pragma pack` or `packed` there is no
 * boundary rule (bits follow each other, across bytes), and the struct alignment a bitfield brings
 * is capped by `#pragma pack` (and then `packed` does not lower it further) or by `packed` alone. Zero-width bitfields ignore both `packed` and `#pragma pack`.
 */
import { SchemaError } from '../errors.js';
import {
  assertFieldType,
  type BitsType,
  checkAlignment,
  type FieldLayout,
  type FieldType,
  isCIdentifier,
  MAX_SIZE,
  placeBits,
} from './types.js';

/**
 * Struct options: `pack` ≡ `#pragma pack(n)`, `packed` ≡ `__attribute__((packed))`, `align` ≡
 * `__attribute__((aligned(n)))`, `endian` = byte order.
 */
export interface StructOptions {
  readonly pack?: 1 | 2 | 4 | 8 | 16;
  /**
   * `__attribute__((packed))`: every member at alignment 1, except members declared `aligned(...)`
   * (`_Alignas`), which keep theirs (unlike `pack: 1`, which caps those too).
   */
  readonly packed?: boolean;
  readonly align?: number;
  readonly endian?: 'little' | 'big';
}

/** The computed layout of a struct. */
export interface Layout {
  readonly size: number;
  readonly align: number;
  readonly fields: readonly FieldLayout[];
}

/** Names refused as fields: they would change an object's prototype or shadow its machinery. */
const reserved = new Set(['__proto__', 'constructor', 'prototype']);

/** C keywords (C11 plus common GCC ones) cannot name a field or struct in the generated header. */
const cKeywords = new Set(
  (
    'auto break case char const continue default do double else enum extern float for goto if inline int long ' +
    'register restrict return short signed sizeof static struct switch typedef union unsigned void volatile while ' +
    '_Alignas _Alignof _Atomic _Bool _Complex _Generic _Imaginary _Noreturn _Static_assert _Thread_local ' +
    'asm typeof bool true false alignas alignof noreturn static_assert thread_local NULL'
  ).split(' '),
);

/** Checks a struct or field name: a C identifier, not a C keyword, not `__proto__`/`constructor`/`prototype`. */
export function checkName(what: string, name: unknown): string {
  if (typeof name !== 'string' || !isCIdentifier(name)) {
    throw new SchemaError(
      `${what}: expected a C identifier ([A-Za-z_][A-Za-z0-9_]*), got ${JSON.stringify(name) ?? String(name)}`,
    );
  }
  if (reserved.has(name)) {
    throw new SchemaError(`${what}: ${JSON.stringify(name)} is refused because it would alter JS objects; rename it`);
  }
  if (cKeywords.has(name)) throw new SchemaError(`${what}: ${JSON.stringify(name)} is a C keyword; rename it`);
  return name;
}

/** Checks struct options and returns them normalised. */
export function checkOptions(
  name: string,
  options: StructOptions,
): Required<Pick<StructOptions, 'endian'>> & StructOptions {
  const { pack, align, endian = 'little', packed } = options;
  if (pack !== undefined && ![1, 2, 4, 8, 16].includes(pack)) {
    throw new SchemaError(`struct ${name}: option pack: expected 1, 2, 4, 8 or 16, got ${String(pack)}`);
  }
  if (packed !== undefined && typeof packed !== 'boolean') {
    throw new SchemaError(`struct ${name}: option packed: expected true or false, got ${String(packed)}`);
  }
  if (align !== undefined) checkAlignment(`struct ${name}: option align`, align);
  if (endian !== 'little' && endian !== 'big') {
    throw new SchemaError(`struct ${name}: option endian: expected 'little' or 'big', got ${String(endian)}`);
  }
  return { ...options, endian };
}

/** The alignment a member of this type gets (after `packed` and `#pragma pack`). */
function memberAlign(type: FieldType, options: StructOptions): number {
  let align: number;
  if (type.kind === 'aligned') align = Math.max(type.alignment, type.inner.align);
  else align = options.packed === true ? 1 : type.align;
  // #pragma pack caps every member's alignment, _Alignas included (GCC applies maximum_field_alignment last).
  if (options.pack !== undefined) align = Math.min(align, options.pack);
  return align;
}

function checkEntries(what: string, entries: readonly (readonly [string, FieldType])[]): void {
  if (entries.length === 0)
    throw new SchemaError(`${what}: expected at least one field, got none (C has no empty ${what.split(' ')[0]}s)`);
  const seen = new Set<string>();
  for (const [fieldName, type] of entries) {
    checkName(`${what}: field name`, fieldName);
    if (seen.has(fieldName)) throw new SchemaError(`${what}: duplicate field ${fieldName}; field names must be unique`);
    seen.add(fieldName);
    assertFieldType(`${what}: field ${fieldName}`, type);
  }
}

/** Lays out fields in declaration order. */
export function layoutStruct(
  name: string,
  entries: readonly (readonly [string, FieldType])[],
  options: StructOptions,
): Layout {
  checkEntries(`struct ${name}`, entries);
  if (options.endian === 'big' && entries.some(([, type]) => type.kind === 'bits')) {
    // GCC numbers bitfield bits from the other end under scalar_storage_order("big-endian").
    throw new SchemaError(`struct ${name}: bitfields in a big-endian struct are not supported; use little-endian`);
  }
  const fields: FieldLayout[] = [];
  // The next free bit: bitfields allocate bits, every other member whole bytes.
  let bit = 0;
  let structAlign = 1;
  const capped = options.packed === true || options.pack !== undefined;
  for (const [fieldName, type] of entries) {
    if (type.kind === 'bits') {
      const unit = type.base.align * 8;
      if (type.width === 0) {
        // GCC: "such bit-fields are not influenced by any packing due to #pragma pack or attribute packed".
        const zeroAlign = type.base.align;
        bit = roundUp(bit, zeroAlign * 8);
        fields.push(Object.freeze({ name: fieldName, type, offset: bit / 8, size: 0, align: zeroAlign }));
        continue;
      }
      if (!capped && (bit % unit) + type.width > type.base.size * 8) bit = roundUp(bit, unit);
      // The struct alignment a named bitfield brings: #pragma pack caps it and then `packed` does not count.
      const align =
        options.pack !== undefined
          ? Math.min(type.base.align, options.pack)
          : options.packed === true
            ? 1
            : type.base.align;
      const offset = Math.floor(bit / 8);
      const shift = bit % 8;
      const placed: BitsType = placeBits(type, shift);
      fields.push(
        Object.freeze({ name: fieldName, type: placed, offset, size: Math.ceil((shift + type.width) / 8), align }),
      );
      bit += type.width;
      structAlign = Math.max(structAlign, align);
      continue;
    }
    const align = memberAlign(type, options);
    const offset = roundUp(Math.ceil(bit / 8), align);
    fields.push(Object.freeze({ name: fieldName, type, offset, size: type.size, align }));
    bit = (offset + type.size) * 8;
    structAlign = Math.max(structAlign, align);
  }
  if (options.align !== undefined) structAlign = Math.max(structAlign, options.align);
  const size = roundUp(Math.ceil(bit / 8), structAlign);
  if (size > MAX_SIZE) throw new SchemaError(`struct ${name}: ${size} bytes exceeds the limit of ${MAX_SIZE}`);
  return { size, align: structAlign, fields: Object.freeze(fields) };
}

/** Lays out a union: every member at offset 0; size the largest member's, rounded up to the alignment. */
export function layoutUnion(
  name: string,
  entries: readonly (readonly [string, FieldType])[],
  options: StructOptions,
): Layout {
  checkEntries(`union ${name}`, entries);
  const fields: FieldLayout[] = [];
  let size = 0;
  let unionAlign = 1;
  for (const [fieldName, type] of entries) {
    if (type.kind === 'bits' && type.width === 0) {
      throw new SchemaError(`union ${name}: field ${fieldName}: a zero-width bitfield has no place in a union`);
    }
    const align = memberAlign(type, options);
    const bytes = type.kind === 'bits' ? Math.ceil(type.width / 8) : type.size;
    fields.push(Object.freeze({ name: fieldName, type, offset: 0, size: bytes, align }));
    size = Math.max(size, bytes);
    unionAlign = Math.max(unionAlign, align);
  }
  if (options.align !== undefined) unionAlign = Math.max(unionAlign, options.align);
  size = roundUp(size, unionAlign);
  if (size > MAX_SIZE) throw new SchemaError(`union ${name}: ${size} bytes exceeds the limit of ${MAX_SIZE}`);
  return { size, align: unionAlign, fields: Object.freeze(fields) };
}

function roundUp(n: number, align: number): number {
  return Math.ceil(n / align) * align;
}

/**
 * Byte ranges [start, end) of a struct that encodeInto zeroes before the fields' stores: padding
 * (nested structs and arrays included) and the bytes of bitfields, whose stores OR bits in.
 * A union's bytes are not listed: its own store zeroes them (which member is written varies).
 */
export function paddingRanges(size: number, fields: readonly FieldLayout[]): [number, number][] {
  const ranges: [number, number][] = [];
  let at = 0;
  for (const field of fields) {
    // A bitfield does not cover its bytes: they are zeroed with the padding around them.
    if (field.type.kind === 'bits') continue;
    if (field.offset > at) ranges.push([at, field.offset]);
    for (const [start, end] of innerPadding(field.type)) ranges.push([field.offset + start, field.offset + end]);
    at = field.offset + field.size;
  }
  if (size > at) ranges.push([at, size]);
  return merge(ranges);
}

function innerPadding(type: FieldType): [number, number][] {
  switch (type.kind) {
    case 'struct':
      return paddingRanges(type.size, type.fields);
    case 'aligned':
      return innerPadding(type.inner);
    case 'array': {
      const inner = innerPadding(type.element);
      if (inner.length === 0) return [];
      const out: [number, number][] = [];
      for (let i = 0; i < type.length; i++) {
        for (const [start, end] of inner) out.push([i * type.element.size + start, i * type.element.size + end]);
      }
      return out;
    }
    default:
      return [];
  }
}

function merge(ranges: [number, number][]): [number, number][] {
  const out: [number, number][] = [];
  for (const range of [...ranges].sort((a, b) => a[0] - b[0])) {
    const last = out[out.length - 1];
    if (last !== undefined && last[1] >= range[0]) last[1] = Math.max(last[1], range[1]);
    else out.push([range[0], range[1]]);
  }
  return out;
}
