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
    case 'union':
      // Nested structs contribute their own fingerprint, which covers their layout and byte order.
      return [type.kind, type.fingerprint];
    case 'bits':
      // The bit position within the first byte; the field's byte offset is in the field's entry.
      return ['bits', type.base.name, type.width, type.shift];
  }
}

/** Computes a struct's or union's fingerprint: 16 hex digits (64 bits) of SHA-256 over a canonical description. */
export function fingerprintOf(
  kind: 'struct' | 'union',
  name: string,
  size: number,
  align: number,
  endian: 'little' | 'big',
  fields: readonly FieldLayout[],
): string {
  const canonical = JSON.stringify([
    `typed-ipc/${kind}/v1`,
    name,
    size,
    align,
    endian,
    // A zero-width bitfield is unnamed in C and holds no value: its name does not change the bytes.
    fields.map((field) => [
      field.type.kind === 'bits' && field.type.width === 0 ? '' : field.name,
      describe(field.type),
      field.offset,
      field.size,
      field.align,
    ]),
  ]);
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}
