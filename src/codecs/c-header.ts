/**
 * C headers for struct schemas: the same layout spelled in C (`#pragma pack`, `_Alignas`,
 * `__attribute__((aligned))`, `scalar_storage_order` for big-endian structs), checked by the C
 * compiler itself through `_Static_assert`s on every size, alignment and offset.
 */
import { SchemaError } from '../errors.js';
import { type CompositeShape, type EnumType, type FieldType, isCIdentifier } from './types.js';

/** Options of `cHeader`. */
export interface CHeaderOptions {
  /** Include guard macro; default `TYPED_IPC_<FIRST STRUCT NAME>_H`. */
  readonly guard?: string;
  /** A comment placed at the top of the header. */
  readonly comment?: string;
}

/** The C (stdint.h) spelling of each integer field type. */
export const cInt: Readonly<Record<string, string>> = {
  u8: 'uint8_t',
  u16: 'uint16_t',
  u32: 'uint32_t',
  u64: 'uint64_t',
  i8: 'int8_t',
  i16: 'int16_t',
  i32: 'int32_t',
  i64: 'int64_t',
};

/** Structs and unions reachable from `types`, nested ones first, each once; different ones may not share a name. */
function collectStructs(types: readonly CompositeShape[]): CompositeShape[] {
  const ordered: CompositeShape[] = [];
  const byName = new Map<string, CompositeShape>();
  const visit = (type: FieldType): void => {
    if (type.kind === 'array') visit(type.element);
    else if (type.kind === 'aligned') visit(type.inner);
    else if (type.kind === 'struct' || type.kind === 'union') {
      const tag = `${type.kind} ${type.name}`;
      const known = byName.get(tag);
      if (known !== undefined) {
        if (known.fingerprint !== type.fingerprint) {
          throw new SchemaError(
            `cHeader: two different ${type.kind}s are named ${type.name}; C needs one definition per name, rename one`,
          );
        }
        return;
      }
      byName.set(tag, type);
      for (const field of type.fields) visit(field.type);
      ordered.push(type);
    }
  };
  for (const type of types) visit(type);
  return ordered;
}

/** Names each enum type after the first field that uses it: `<struct>_<field>`. */
function collectEnums(structs: readonly CompositeShape[]): Map<EnumType, string> {
  const names = new Map<EnumType, string>();
  const visit = (type: FieldType, name: string): void => {
    if (type.kind === 'array') visit(type.element, name);
    else if (type.kind === 'aligned') visit(type.inner, name);
    else if (type.kind === 'enum' && !names.has(type)) names.set(type, name);
  };
  for (const struct of structs) for (const field of struct.fields) visit(field.type, `${struct.name}_${field.name}`);
  return names;
}

function enumType(type: FieldType): EnumType | undefined {
  if (type.kind === 'enum') return type;
  if (type.kind === 'array') return enumType(type.element);
  if (type.kind === 'aligned') return enumType(type.inner);
  return undefined;
}

/**
 * The comment after a member that says what C cannot: which enum an integer holds (and whether
 * unknown values pass), and that a `uint8_t x[n]` is an array of numbers rather than bytes.
 * `fromCHeader` reads these back, so a header round-trips to the same schemas.
 */
function fieldNote(type: FieldType, enums: ReadonlyMap<EnumType, string>): string | undefined {
  const enumeration = enumType(type);
  if (enumeration !== undefined) {
    return `enum ${enums.get(enumeration)}${enumeration.allowUnknown ? ', allowUnknown' : ''}`;
  }
  let inner: FieldType = type.kind === 'aligned' ? type.inner : type;
  while (inner.kind === 'array') {
    if (inner.element.kind === 'int' && inner.element.name === 'u8') return 'u8 array';
    inner = inner.element;
  }
  return undefined;
}

/** A C declaration of `name` with `type`: `uint16_t x`, `struct r x[3]`, `_Alignas(16) int32_t x[2][4]`. */
function declaration(type: FieldType, name: string): string {
  switch (type.kind) {
    case 'int':
      return `${cInt[type.name]} ${name}`;
    case 'float':
      return `${type.name === 'f32' ? 'float' : 'double'} ${name}`;
    case 'bool':
      return `bool ${name}`;
    case 'char':
      return `char ${name}[${type.length}]`;
    case 'bytes':
      return `uint8_t ${name}[${type.length}]`;
    case 'enum':
      return `${cInt[type.base.name]} ${name}`;
    case 'struct':
    case 'union':
      return `${type.kind} ${type.name} ${name}`;
    case 'bits':
      // A zero-width bitfield is unnamed in C.
      return type.width === 0 ? `${cInt[type.base.name]} : 0` : `${cInt[type.base.name]} ${name} : ${type.width}`;
    case 'array':
      return declaration(type.element, `${name}[${type.length}]`);
    case 'aligned':
      return `_Alignas(${type.alignment}) ${declaration(type.inner, name)}`;
  }
}

/** Whether a type carries a user-requested alignment (`aligned` option or `_Alignas`), as GCC tracks it. */
function userAligned(type: FieldType): boolean {
  if (type.kind === 'aligned') return true;
  if (type.kind === 'array') return userAligned(type.element);
  if (type.kind === 'struct' || type.kind === 'union')
    return type.alignOption !== undefined || type.fields.some((field) => userAligned(field.type));
  return false;
}

/** Whether `#pragma pack` lowers a member of user-aligned struct type, which GCC's -Wpacked-not-aligned reports. */
function packLowersUserAlignment(struct: CompositeShape): boolean {
  return (
    (struct.pack !== undefined || struct.packed) &&
    struct.fields.some((field) => field.type.align > field.align && userAligned(field.type))
  );
}

/** Whether a union holds a struct or union of the other byte order, which GCC's -Wscalar-storage-order reports. */
function unionMixesOrder(type: CompositeShape): boolean {
  const differs = (field: FieldType): boolean => {
    if (field.kind === 'array') return differs(field.element);
    if (field.kind === 'aligned') return differs(field.inner);
    return (field.kind === 'struct' || field.kind === 'union') && field.endian !== type.endian;
  };
  return type.kind === 'union' && type.fields.some((field) => differs(field.type));
}

/**
 * A C header declaring `types` (and every struct they nest) with their exact layout: compiles with
 * `cc -std=c11 -Wall -Werror`, asserts every size and offset, and defines each fingerprint.
 *
 * @example
 * ```ts
 * writeFileSync('sample.h', cHeader([Sample], { guard: 'SAMPLE_H' }));
 * ```
 * @throws {@link SchemaError} when two different structs share a name, enum constants would clash,
 *   or the guard is not a C identifier.
 */
export function cHeader(types: CompositeShape | readonly CompositeShape[], options: CHeaderOptions = {}): string {
  const roots = Array.isArray(types) ? (types as readonly CompositeShape[]) : [types as CompositeShape];
  if (roots.length === 0) throw new SchemaError('cHeader: expected at least one struct type, got none');
  for (const root of roots) {
    if (root?.kind !== 'struct' && root?.kind !== 'union') {
      throw new SchemaError(`cHeader: expected struct or union types, got ${String(root)}`);
    }
  }
  const guard = options.guard ?? `TYPED_IPC_${roots[0]!.name.toUpperCase()}_H`;
  if (!isCIdentifier(guard)) throw new SchemaError(`cHeader: guard ${JSON.stringify(guard)} is not a C identifier`);
  const structs = collectStructs(roots);
  const enums = collectEnums(structs);

  const lines: string[] = [];
  if (options.comment !== undefined) lines.push(`/* ${options.comment.replaceAll('*/', '* /')} */`);
  lines.push(
    '/* Generated by typed-ipc from the struct schemas: do not edit; regenerate when a schema changes. */',
    `#ifndef ${guard}`,
    `#define ${guard}`,
    '',
    '#include <stdbool.h>',
    '#include <stddef.h>',
    '#include <stdint.h>',
    '',
  );

  const constants = new Set<string>();
  for (const [type, name] of enums) {
    lines.push(`/* Values of the ${type.base.name} field(s) declared as enum ${name}. */`, `enum ${name} {`);
    for (const [member, value] of type.values) {
      const constant = `${name.toUpperCase()}_${member}`;
      if (constants.has(constant)) {
        throw new SchemaError(`cHeader: enum constant ${constant} would be declared twice; rename a member or field`);
      }
      constants.add(constant);
      lines.push(`  ${constant} = ${value},`);
    }
    lines.push('};', '');
  }

  for (const struct of structs) {
    const upper = struct.name.toUpperCase();
    const tag = `${struct.kind} ${struct.name}`;
    const attributes: string[] = [];
    if (struct.packed) attributes.push('packed');
    if (struct.alignOption !== undefined) attributes.push(`aligned(${struct.alignOption})`);
    if (struct.endian === 'big') attributes.push('scalar_storage_order("big-endian")');
    const attribute = attributes.length === 0 ? '' : ` __attribute__((${attributes.join(', ')}))`;
    const quietPack = packLowersUserAlignment(struct);
    const quietOrder = unionMixesOrder(struct);
    const quiet = quietPack || quietOrder;
    if (quiet) lines.push('#pragma GCC diagnostic push');
    // The schema asks for pack to cap member alignment below what they request; that is the point.
    if (quietPack) lines.push('#pragma GCC diagnostic ignored "-Wpacked-not-aligned"');
    // A union's members keep their own byte order: each reads the bytes its own way, as asked.
    if (quietOrder) lines.push('#pragma GCC diagnostic ignored "-Wscalar-storage-order"');
    if (struct.pack !== undefined) lines.push(`#pragma pack(push, ${struct.pack})`);
    lines.push(`${struct.kind}${attribute} ${struct.name} {`);
    for (const field of struct.fields) {
      const note = fieldNote(field.type, enums);
      lines.push(`  ${declaration(field.type, field.name)};${note === undefined ? '' : ` /* ${note} */`}`);
    }
    lines.push('};');
    if (struct.pack !== undefined) lines.push('#pragma pack(pop)');
    if (quiet) lines.push('#pragma GCC diagnostic pop');
    lines.push(
      `_Static_assert(sizeof(${tag}) == ${struct.size}, "typed-ipc: sizeof(${tag})");`,
      `_Static_assert(_Alignof(${tag}) == ${struct.align}, "typed-ipc: _Alignof(${tag})");`,
    );
    for (const field of struct.fields) {
      // offsetof cannot name a bitfield; its bytes are covered by the size and the neighbours' offsets.
      if (field.type.kind === 'bits') continue;
      lines.push(
        `_Static_assert(offsetof(${tag}, ${field.name}) == ${field.offset}, "typed-ipc: offsetof(${tag}, ${field.name})");`,
      );
    }
    lines.push(
      `#define ${upper}_SIZE ${struct.size}`,
      `#define ${upper}_FINGERPRINT "${struct.fingerprint}"`,
      `#define ${upper}_FINGERPRINT_U64 UINT64_C(0x${struct.fingerprint})`,
      '',
    );
  }
  lines.push(`#endif /* ${guard} */`, '');
  return lines.join('\n');
}
