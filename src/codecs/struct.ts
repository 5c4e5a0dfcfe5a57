/**
 * `struct(name, fields, options)`: a schema with C layout and its codec. The struct type is at once
 * the schema (usable as a field of other structs), the layout (`size`, `align`, `fields`) and a
 * `MessageCodec` whose encode/decode are generated for this layout.
 */
import type { TSchema } from '@sinclair/typebox';
import type { z } from 'zod';
import { SchemaError } from '../errors.js';
import type { CompiledCodec, MessageCodec } from './codec.js';
import { compileStruct } from './compile.js';
import { fingerprintOf } from './fingerprint.js';
import { interpretStruct } from './interpret.js';
import { checkName, checkOptions, type Layout, layoutStruct, layoutUnion, type StructOptions } from './layout.js';
import type { BitsType, CompositeShape, FieldLayout, FieldType, Infer, StructShape } from './types.js';
import { type StandardSchemaV1, standardOf, typeboxOf, zodOf } from './validators.js';

/** Options of `struct`: layout options plus how the codec is built. */
export interface StructTypeOptions extends StructOptions {
  /** Use the interpreted codec instead of generated code (e.g. where `new Function` is forbidden). */
  readonly interpreted?: boolean;
}

/** Options of `StructType.lending`. */
export interface LendingOptions {
  /**
   * How many decoded messages stay valid at once: the lending codec's buffer holds this many
   * messages (`slots × size` bytes) and reuses them in turn. Default 128.
   */
  readonly slots?: number;
}

/**
 * A struct codec whose decode lends: each message is copied once into a buffer the codec owns and
 * its `bytes(n)` fields are views of that copy, not copies of their own. A decoded value stays valid
 * until `slots` further messages have been decoded with this codec.
 */
export interface LendingCodec<T> extends MessageCodec<T> {
  readonly fixedSize: true;
  /** How many decoded messages stay valid at once. */
  readonly slots: number;
}

const DEFAULT_LENDING_SLOTS = 128;

/** Field declarations: an object (in declaration order) or a list of `[name, type]` pairs. */
export type FieldsDecl = { readonly [name: string]: FieldType } | readonly (readonly [string, FieldType])[];

type Simplify<T> = { -readonly [K in keyof T]: T[K] } & {};

/** A zero-width bitfield: layout only, no value. */
type ZeroWidth = BitsType<undefined>;

/** The value type of a struct with these fields (zero-width bitfields hold no value). */
export type StructValue<F extends FieldsDecl> = F extends readonly (readonly [string, FieldType])[]
  ? Simplify<{ [E in F[number] as E[1] extends ZeroWidth ? never : E[0]]: Infer<E[1]> }>
  : Simplify<{ [K in keyof F as F[K] extends ZeroWidth ? never : K]: Infer<F[K]> }>;

/**
 * The codec methods of a struct or union type. Declared as methods (not function properties) so that
 * a `StructType<Specific>` is assignable to `StructType<unknown>`, as a schema should be; the class
 * installs the generated functions as own properties, with no wrapper call in between.
 */
export interface CompositeType<T> {
  /** Encodes a value (validated first) into a fresh, zero-padded Uint8Array of `size` bytes. */
  encode(value: T): Uint8Array;
  /** Encodes into `target` at `offset` (padding zeroed); returns `size`. Nothing is written on error. */
  encodeInto(value: T, target: Uint8Array, offset?: number): number;
  /** Decodes exactly `size` bytes (or `size` bytes at `offset`). */
  decode(bytes: Uint8Array, offset?: number): T;
  /**
   * As `decode`, with `bytes(n)` fields as views of `bytes` instead of copies: the value shares the
   * input's memory, so use it only on input nothing writes again while the value lives.
   */
  decodeViews(bytes: Uint8Array, offset?: number): T;
  /** Checks a value; returns it typed or throws ValidationError naming the field path. */
  validate(value: unknown): T;
}

/** What struct and union types share: schema, C layout and fixed-size codec in one. */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the interface only types the methods the constructor installs.
export abstract class CompositeType<T = unknown> implements MessageCodec<T>, StandardSchemaV1<T, T> {
  /** `struct` or `union`. */
  abstract readonly kind: 'struct' | 'union';
  /** Phantom: the value type that `Infer` reads. */
  declare readonly '~type'?: T;
  readonly name: string;
  readonly size: number;
  readonly align: number;
  readonly endian: 'little' | 'big';
  readonly pack: number | undefined;
  /** The `packed` option (`__attribute__((packed))`). */
  readonly packed: boolean;
  readonly alignOption: number | undefined;
  /** Fields in declaration order with their offsets, sizes and alignments. */
  readonly fields: readonly FieldLayout[];
  readonly fingerprint: string;
  readonly fixedSize = true;
  /** The generated codec source (or a note that the codec is interpreted). */
  readonly source: string;
  readonly #offsets: ReadonlyMap<string, number>;
  readonly #codec: CompiledCodec<T>;
  #zod: z.ZodType<T> | undefined;
  #typebox: (TSchema & { static: T }) | undefined;
  #standard: StandardSchemaV1.Props<T, T> | undefined;

  protected constructor(
    kind: 'struct' | 'union',
    name: string,
    entries: readonly (readonly [string, FieldType])[],
    options: StructTypeOptions,
    extra: Record<string, unknown> = {},
  ) {
    checkName(`${kind} name`, name);
    const normalised = checkOptions(name, options ?? {});
    const layout: Layout = (kind === 'union' ? layoutUnion : layoutStruct)(name, entries, normalised);
    // The kind and extras must be in place before the codec is generated, which dispatches on them.
    Object.defineProperty(this, 'kind', { value: kind, enumerable: true });
    Object.assign(this, extra);
    this.name = name;
    this.size = layout.size;
    this.align = layout.align;
    this.endian = normalised.endian;
    this.pack = normalised.pack;
    this.packed = normalised.packed === true;
    this.alignOption = normalised.align;
    this.fields = layout.fields;
    this.fingerprint = fingerprintOf(kind, name, layout.size, layout.align, normalised.endian, layout.fields);
    this.#offsets = new Map(layout.fields.map((field) => [field.name, field.offset]));
    const shape = this as unknown as CompositeShape<T>;
    const codec: CompiledCodec<T> = options?.interpreted === true ? interpretStruct(shape) : compileStruct(shape);
    this.encode = codec.encode;
    this.encodeInto = codec.encodeInto;
    this.decode = codec.decode;
    this.decodeViews = codec.decodeViews;
    this.validate = codec.validate;
    this.source = codec.source;
    this.#codec = codec;
  }

  /**
   * A codec for the same messages whose decode does not copy `bytes(n)` fields: it copies the whole
   * message once into the next of `slots` regions of a buffer of its own and hands out views of it.
   * For large messages on a channel (`open(url, Blob.lending())`): a value and its bytes stay valid
   * while at most `slots - 1` further messages are decoded, so handle or `.slice()` what you keep
   * before then, and keep `receiveMany`'s `max` (plus a socket's 64 read ahead) below `slots`.
   * Each call makes a new codec with its own buffer: give each channel its own.
   */
  lending(options: LendingOptions = {}): LendingCodec<T> {
    const slots = options.slots ?? DEFAULT_LENDING_SLOTS;
    if (typeof slots !== 'number' || !Number.isSafeInteger(slots) || slots < 1 || slots * this.size > 0x7fff_ffff) {
      throw new SchemaError(
        `struct ${this.name}: lending({ slots }): expected an integer from 1 to ${Math.floor(0x7fff_ffff / this.size)} (slots × ${this.size} bytes must fit one buffer), got ${String(slots)}`,
      );
    }
    return {
      name: this.name,
      fixedSize: true,
      size: this.size,
      fingerprint: this.fingerprint,
      slots,
      encode: this.encode,
      encodeInto: this.encodeInto,
      validate: this.validate,
      decode: this.#codec.lendingDecoder(slots),
    };
  }

  /** A zod schema accepting exactly what `encode` accepts (built on first use). */
  get zod(): z.ZodType<T> {
    this.#zod ??= zodOf(this as unknown as CompositeShape) as z.ZodType<T>;
    return this.#zod;
  }

  /** A TypeBox schema accepting exactly what `encode` accepts (built on first use). */
  get typebox(): TSchema & { static: T } {
    this.#typebox ??= typeboxOf(this as unknown as CompositeShape) as TSchema & { static: T };
    return this.#typebox;
  }

  /** Standard Schema v1, backed by `validate`. */
  get '~standard'(): StandardSchemaV1.Props<T, T> {
    this.#standard ??= standardOf(this.validate);
    return this.#standard;
  }

  /** Byte offset of a field (for a bitfield: of the byte holding its first bit). */
  offsetOf(name: keyof T & string): number {
    const offset = this.#offsets.get(name);
    if (offset === undefined) {
      throw new SchemaError(
        `${this.kind} ${this.name} has no field ${JSON.stringify(name)}; fields: ${[...this.#offsets.keys()].join(', ')}`,
      );
    }
    return offset;
  }
}

/** A struct type: schema, C layout and fixed-size codec in one. */
export class StructType<T = unknown> extends CompositeType<T> implements StructShape<T> {
  declare readonly kind: 'struct';

  constructor(name: string, entries: readonly (readonly [string, FieldType])[], options: StructTypeOptions = {}) {
    super('struct', name, entries, options);
  }
}

/**
 * Declares a struct with C layout (GCC's on x86_64): schema, layout and fixed-size codec in one.
 *
 * @example
 * ```ts
 * const Sample = struct('sample', { channel: u16, timestamp: u64, value: f64 });
 * type Sample = Infer<typeof Sample>; // { channel: number; timestamp: bigint; value: number }
 * const bytes = Sample.encode({ channel: 1, timestamp: 2n, value: 0.5 }); // 24 bytes
 * ```
 * @throws {@link SchemaError} for a name or field that is not a C identifier, duplicate or no
 *   fields, or bad `pack`/`align`/`endian` options. Its `encode`/`validate` throw
 *   {@link ValidationError}, its `decode` {@link DecodeError}.
 */
export function struct<const F extends FieldsDecl>(
  name: string,
  fields: F,
  options?: StructTypeOptions,
): StructType<StructValue<F>> {
  return new StructType<StructValue<F>>(name, fieldEntries(name, fields), options);
}

/** The `[name, type]` entries of a field declaration (object or list). */
export function fieldEntries(name: string, fields: FieldsDecl): (readonly [string, FieldType])[] {
  if (Array.isArray(fields)) {
    return fields.map((entry, i) => {
      if (!Array.isArray(entry) || entry.length !== 2) {
        throw new SchemaError(`struct ${name}: field entry ${i}: expected a [name, type] pair`);
      }
      return entry as unknown as readonly [string, FieldType];
    });
  }
  if (typeof fields !== 'object' || fields === null) {
    throw new SchemaError(`struct ${name}: expected an object of fields, got ${String(fields)}`);
  }
  const proto = Object.getPrototypeOf(fields);
  if (proto !== Object.prototype && proto !== null) {
    // `{ __proto__: u8 }` in an object literal sets the prototype instead of declaring a field.
    throw new SchemaError(`struct ${name}: fields must be a plain object; a field named __proto__ is refused`);
  }
  return Object.entries(fields as Record<string, FieldType>);
}
