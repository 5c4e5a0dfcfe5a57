/**
 * Layout fingerprints: a hash over everything that decides how bytes are read: struct and field
 * names, types (enum members included), offsets, sizes, alignment and byte order. Equal layouts
 * give equal fingerprints; any change of those gives a different one.
 */
import { createHash } from 'node:crypto';
import type { FieldLayout, FieldType } from './types.js';

function describe(type: FieldType): unknown {
  switch (type.kind) {
    case 'int':
    case 'float':
    case 'bool':
      return type.name;
    case 'char':
    case 'bytes':
      return [type.kind, type.length];
    case 'array':
      return ['array', describe(type.element), type.length];
    case 'enum':
      return ['enum', type.base.name, [...type.values], type.allowUnknown];
    case 'aligned':
      return ['aligned', describe(type.inner), type.alignment];
    case 'struct':
      // Nested structs contribute their own fingerprint, which covers their layout and byte order.
      return ['struct', type.fingerprint];
  }
}

/** Computes a struct's fingerprint: 16 hex digits (64 bits) of SHA-256 over a canonical description. */
export function fingerprintOf(
  name: string,
  size: number,
  align: number,
  endian: 'little' | 'big',
  fields: readonly FieldLayout[],
): string {
  const canonical = JSON.stringify([
    'typed-ipc/struct/v1',
    name,
    size,
    align,
    endian,
    fields.map((field) => [field.name, describe(field.type), field.offset, field.size, field.align]),
  ]);
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}
