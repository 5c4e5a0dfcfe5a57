/**
 * The recorder's JSON: a message envelope written as UTF-8 bytes straight into the chunk being built,
 * the same text as `{"value":${toJson(value)},"priority":n[,"from":"..."]}` (src/codecs/json.ts's spelling:
 * 64-bit integers as decimal strings with every digit, bytes as hex, NaN/±Infinity as strings), without
 * a string per message. Building the text with template strings and copying it into the chunk cost
 * more than the ring it records.
 *
 * For a struct or union the writer is generated once per schema, like the codecs (src/codecs/emit.ts):
 * straight-line code with every key's bytes as literal stores and every field read as a named property.
 * Beside it an interpreted writer composed of one function per field (used where `new Function` is
 * refused, e.g. under a CSP, and held to the same text by the differential test). Numbers take fast
 * paths: integers digit by digit, u64/i64 through their two 32-bit halves (no BigInt arithmetic);
 * other doubles through `String(number)` (the shortest round-trip digits JSON.stringify writes).
 * Codecs without a C layout (msgpack) go through `toJson`.
 *
 * Safety rules of the generated source: field names are C identifiers (checked when the struct was
 * declared) and are still written through JSON.stringify; the only other literals are byte values and
 * lengths (integers); helpers and nested writers are passed in as arguments.
 */
import type { Message } from '../channels/index.js';
import { type MessageCodec, structFields, toJson } from '../codecs/index.js';
import type { FieldLayout, FieldType } from '../codecs/types.js';

/**
 * Writes one value's JSON into `out` from `at`; returns where it ended. The caller has made room for
 * the writer's bound: typed arrays drop stores past their end silently.
 */
type Put = (out: Uint8Array, at: number, value: unknown) => number;

/** Writes one message's envelope JSON (`{"value":...,"priority":n[,"from":"..."]}`). */
export interface EnvelopeWriter {
  /** Most bytes `put` writes for `message` (its `from`, if any, included). */
  bound(message: Message<unknown>): number;
  /** Writes the envelope of `message` into `out` from `at`; returns where it ended. */
  readonly put: (out: Uint8Array, at: number, message: Message<unknown>) => number;
  /** The generated source (for debugging), or undefined for the interpreted writer. */
  readonly source: string | undefined;
}

const QUOTE = 0x22;
const utf8 = new TextEncoder();
const text = (s: string): Uint8Array => utf8.encode(s);

/** Longest JSON of a safe integer: `-9007199254740991`. */
const INT_BOUND = 17;
/** Longest JSON of a double (`-2.2250738585072014e-308`) or of NaN/±Infinity as a string. */
const FLOAT_BOUND = 24;
/** Longest JSON of a 64-bit integer as a string: `"-9223372036854775808"`. */
const BIG_BOUND = 22;

/** The envelope writer of `codec`'s messages: generated, or interpreted when asked or `new Function` is refused. */
export function envelopeWriter(codec: MessageCodec<unknown>, options: { interpreted?: boolean } = {}): EnvelopeWriter {
  const fields = structFields(codec);
  const kind = (codec as { kind?: unknown }).kind === 'union' ? 'union' : 'struct';
  const FROM = 8 + 2; // ,"from": and the quotes
  const fixed = 10 + 12 + INT_BOUND + 1; // {"value": ,"priority": n }
  if (fields === undefined) {
    return {
      bound: (m) => fixed + (m.from === undefined ? 0 : FROM + 6 * m.from.length) + 3 * toJson(m.value).length,
      put: (out, at, m) => putEnvelope(out, at, m, putViaString),
      source: undefined,
    };
  }
  const valueBound = objectBound(fields);
  const bound = (m: Message<unknown>): number =>
    fixed + valueBound + (m.from === undefined ? 0 : FROM + 6 * m.from.length);
  if (!options.interpreted) {
    try {
      const { put, source } = compileEnvelope(fields, kind);
      return { bound, put, source };
    } catch (error) {
      if (!(error instanceof EvalError)) throw error;
    }
  }
  const value = objectWriter(fields, kind);
  return { bound, put: (out, at, m) => putEnvelope(out, at, m, value), source: undefined };
}

const HEAD = text('{"value":');
const PRIORITY = text(',"priority":');
const FROM_KEY = text(',"from":');

function putEnvelope(out: Uint8Array, at: number, message: Message<unknown>, value: Put): number {
  at = copy(out, at, HEAD);
  at = value(out, at, message.value);
  at = copy(out, at, PRIORITY);
  at = putInteger(out, at, message.priority);
  if (message.from !== undefined) {
    at = copy(out, at, FROM_KEY);
    at = putString(out, at, message.from);
  }
  out[at] = 0x7d; // }
  return at + 1;
}

const putViaString: Put = (out, at, value) => at + utf8.encodeInto(toJson(value), out.subarray(at)).written;

// --- bounds ------------------------------------------------------------------------------------

/** Most bytes of JSON a value of `type` takes. */
function boundOf(type: FieldType): number {
  switch (type.kind) {
    case 'int':
    case 'bits':
      return type.big ? BIG_BOUND : INT_BOUND;
    case 'float':
      return FLOAT_BOUND;
    case 'bool':
      return 5;
    case 'char':
      // A char(n) value has at most n UTF-16 units (each from at least one byte); each is at most 6
      // bytes of JSON (\u00XX), and a quote on either side.
      return 6 * type.length + 2;
    case 'bytes':
      return 2 * type.length + 2;
    case 'enum':
      return Math.max(INT_BOUND, ...[...type.names.values()].map((name) => text(JSON.stringify(name)).length));
    case 'array':
      return type.length * (boundOf(type.element) + 1) + 2;
    case 'aligned':
      return boundOf(type.inner);
    case 'struct':
    case 'union':
      return objectBound(type.fields);
  }
}

function objectBound(fields: readonly FieldLayout[]): number {
  return 2 + fields.reduce((sum, field) => sum + keyBytes(field.name, true).length + boundOf(field.type), 0);
}

/** `"name":`, with the comma before it when `comma`. */
const keyBytes = (name: string, comma: boolean): Uint8Array => text(`${comma ? ',' : ''}${JSON.stringify(name)}:`);

/** Fields that hold a value: a `:0` bitfield holds none (decode leaves it undefined, toJson leaves it out). */
const present = (fields: readonly FieldLayout[]): readonly FieldLayout[] =>
  fields.filter((field) => !(field.type.kind === 'bits' && field.type.width === 0));

// --- generated writer ----------------------------------------------------------------------------

class Emitter {
  readonly args: unknown[] = [];
  #counter = 0;

  ref(value: unknown): string {
    let index = this.args.indexOf(value);
    if (index < 0) index = this.args.push(value) - 1;
    return `k[${index}]`;
  }

  local(prefix: string): string {
    this.#counter += 1;
    return `${prefix}${this.#counter}`;
  }

  /** Stores of the bytes of `bytes` at `a`, then `a` moved past them. */
  bytes(bytes: Uint8Array): string {
    const stores = [...bytes].map((b, i) => `o[a${i === 0 ? '' : ` + ${i}`}] = ${b};`);
    return `${stores.join(' ')} a += ${bytes.length};`;
  }

  /** Statements writing the value held in local `x`, of `type`. */
  value(type: FieldType, x: string): string {
    switch (type.kind) {
      case 'struct':
      case 'union':
        return this.object(type.fields, type.kind, x);
      case 'aligned':
        return this.value(type.inner, x);
      default:
        return `a = ${this.ref(leafWriter(type))}(o, a, ${x});`;
    }
  }

  /** Statements writing the struct or union held in local `v`, its fields read by name. */
  object(fields: readonly FieldLayout[], kind: 'struct' | 'union', v: string): string {
    const lines = ['o[a++] = 123;'];
    const used = present(fields);
    if (kind === 'struct') {
      used.forEach((field, i) => {
        const x = this.local('x');
        lines.push(`const ${x} = ${v}[${JSON.stringify(field.name)}];`, this.bytes(keyBytes(field.name, i > 0)));
        lines.push(this.value(field.type, x));
      });
    } else {
      // Members a value does not hold are undefined and left out (as toJson does): commas at run time.
      const first = this.local('first');
      lines.push(`let ${first} = true;`);
      for (const field of used) {
        const x = this.local('x');
        lines.push(
          `const ${x} = ${v}[${JSON.stringify(field.name)}];`,
          `if (${x} !== undefined) {`,
          `if (!${first}) o[a++] = 44;`,
          `${first} = false;`,
          this.bytes(keyBytes(field.name, false)),
          this.value(field.type, x),
          '}',
        );
      }
    }
    lines.push('o[a++] = 125;');
    return lines.join('\n');
  }
}

function compileEnvelope(
  fields: readonly FieldLayout[],
  kind: 'struct' | 'union',
): { put: EnvelopeWriter['put']; source: string } {
  const emit = new Emitter();
  const putInt = emit.ref(putInteger);
  const putStr = emit.ref(putString);
  const source = [
    '"use strict";',
    'return function putEnvelope(o, a, m) {',
    'const v = m.value;',
    emit.bytes(HEAD),
    emit.object(fields, kind, 'v'),
    emit.bytes(PRIORITY),
    `a = ${putInt}(o, a, m.priority);`,
    'const f = m.from;',
    `if (f !== undefined) { ${emit.bytes(FROM_KEY)} a = ${putStr}(o, a, f); }`,
    'o[a] = 125;',
    'return a + 1;',
    '};',
  ].join('\n');
  const put = new Function('k', source)(emit.args) as EnvelopeWriter['put'];
  return { put, source };
}

// --- interpreted writer --------------------------------------------------------------------------

function writerFor(type: FieldType): Put {
  switch (type.kind) {
    case 'aligned':
      return writerFor(type.inner);
    case 'struct':
    case 'union':
      return objectWriter(type.fields, type.kind);
    default:
      return leafWriter(type);
  }
}

/** `{"a":..,"b":..}`; in a union, members whose value is undefined (not held) left out. */
function objectWriter(fields: readonly FieldLayout[], kind: 'struct' | 'union'): Put {
  const used = present(fields);
  const names = used.map((field) => field.name);
  const keys = used.map((field) => keyBytes(field.name, false));
  const commaKeys = used.map((field) => keyBytes(field.name, true));
  const puts = used.map((field) => writerFor(field.type));
  const optional = kind === 'union';
  return (out, at, value) => {
    const record = value as Record<string, unknown>;
    out[at++] = 0x7b; // {
    let first = true;
    for (let i = 0; i < names.length; i++) {
      const item = record[names[i]!];
      if (optional && item === undefined) continue;
      at = copy(out, at, first ? keys[i]! : commaKeys[i]!);
      first = false;
      at = puts[i]!(out, at, item);
    }
    out[at] = 0x7d; // }
    return at + 1;
  };
}

// --- leaves (shared by both writers) ---------------------------------------------------------------

/** The writer of a type that is neither struct, union nor aligned. */
function leafWriter(type: FieldType): Put {
  switch (type.kind) {
    case 'int':
    case 'bits':
      if (type.big) return type.signed ? putI64 : putU64;
      return putInteger as Put;
    case 'float':
      return putFloat as Put;
    case 'bool':
      return putBool;
    case 'char':
      return putString as Put;
    case 'bytes':
      return putHex;
    case 'enum':
      return enumWriter(type.names);
    case 'array': {
      const element = writerFor(type.element);
      return (out, at, value) => {
        const items = value as readonly unknown[];
        out[at++] = 0x5b; // [
        for (let i = 0; i < items.length; i++) {
          if (i > 0) out[at++] = 0x2c; // ,
          at = element(out, at, items[i]);
        }
        out[at] = 0x5d; // ]
        return at + 1;
      };
    }
    case 'aligned':
    case 'struct':
    case 'union':
      return writerFor(type);
  }
}

const TRUE = text('true');
const FALSE = text('false');
const putBool: Put = (out, at, value) => copy(out, at, value ? TRUE : FALSE);

/** Enum members as their pre-encoded quoted names; undeclared values (`allowUnknown`) as numbers. */
function enumWriter(names: ReadonlyMap<number, string>): Put {
  const quoted = new Map<string, Uint8Array>();
  for (const name of names.values()) quoted.set(name, text(JSON.stringify(name)));
  return (out, at, value) => {
    if (typeof value !== 'string') return putInteger(out, at, value as number);
    const bytes = quoted.get(value);
    return bytes === undefined ? putString(out, at, value) : copy(out, at, bytes);
  };
}

// Short copies byte by byte: Uint8Array.set costs more than this loop for a few dozen bytes.
function copy(out: Uint8Array, at: number, bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; i++) out[at++] = bytes[i]!;
  return at;
}

/** '00' to '99': two digits per division. */
const PAIRS = text(Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0')).join(''));

/** Writes an integer |n| <= 2^53 in decimal; -0 is `0`, as JSON.stringify writes it. */
function putInteger(out: Uint8Array, at: number, n: number): number {
  if (n < 0) {
    out[at++] = 0x2d; // -
    n = -n;
  }
  if (n < 10) {
    out[at] = 0x30 + n;
    return at + 1;
  }
  // n <= 2^53 < 10^16: at most 16 digits, and every power of ten compared with is exact.
  let digits = 2;
  for (let limit = 100; n >= limit && digits < 16; limit *= 10) digits++;
  const end = at + digits;
  let i = end;
  while (n >= 100) {
    const q = Math.floor(n / 100);
    const r = 2 * (n - q * 100);
    out[--i] = PAIRS[r + 1]!;
    out[--i] = PAIRS[r]!;
    n = q;
  }
  if (n >= 10) {
    out[--i] = PAIRS[2 * n + 1]!;
    out[--i] = PAIRS[2 * n]!;
  } else out[--i] = 0x30 + n;
  return end;
}

function putFloat(out: Uint8Array, at: number, n: number): number {
  if (Number.isSafeInteger(n)) return putInteger(out, at, n);
  if (Number.isFinite(n)) return putAscii(out, at, String(n));
  out[at] = QUOTE;
  at = putAscii(out, at + 1, String(n));
  out[at] = QUOTE;
  return at + 1;
}

/** Writes a string of ASCII characters (number texts). */
function putAscii(out: Uint8Array, at: number, s: string): number {
  for (let i = 0; i < s.length; i++) out[at++] = s.charCodeAt(i);
  return at;
}

// The two 32-bit halves of a 64-bit integer without BigInt arithmetic (a new bigint per shift or mask).
const wide = new BigUint64Array(1);
const halves = new Uint32Array(wide.buffer);
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const LO = littleEndian ? 0 : 1;
const HI = 1 - LO;

/** Writes `"<digits>"` of a u64 (a bigint in 0 .. 2^64 - 1). */
const putU64: Put = (out, at, value) => {
  out[at] = QUOTE;
  wide[0] = value as bigint;
  at = putUnsigned64(out, at + 1, halves[HI]!, halves[LO]!);
  out[at] = QUOTE;
  return at + 1;
};

/** Writes `"<digits>"` of an i64; negative values (rare in samples) through BigInt's own toString. */
const putI64: Put = (out, at, value) => {
  const big = value as bigint;
  out[at] = QUOTE;
  if (big < 0n) at = putAscii(out, at + 1, big.toString());
  else {
    wide[0] = big;
    at = putUnsigned64(out, at + 1, halves[HI]!, halves[LO]!);
  }
  out[at] = QUOTE;
  return at + 1;
};

/** 2^32 = 4294 * 10^6 + 967296. */
const HI_MILLIONS = 4294;
const HI_REMAINDER = 967296;

/**
 * Decimal digits of hi * 2^32 + lo with doubles only: as high * 10^6 + low, where every term stays
 * below 2^53 (high < 1.9e13; low < 4.2e15 before the carry).
 */
function putUnsigned64(out: Uint8Array, at: number, hi: number, lo: number): number {
  if (hi < 0x200000) return putInteger(out, at, hi * 0x100000000 + lo); // below 2^53: exact as a double
  let low = hi * HI_REMAINDER + lo;
  const carry = Math.floor(low / 1e6);
  low -= carry * 1e6;
  at = putInteger(out, at, hi * HI_MILLIONS + carry);
  for (let i = at + 4; i >= at; i -= 2) {
    const q = Math.floor(low / 100);
    const r = 2 * (low - q * 100);
    out[i + 1] = PAIRS[r + 1]!;
    out[i] = PAIRS[r]!;
    low = q;
  }
  return at + 6;
}

const HEX = text('0123456789abcdef');

const putHex: Put = (out, at, value) => {
  const bytes = value as Uint8Array;
  out[at++] = QUOTE;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    out[at++] = HEX[b >> 4]!;
    out[at++] = HEX[b & 15]!;
  }
  out[at] = QUOTE;
  return at + 1;
};

/** A JSON string: plain ASCII byte by byte; one with anything to escape or beyond ASCII through JSON.stringify. */
function putString(out: Uint8Array, at: number, s: string): number {
  const start = at;
  out[at++] = QUOTE;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === QUOTE || c === 0x5c) {
      return start + utf8.encodeInto(JSON.stringify(s), out.subarray(start)).written;
    }
    out[at++] = c;
  }
  out[at] = QUOTE;
  return at + 1;
}
