/**
 * `union(name, fields, options)`: a C union. Every member starts at offset 0; the size and alignment
 * are the largest member's, as GCC makes them. A value names exactly one member (`{ asFloat: 1.5 }`):
 * encode refuses none or several. Decoding gives every member's view of the bytes (each member that
 * can read them), or only the member named by `decode`.
 */
import { SchemaError } from '../errors.js';
import { CompositeType, type FieldsDecl, fieldEntries, type StructTypeOptions } from './struct.js';
import type { FieldType, Infer, UnionShape } from './types.js';

/** Options of `union`: layout options, how the codec is built, and which member decode reads. */
export interface UnionTypeOptions extends StructTypeOptions {
  /** Decode only this member (the value then encodes back as it is); default: every member's view. */
  readonly decode?: string;
}

/** The value type of a union: any of its members; encode requires exactly one to be present. */
export type UnionValue<F extends FieldsDecl> = F extends readonly (readonly [string, FieldType])[]
  ? { -readonly [E in F[number] as E[0]]?: Infer<E[1]> }
  : { -readonly [K in keyof F]?: Infer<F[K]> };

/** A union type: schema, C layout and fixed-size codec in one. */
export class UnionType<T = unknown> extends CompositeType<T> implements UnionShape<T> {
  declare readonly kind: 'union';
  /** The one member decode reads, or undefined for every member's view. */
  declare readonly decodeMember: string | undefined;

  constructor(name: string, entries: readonly (readonly [string, FieldType])[], options: UnionTypeOptions = {}) {
    const decodeMember = options?.decode;
    if (decodeMember !== undefined && !entries.some(([field]) => field === decodeMember)) {
      throw new SchemaError(
        `union ${name}: option decode: ${JSON.stringify(decodeMember)} is no member; members: ${entries.map(([f]) => f).join(', ')}`,
      );
    }
    if (entries.some(([, type]) => (type as { kind?: unknown })?.kind === 'bits') && options?.endian === 'big') {
      throw new SchemaError(`union ${name}: bitfields in a big-endian union are not supported; use little-endian`);
    }
    super('union', name, entries, options, { decodeMember });
  }
}

/** Declares a C union: `union('word', { asFloat: f32, asBits: u32 })`; a value names one member. */
export function union<const F extends FieldsDecl>(
  name: string,
  fields: F,
  options?: UnionTypeOptions,
): UnionType<UnionValue<F>> {
  return new UnionType<UnionValue<F>>(name, fieldEntries(`union ${name}`, fields), options);
}
