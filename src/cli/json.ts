/**
 * Messages as JSON, both ways. Out: 64-bit integers (bigint) become JSON strings by default, so
 * `JSON.parse` in any language keeps every digit, or bare JSON numbers with `--bigint number`;
 * `bytes(n)` fields become lowercase hex strings; NaN and ±Infinity become the strings `"NaN"`,
 * `"Infinity"`, `"-Infinity"`. In: the same spellings are accepted, guided by the struct's field types.
 */
import type { FieldLayout, FieldType, MessageCodec } from '../codecs/index.js';
import { UsageError } from './args.js';

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
      if (value instanceof Uint8Array)
        return `"${Buffer.from(value.buffer, value.byteOffset, value.length).toString('hex')}"`;
      if (Array.isArray(value)) return `[${value.map((item) => toJson(item, bigint)).join(',')}]`;
      const entries = Object.entries(value).filter(([, v]) => v !== undefined);
      return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${toJson(v, bigint)}`).join(',')}}`;
    }
    default:
      return JSON.stringify(String(value));
  }
}

/** The fields of a struct codec, or undefined for codecs without a C layout (msgpack). */
export function structFields(codec: MessageCodec<unknown>): readonly FieldLayout[] | undefined {
  const fields = (codec as { fields?: unknown }).fields;
  if (!Array.isArray(fields) || !fields.every((f) => typeof f?.name === 'string' && typeof f?.type === 'object')) {
    return undefined;
  }
  return fields as FieldLayout[];
}

/** Parses JSON text and converts it to the codec's value type, then validates it. */
export function fromJson(text: string, codec: MessageCodec<unknown>, what = '--json'): unknown {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${what}: not valid JSON (${(error as Error).message}): ${abbreviate(text)}`);
  }
  const fields = structFields(codec);
  const value = fields === undefined ? parsed : convertStruct(parsed, fields, codec.name);
  try {
    return codec.validate(value);
  } catch (error) {
    // The value is an argument of the command line: a misfit is a usage error, and nothing was sent.
    if ((error as { code?: unknown }).code === 'ERR_IPC_VALIDATION')
      throw new UsageError(`${what}: ${(error as Error).message}`);
    throw error;
  }
}

function abbreviate(text: string): string {
  return text.length > 60 ? `${JSON.stringify(text.slice(0, 57))}...` : JSON.stringify(text);
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
      if (!type.big) return value;
      if (typeof value === 'number' && Number.isInteger(value) && !Number.isSafeInteger(value)) {
        throw new UsageError(
          `${path}: ${value} is beyond 2^53, where JSON numbers lose digits; give 64-bit values as JSON strings, e.g. "18446744073709551615"`,
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
      if (typeof value === 'string' && /^([0-9a-fA-F]{2})*$/.test(value))
        return new Uint8Array(Buffer.from(value, 'hex'));
      // Only exact bytes are converted: Uint8Array.from would wrap 300 to 44.
      if (Array.isArray(value) && value.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)) {
        return Uint8Array.from(value as number[]);
      }
      return value;
    case 'array':
      return Array.isArray(value) ? value.map((item, i) => convert(item, type.element, `${path}[${i}]`)) : value;
    case 'struct':
      return convertStruct(value, type.fields, path);
    case 'aligned':
      return convert(value, type.inner, path);
    default:
      return value;
  }
}
