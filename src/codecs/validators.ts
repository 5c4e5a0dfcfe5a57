/**
 * zod, TypeBox and Standard Schema views of a struct, with the codec's own constraints: integer
 * ranges, bigint for 64-bit integers, UTF-8 byte length of `char(n)`, exact lengths of `bytes(n)`
 * and arrays, enum names, and floats as the codec takes them (NaN and ±Infinity included; f32's range).
 * Each accepts exactly what `encode` accepts.
 */
import type * as TypeBox from '@sinclair/typebox';
import type { TSchema } from '@sinclair/typebox';
import type * as Zod from 'zod';
import { ValidationError } from '../errors.js';
import { load } from './lazy.js';
import type { FieldLayout, FieldType } from './types.js';
import { charFits, F32_OVERFLOW } from './values.js';

const floatKind = 'TypedIpcFloat';
const charKind = 'TypedIpcChar';

/** zod, loaded on first use (see lazy.ts). */
function zod(): typeof Zod.z {
  return load<typeof Zod>('zod').z;
}

let typebox: typeof TypeBox | undefined;

/** TypeBox, loaded on first use, with our two kinds registered. */
function typeboxModule(): typeof TypeBox {
  if (typebox !== undefined) return typebox;
  const module = load<typeof TypeBox>('@sinclair/typebox');
  const { TypeRegistry } = module;
  // TypeBox's Number refuses NaN and ±Infinity by default policy, and its String counts UTF-16 units;
  // these two kinds check exactly what the codec checks. Registration is global and idempotent.
  if (!TypeRegistry.Has(floatKind)) {
    TypeRegistry.Set<{ f32?: boolean }>(
      floatKind,
      (schema, value) => typeof value === 'number' && !(schema.f32 === true && !f32Fits(value)),
    );
  }
  if (!TypeRegistry.Has(charKind)) {
    TypeRegistry.Set<{ maxBytes: number }>(
      charKind,
      (schema, value) => typeof value === 'string' && charFits(value, schema.maxBytes),
    );
  }
  typebox = module;
  return module;
}

function f32Fits(value: number): boolean {
  return !(Math.abs(value) >= F32_OVERFLOW && Math.abs(value) !== Infinity);
}

/** The fields that hold a value: all but zero-width bitfields. */
function valued(fields: readonly FieldLayout[]): readonly FieldLayout[] {
  return fields.filter((field) => field.type.kind !== 'bits' || field.type.width > 0);
}

/** The zod schema of a field type. */
export function zodOf(type: FieldType): Zod.ZodType {
  const z = zod();
  switch (type.kind) {
    case 'int':
    case 'bits':
      // A bitfield's range is that of its width; zero-width ones hold no value and are never asked.
      return type.big
        ? z
            .bigint()
            .min(type.min as bigint)
            .max(type.max as bigint)
        : z
            .number()
            .int()
            .min(type.min as number)
            .max(type.max as number);
    case 'float':
      // z.number() refuses NaN and ±Infinity, which a C float or double holds fine.
      return z.custom<number>((value) => typeof value === 'number' && (type.name === 'f64' || f32Fits(value)), {
        message: `expected ${type.name === 'f32' ? 'a number within f32 range' : 'a number'}`,
      });
    case 'bool':
      return z.boolean();
    case 'char':
      return z.string().refine((value) => charFits(value, type.length), {
        message: `expected at most ${type.length} UTF-8 bytes, without NUL or lone surrogates`,
      });
    case 'bytes':
      return z.instanceof(Uint8Array).refine((value) => value.length === type.length, {
        message: `expected exactly ${type.length} bytes`,
      });
    case 'array':
      return z.array(zodOf(type.element)).length(type.length);
    case 'enum': {
      const names = z.enum([...type.values.keys()] as [string, ...string[]]);
      return type.allowUnknown ? z.union([names, z.number().int().min(type.base.min).max(type.base.max)]) : names;
    }
    case 'struct':
      return z.object(Object.fromEntries(valued(type.fields).map((field) => [field.name, zodOf(field.type)])));
    case 'union': {
      const names = type.fields.map((field) => field.name);
      return z
        .object(Object.fromEntries(type.fields.map((field) => [field.name, zodOf(field.type).optional()])))
        .refine(
          (value) => names.filter((name) => (value as Record<string, unknown>)[name] !== undefined).length === 1,
          {
            message: `expected exactly one of ${names.join(', ')}`,
          },
        );
    }

    case 'aligned':
      return zodOf(type.inner);
  }
}

/** The TypeBox schema of a field type. */
export function typeboxOf(type: FieldType): TSchema {
  const { Kind, Type } = typeboxModule();
  switch (type.kind) {
    case 'int':
    case 'bits':
      return type.big
        ? Type.BigInt({ minimum: type.min as bigint, maximum: type.max as bigint })
        : Type.Integer({ minimum: type.min as number, maximum: type.max as number });
    case 'float':
      return Type.Unsafe<number>({ [Kind]: floatKind, type: 'number', f32: type.name === 'f32' });
    case 'bool':
      return Type.Boolean();
    case 'char':
      return Type.Unsafe<string>({ [Kind]: charKind, type: 'string', maxLength: type.length, maxBytes: type.length });
    case 'bytes':
      return Type.Uint8Array({ minByteLength: type.length, maxByteLength: type.length });
    case 'array':
      return Type.Array(typeboxOf(type.element), { minItems: type.length, maxItems: type.length });
    case 'enum': {
      const names = [...type.values.keys()].map((name) => Type.Literal(name));
      const members = type.allowUnknown
        ? [...names, Type.Integer({ minimum: type.base.min, maximum: type.base.max })]
        : names;
      return members.length === 1 ? members[0]! : Type.Union(members);
    }
    case 'struct':
      return Type.Object(Object.fromEntries(valued(type.fields).map((field) => [field.name, typeboxOf(field.type)])), {
        title: type.name,
      });
    case 'union':
      // One object per member: that member required, every other one absent (or undefined).
      return Type.Union(
        type.fields.map((member) =>
          Type.Object(
            Object.fromEntries(
              type.fields.map((field) => [
                field.name,
                field === member ? typeboxOf(field.type) : Type.Optional(Type.Undefined()),
              ]),
            ),
          ),
        ),
        { title: type.name },
      );

    case 'aligned':
      return typeboxOf(type.inner);
  }
}

/** Standard Schema v1 (https://standardschema.dev), declared here as the spec asks, without a dependency. */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly '~standard': StandardSchemaV1.Props<Input, Output>;
}

/** Types of Standard Schema v1. */
export declare namespace StandardSchemaV1 {
  /** The `~standard` member. */
  export interface Props<Input = unknown, Output = Input> {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown) => Result<Output> | Promise<Result<Output>>;
    readonly types?: Types<Input, Output> | undefined;
  }
  /** Outcome of validate. */
  export type Result<Output> = SuccessResult<Output> | FailureResult;
  /** A valid value. */
  export interface SuccessResult<Output> {
    readonly value: Output;
    readonly issues?: undefined;
  }
  /** An invalid value. */
  export interface FailureResult {
    readonly issues: ReadonlyArray<Issue>;
  }
  /** One problem. */
  export interface Issue {
    readonly message: string;
    readonly path?: ReadonlyArray<PropertyKey | PathSegment> | undefined;
  }
  /** A path segment. */
  export interface PathSegment {
    readonly key: PropertyKey;
  }
  /** Phantom input and output types. */
  export interface Types<Input = unknown, Output = Input> {
    readonly input: Input;
    readonly output: Output;
  }
}

/** `sample.readings[3].value` → `['readings', 3, 'value']` (the struct name is not part of the path). */
function pathSegments(path: string): PropertyKey[] {
  const segments: PropertyKey[] = [];
  for (const match of path.matchAll(/\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]/g)) {
    segments.push(match[1] ?? Number(match[2]));
  }
  return segments;
}

/** The Standard Schema v1 member of a struct type, backed by its `validate`. */
export function standardOf<T>(validate: (value: unknown) => T): StandardSchemaV1.Props<T, T> {
  return {
    version: 1,
    vendor: 'typed-ipc',
    validate(value: unknown): StandardSchemaV1.Result<T> {
      try {
        return { value: validate(value) };
      } catch (error) {
        if (!(error instanceof ValidationError)) throw error;
        return { issues: [{ message: error.message, path: pathSegments(error.path) }] };
      }
    },
  };
}
