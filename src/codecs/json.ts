/**
 * Messages as JSON, both ways, and the JSON Schema of that spelling. Out: 64-bit integers (bigint) become
 * JSON strings by default, so `JSON.parse` in any language keeps every digit (or bare JSON numbers with
 * `bigint: 'number'`); `bytes(n)` fields become lowercase hex strings; NaN and ±Infinity become the
 * strings `"NaN"`, `"Infinity"`, `"-Infinity"`. In: the same spellings are accepted, guided by the
 * struct's field types. Used by the CLI (tail, send) and by recordings (MCAP messages are this JSON).
 */
import { ValidationError } from '../errors.js';
import type { MessageCodec } from './codec.js';
import type { FieldLayout, FieldType } from './types.js';

/** How bigint values are written. */
export type BigintStyle = 'string' | 'number';

/** Serialises a decoded value as one line of JSON. */
export function toJson(value: unknown, bigint: BigintStyle = 'string'): string {
  switch (typeof value) {
    case 'bigint':
      return bigint === 'number' ? value.toString() : `"${value}"`;
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : `"${value}"`;
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'undefined':
      return 'null';
    case 'object': {
      if (value === null) return 'null';
      if (value instanceof Uint8Array) return `"${hex(value)}"`;
      if (Array.isArray(value)) return `[${value.map((item) => toJson(item, bigint)).join(',')}]`;
      const entries = Object.entries(value).filter(([, v]) => v !== undefined);
      return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${toJson(v, bigint)}`).join(',')}}`;
    }
    default:
      return JSON.stringify(String(value));
  }
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex');
}

/** The fields of a struct codec, or undefined for codecs without a C layout (msgpack). */
export function structFields(codec: MessageCodec<unknown>): readonly FieldLayout[] | undefined {
  const fields = (codec as { fields?: unknown }).fields;
  if (!Array.isArray(fields) || !fields.every((f) => typeof f?.name === 'string' && typeof f?.type === 'object')) {
    return undefined;
  }
  return fields as FieldLayout[];
}

/** Writes one value as JSON text (the spelling of `toJson` with bigint strings). */
export type JsonWriter = (value: unknown) => string;

/**
 * A JSON writer specialised for a codec's field types: the same text as `toJson(value)` for a value the
 * codec decoded, without `toJson`'s per-value type tests and `Object.entries` (recordings write every
 * message through it, so it is on the hot path). Codecs without a C layout get `toJson`.
 */
export function jsonWriter(codec: MessageCodec<unknown>): JsonWriter {
  const fields = structFields(codec);
  return fields === undefined ? (value) => toJson(value) : objectWriter(fields);
}

function objectWriter(fields: readonly FieldLayout[]): JsonWriter {
  const keys = fields.map((field) => `${JSON.stringify(field.name)}:`);
  const names = fields.map((field) => field.name);
  const writers = fields.map((field) => writerFor(field.type));
  return (value) => {
    const record = value as Record<string, unknown>;
    let text = '{';
    for (let i = 0; i < names.length; i++) {
      const item = record[names[i]!];
      // Union members not chosen and zero-width bitfields are undefined: left out, as toJson does.
      if (item === undefined) continue;
      text += `${text.length === 1 ? '' : ','}${keys[i]}${writers[i]!(item)}`;
    }
    return `${text}}`;
  };
}

const numberText = (value: unknown): string => (Number.isFinite(value) ? String(value) : `"${value}"`);

function writerFor(type: FieldType): JsonWriter {
  switch (type.kind) {
    case 'int':
    case 'bits':
      return type.big ? (value) => `"${value}"` : (value) => String(value);
    case 'float':
      return numberText;
    case 'bool':
      return (value) => (value ? 'true' : 'false');
    case 'char':
      return (value) => JSON.stringify(value);
    case 'bytes':
      return (value) => `"${hex(value as Uint8Array)}"`;
    case 'enum':
      // Names, or numbers for the undeclared values an `allowUnknown` enum lets through.
      return (value) => (typeof value === 'string' ? JSON.stringify(value) : String(value));
    case 'array': {
      const element = writerFor(type.element);
      return (value) => `[${(value as unknown[]).map(element).join(',')}]`;
    }
    case 'aligned':
      return writerFor(type.inner);
    case 'struct':
    case 'union':
      return objectWriter(type.fields);
  }
}

/** A JSON Schema (draft 2020-12) document: plain JSON data. */
export type JsonSchema = { readonly [key: string]: unknown };

/**
 * The JSON Schema of a codec's values as `toJson` writes them (bigint as strings): what a recording
 * embeds so Foxglove and other tools can read its messages. Codecs without a C layout get `{}` (any value).
 */
export function jsonSchemaOf(codec: MessageCodec<unknown>): JsonSchema {
  const fields = structFields(codec);
  return fields === undefined ? { title: codec.name } : { title: codec.name, ...objectSchema(fields, 'struct') };
}

function objectSchema(fields: readonly FieldLayout[], kind: 'struct' | 'union'): JsonSchema {
  const present = fields.filter((field) => !(field.type.kind === 'bits' && field.type.width === 0));
  const properties = Object.fromEntries(present.map((field) => [field.name, schemaFor(field.type)]));
  return kind === 'struct'
    ? { type: 'object', properties, required: present.map((field) => field.name), additionalProperties: false }
    : { type: 'object', properties, minProperties: 1, additionalProperties: false };
}

function schemaFor(type: FieldType): JsonSchema {
  switch (type.kind) {
    case 'int':
    case 'bits': {
      const name = type.kind === 'int' ? type.name : `${type.base.name}:${type.width}`;
      if (type.big) {
        return {
          type: 'string',
          pattern: type.signed ? '^-?[0-9]+$' : '^[0-9]+$',
          description: `${name} as a decimal string: JSON numbers lose digits past 2^53, strings keep them all`,
        };
      }
      return { type: 'integer', minimum: type.min, maximum: type.max, description: name };
    }
    case 'float':
      return {
        type: 'number',
        description: `${type.name}; NaN and ±Infinity are the strings "NaN", "Infinity", "-Infinity"`,
      };
    case 'bool':
      return { type: 'boolean' };
    case 'char':
      return { type: 'string', description: `char[${type.length}]: UTF-8, at most ${type.length} bytes` };
    case 'bytes':
      return {
        type: 'string',
        pattern: `^([0-9a-f]{2}){${type.length}}$`,
        description: `uint8_t[${type.length}] as hex`,
      };
    case 'enum': {
      const names = [...type.values.keys()];
      return type.allowUnknown
        ? { type: ['string', 'integer'], description: `one of ${names.join(', ')}, or an undeclared value` }
        : { type: 'string', enum: names };
    }
    case 'array':
      return { type: 'array', items: schemaFor(type.element), minItems: type.length, maxItems: type.length };
    case 'aligned':
      return schemaFor(type.inner);
    case 'struct':
    case 'union':
      return { title: type.name, ...objectSchema(type.fields, type.kind) };
  }
}

/**
 * Converts parsed JSON (the spellings above) to the codec's value type and validates it; throws
 * ValidationError naming the field, the expected and the received value.
 */
export function fromJsonValue<T>(parsed: unknown, codec: MessageCodec<T>): T {
  const fields = structFields(codec as MessageCodec<unknown>);
  return codec.validate(fields === undefined ? parsed : convertStruct(parsed, fields, codec.name));
}

function convertStruct(value: unknown, fields: readonly FieldLayout[], path: string): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const source = value as Record<string, unknown>;
  const result: Record<string, unknown> = { ...source };
  for (const field of fields) {
    if (Object.hasOwn(source, field.name)) {
      result[field.name] = convert(source[field.name], field.type, `${path}.${field.name}`);
    }
  }
  return result;
}

// Converts JSON spellings to the value types the codec validates; anything it cannot convert is passed
// on unchanged, so that the codec's own validation names the field, the expected and the received value.
function convert(value: unknown, type: FieldType, path: string): unknown {
  switch (type.kind) {
    case 'int':
    case 'bits':
      if (!type.big) return value;
      if (typeof value === 'number' && Number.isInteger(value) && !Number.isSafeInteger(value)) {
        throw new ValidationError(
          path,
          `${type.kind === 'int' ? type.name : 'a 64-bit bitfield'} as a JSON string`,
          String(value),
          {
            message: `${path}: ${value} is beyond 2^53, where JSON numbers lose digits; give 64-bit values as JSON strings, e.g. "18446744073709551615"`,
          },
        );
      }
      if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
      if (typeof value === 'string' && /^-?\d+$/.test(value.trim())) return BigInt(value.trim());
      return value;
    case 'float':
      if (value === 'NaN') return Number.NaN;
      if (value === 'Infinity') return Number.POSITIVE_INFINITY;
      if (value === '-Infinity') return Number.NEGATIVE_INFINITY;
      return value;
    case 'bytes':
      if (typeof value === 'string' && /^([0-9a-fA-F]{2})*$/.test(value)) {
        return new Uint8Array(Buffer.from(value, 'hex'));
      }
      // Only exact bytes are converted: Uint8Array.from would wrap 300 to 44.
      if (Array.isArray(value) && value.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)) {
        return Uint8Array.from(value as number[]);
      }
      return value;
    case 'array':
      return Array.isArray(value) ? value.map((item, i) => convert(item, type.element, `${path}[${i}]`)) : value;
    case 'struct':
    case 'union':
      return convertStruct(value, type.fields, path);
    case 'aligned':
      return convert(value, type.inner, path);
    default:
      return value;
  }
}
