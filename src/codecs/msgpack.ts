/**
 * `msgpack(schema, { maxSize })`: a variable-size codec (MessagePack via msgpackr) for messages that
 * do not fit a fixed C layout. Values are validated with the given zod or TypeBox schema on the way
 * in (ValidationError) and on the way out (DecodeError); encodings larger than `maxSize` are refused.
 */
import { createHash } from 'node:crypto';
import type { Static, TSchema } from '@sinclair/typebox';
import type * as TypeBoxValue from '@sinclair/typebox/value';
import type * as Msgpackr from 'msgpackr';
import type * as Zod from 'zod';
import type { z } from 'zod';
import { DecodeError, MessageSizeError, SchemaError, ValidationError } from '../errors.js';
import type { MessageCodec } from './codec.js';
import { load } from './lazy.js';
import { describeValue } from './values.js';

/** Options of `msgpack`. */
export interface MsgpackOptions {
  /** Largest encoding in bytes; larger messages are refused with MessageSizeError. */
  readonly maxSize: number;
  /** Name used in errors; default `msgpack`. */
  readonly name?: string;
}

/** A variable-size MessagePack codec validated by a zod or TypeBox schema. */
export interface MsgpackCodec<T> extends MessageCodec<T> {
  readonly fixedSize: false;
  /** The zod or TypeBox schema values are checked against. */
  readonly schema: z.ZodType | TSchema;
}

/** The value type of a zod or TypeBox schema. */
export type SchemaValue<S> = S extends z.ZodType<infer T> ? T : S extends TSchema ? Static<S> : never;

interface Checker {
  /** Undefined when valid; otherwise where and what went wrong. */
  first(value: unknown): { path: string; message: string } | undefined;
  describe(): unknown;
}

// Recognised by shape, so that neither library is loaded before a schema of it is seen: every zod 4
// schema carries `_zod` (zod's own instanceof checks it the same way), every TypeBox schema `Kind`.
function isZod(schema: unknown): schema is z.ZodType {
  return (
    typeof schema === 'object' &&
    schema !== null &&
    '_zod' in schema &&
    typeof (schema as { safeParse?: unknown }).safeParse === 'function'
  );
}

const typeboxKind = Symbol.for('TypeBox.Kind');

function isTypebox(schema: unknown): schema is TSchema {
  return typeof schema === 'object' && schema !== null && typeboxKind in schema;
}

function checkerOf(schema: unknown): Checker {
  if (isZod(schema)) {
    return {
      first(value) {
        const result = schema.safeParse(value);
        if (result.success) return undefined;
        const issue = result.error.issues[0]!;
        return {
          path: issue.path.map((key) => (typeof key === 'number' ? `[${key}]` : `.${String(key)}`)).join(''),
          message: issue.message,
        };
      },
      describe: () => load<typeof Zod>('zod').z.toJSONSchema(schema, { unrepresentable: 'any' }),
    };
  }
  if (isTypebox(schema)) {
    const { Value } = load<typeof TypeBoxValue>('@sinclair/typebox/value');
    return {
      first(value) {
        if (Value.Check(schema, value)) return undefined;
        const error = Value.Errors(schema, value).First();
        const path = (error?.path ?? '')
          .split('/')
          .slice(1)
          .map((key) => (/^\d+$/.test(key) ? `[${key}]` : `.${key}`));
        return { path: path.join(''), message: error?.message ?? 'does not match the schema' };
      },
      describe: () => schema,
    };
  }
  throw new SchemaError('msgpack(schema, options): expected a zod or TypeBox schema');
}

/** JSON with bigints written as strings, for hashing schemas that carry bigint bounds. */
function stableJson(value: unknown): string {
  return JSON.stringify(value, (_, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
}

let packrInstance: Msgpackr.Packr | undefined;

/** The msgpackr encoder, made (and msgpackr loaded) by the first msgpack() codec. */
function packrOf(): Msgpackr.Packr {
  packrInstance ??= new (load<typeof Msgpackr>('msgpackr').Packr)({
    useRecords: false,
    mapsAsObjects: true,
    // 64-bit integers come back as bigint, as the struct codecs give them.
    int64AsType: 'bigint',
    // Binary fields are copied out: channels decode from receive buffers they reuse.
    copyBuffers: true,
  });
  return packrInstance;
}

/**
 * A variable-size MessagePack codec validated by `schema`, refusing encodings larger than `maxSize`.
 *
 * @example
 * ```ts
 * const Note = msgpack(z.object({ text: z.string(), when: z.bigint() }), { maxSize: 256, name: 'note' });
 * await using tx = await open('mq:/notes', Note, { create: true });
 * ```
 * @throws {@link SchemaError} for a schema that is neither zod nor TypeBox, or a `maxSize` outside [1, 2^31). Its `encode` throws
 *   {@link ValidationError} or {@link MessageSizeError}, its `decode` {@link DecodeError}.
 */
export function msgpack<const S extends z.ZodType | TSchema>(
  schema: S,
  options: MsgpackOptions,
): MsgpackCodec<SchemaValue<S>> {
  type T = SchemaValue<S>;
  const { maxSize, name = 'msgpack' } = options ?? ({} as MsgpackOptions);
  if (typeof maxSize !== 'number' || !Number.isSafeInteger(maxSize) || maxSize < 1 || maxSize > 0x7fff_ffff) {
    throw new SchemaError(
      `msgpack ${name}: option maxSize: expected an integer from 1 to 2147483647, got ${String(maxSize)}`,
    );
  }
  const checker = checkerOf(schema);
  const packr = packrOf();
  const fingerprint = createHash('sha256')
    .update(stableJson(['typed-ipc/msgpack/v1', name, maxSize, checker.describe()]))
    .digest('hex')
    .slice(0, 16);

  const validate = (value: unknown): T => {
    const problem = checker.first(value);
    if (problem !== undefined) {
      throw new ValidationError(`${name}${problem.path}`, problem.message, describeValue(value), {
        message: `${name}${problem.path}: ${problem.message}`,
      });
    }
    return value as T;
  };

  const encode = (value: T): Uint8Array => {
    validate(value);
    const bytes = packr.pack(value);
    if (bytes.length > maxSize) {
      throw new MessageSizeError(
        bytes.length,
        maxSize,
        `${name}: the encoding is ${bytes.length} bytes, above maxSize ${maxSize}; send less or raise maxSize`,
      );
    }
    // A plain Uint8Array view, like the struct codecs return (msgpackr hands out Buffers).
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
  };

  return {
    name,
    fixedSize: false,
    size: maxSize,
    fingerprint,
    schema,
    validate,
    encode,
    encodeInto(value: T, target: Uint8Array, offset = 0): number {
      if (!(target instanceof Uint8Array) || !Number.isInteger(offset) || offset < 0) {
        throw new ValidationError(
          `${name} target`,
          'a Uint8Array and a non-negative integer offset',
          describeValue(target),
        );
      }
      const bytes = encode(value);
      if (offset + bytes.length > target.length) {
        throw new MessageSizeError(
          bytes.length,
          Math.max(0, target.length - offset),
          `${name}: the encoding is ${bytes.length} bytes, but only ${Math.max(0, target.length - offset)} fit at offset ${offset}; pass a larger target`,
        );
      }
      target.set(bytes, offset);
      return bytes.length;
    },
    decode(bytes: Uint8Array, offset?: number): T {
      if (!(bytes instanceof Uint8Array))
        throw new DecodeError(name, `expected a Uint8Array, got ${describeValue(bytes)}`);
      const start = offset ?? 0;
      if (!Number.isInteger(start) || start < 0 || start > bytes.length) {
        throw new DecodeError(name, `expected an offset from 0 to ${bytes.length}, got ${String(offset)}`);
      }
      const length = bytes.length - start;
      if (length > maxSize) {
        throw new DecodeError(name, `expected at most ${maxSize} bytes (maxSize), got ${length} (oversized input)`);
      }
      let values: unknown[];
      try {
        // unpackMultiple, not unpack: trailing bytes after the first value must not pass unnoticed.
        values = packr.unpackMultiple(bytes.subarray(start)) as unknown[];
      } catch (cause) {
        throw new DecodeError(
          name,
          `expected one MessagePack value, got ${length} bytes that do not decode (${String(cause)})`,
          {
            cause,
          },
        );
      }
      if (values.length !== 1) {
        throw new DecodeError(name, `expected exactly one MessagePack value, got ${values.length} in ${length} bytes`);
      }
      const value = values[0];
      const problem = checker.first(value);
      if (problem !== undefined) {
        throw new DecodeError(`${name}${problem.path}`, `decoded value does not match the schema: ${problem.message}`);
      }
      return value as T;
    },
  };
}
