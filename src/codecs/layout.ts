/**
 * C-ABI struct layout, exactly as GCC lays structs out on x86_64 Linux: each field at the next
 * multiple of its alignment (natural, raised by `_Alignas`, capped by `#pragma pack`), the struct
 * aligned to its largest field alignment (raised by `__attribute__((aligned))`) and its size rounded
 * up to that alignment.
 */
import { SchemaError } from '../errors.js';
import { assertFieldType, checkAlignment, type FieldLayout, type FieldType, isCIdentifier, MAX_SIZE } from './types.js';

/** Struct options: `pack` ≡ `#pragma pack(n)`, `align` ≡ `__attribute__((aligned(n)))`, `endian` = byte order. */
export interface StructOptions {
  readonly pack?: 1 | 2 | 4 | 8 | 16;
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
  const { pack, align, endian = 'little' } = options;
  if (pack !== undefined && ![1, 2, 4, 8, 16].includes(pack)) {
    throw new SchemaError(`struct ${name}: option pack: expected 1, 2, 4, 8 or 16, got ${String(pack)}`);
  }
  if (align !== undefined) checkAlignment(`struct ${name}: option align`, align);
  if (endian !== 'little' && endian !== 'big') {
    throw new SchemaError(`struct ${name}: option endian: expected 'little' or 'big', got ${String(endian)}`);
  }
  return { ...options, endian };
}

/** The alignment a field of this type gets in a struct (before pack). */
function fieldAlign(type: FieldType): number {
  return type.kind === 'aligned' ? Math.max(type.alignment, type.inner.align) : type.align;
}

/** Lays out fields in declaration order. */
export function layoutStruct(
  name: string,
  entries: readonly (readonly [string, FieldType])[],
  options: StructOptions,
): Layout {
  if (entries.length === 0)
    throw new SchemaError(`struct ${name}: expected at least one field, got none (C has no empty structs)`);
  const seen = new Set<string>();
  const fields: FieldLayout[] = [];
  let offset = 0;
  let structAlign = 1;
  for (const [fieldName, type] of entries) {
    checkName(`struct ${name}: field name`, fieldName);
    if (seen.has(fieldName))
      throw new SchemaError(`struct ${name}: duplicate field ${fieldName}; field names must be unique`);
    seen.add(fieldName);
    assertFieldType(`struct ${name}: field ${fieldName}`, type);
    let align = fieldAlign(type);
    // #pragma pack caps every member's alignment, _Alignas included (GCC applies maximum_field_alignment last).
    if (options.pack !== undefined) align = Math.min(align, options.pack);
    offset = roundUp(offset, align);
    fields.push(Object.freeze({ name: fieldName, type, offset, size: type.size, align }));
    offset += type.size;
    structAlign = Math.max(structAlign, align);
  }
  if (options.align !== undefined) structAlign = Math.max(structAlign, options.align);
  const size = roundUp(offset, structAlign);
  if (size > MAX_SIZE) throw new SchemaError(`struct ${name}: ${size} bytes exceeds the limit of ${MAX_SIZE}`);
  return { size, align: structAlign, fields: Object.freeze(fields) };
}

function roundUp(n: number, align: number): number {
  return Math.ceil(n / align) * align;
}

/** Byte ranges [start, end) of a struct not covered by any field (padding), nested structs and arrays included. */
export function paddingRanges(size: number, fields: readonly FieldLayout[]): [number, number][] {
  const ranges: [number, number][] = [];
  let at = 0;
  for (const field of fields) {
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
  for (const range of ranges) {
    const last = out[out.length - 1];
    if (last !== undefined && last[1] === range[0]) last[1] = range[1];
    else out.push([range[0], range[1]]);
  }
  return out;
}
