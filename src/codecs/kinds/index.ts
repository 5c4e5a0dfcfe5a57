/**
 * The kind table: the one place that picks a kind module by `type.kind` (as TypeBox's compiler picks
 * a function per schema kind). The generated codec (`emit.ts`) and the interpreted one
 * (`interpret.ts`) both dispatch through `kindOf`; see `kind.ts` for what a kind module provides.
 */
import type { FieldType } from '../types.js';
import { aligned } from './aligned.js';
import { array } from './array.js';
import { bits } from './bits.js';
import { bool } from './bool.js';
import { bytes } from './bytes.js';
import { char } from './char.js';
import { enumeration } from './enum.js';
import { floats } from './floats.js';
import { integers } from './integers.js';
import type { Kind } from './kind.js';
import { struct } from './struct.js';
import { union } from './union.js';

export type { Emit, Kind, Offset, Path, Snapshot, Walk } from './kind.js';

/** Every kind module, keyed by the `kind` of the types it handles. */
const kinds: { readonly [K in FieldType['kind']]: Kind<Extract<FieldType, { kind: K }>> } = {
  int: integers,
  float: floats,
  bool,
  char,
  bytes,
  enum: enumeration,
  array,
  struct,
  union,
  aligned,
  bits,
};

/** The kind module of a type. */
export function kindOf<T extends FieldType>(type: T): Kind<T> {
  return kinds[type.kind] as unknown as Kind<T>;
}
