/**
 * Value-level rules shared by the generated and the interpreted codecs, so both accept, refuse and
 * word their errors identically: what a type expects, how a received value is shown, and the
 * UTF-8 handling of `char(n)`.
 */
import { DecodeError, type IpcError, MessageSizeError, ValidationError } from '../errors.js';
import type { CompositeShape, FieldType, UnionShape } from './types.js';

/** What a field accepts, e.g. `u16 (0..65535)`. */
export function expectedText(type: FieldType): string {
  switch (type.kind) {
    case 'int':
      return type.big ? `${type.name} bigint (${type.min}n..${type.max}n)` : `${type.name} (${type.min}..${type.max})`;
    case 'float':
      return type.name === 'f32' ? 'f32 (a number within ±3.4028234663852886e38, NaN or ±Infinity)' : 'f64 (a number)';
    case 'bool':
      return 'bool (true or false)';
    case 'char':
      return `char[${type.length}] (a string of at most ${type.length} UTF-8 bytes, without NUL or lone surrogates)`;
    case 'bytes':
      return `bytes[${type.length}] (a Uint8Array of exactly ${type.length} bytes)`;
    case 'array':
      return `an array of exactly ${type.length} elements`;
    case 'struct':
      return `struct ${type.name} (an object)`;
    case 'union':
      return `union ${type.name} (an object with exactly one of ${type.fields.map((f) => f.name).join(', ')})`;
    case 'bits':
      return type.big
        ? `${type.base.name}:${type.width} bitfield bigint (${type.min}n..${type.max}n)`
        : `${type.base.name}:${type.width} bitfield (${type.min}..${type.max})`;
    case 'enum': {
      const names = [...type.values.keys()].map((name) => JSON.stringify(name)).join(', ');
      return type.allowUnknown
        ? `enum (one of ${names}, or an integer of ${type.base.name} (${type.base.min}..${type.base.max}))`
        : `enum (one of ${names})`;
    }
    case 'aligned':
      return expectedText(type.inner);
  }
}

/** Finite numbers at or beyond this magnitude round to ±Infinity as f32 (halfway to 2^128 rounds up). */
export const F32_OVERFLOW = 3.4028235677973366e38;

const encoder = new TextEncoder();
/** With the `u` flag a surrogate pair is one code point, so this matches lone surrogates only. */
const loneSurrogate = /[\uD800-\uDFFF]/u;
const fatalDecoder = new TextDecoder('utf-8', { fatal: true });

/** Whether a string fits `char[n]`: well formed, no NUL, at most n UTF-8 bytes. */
export function charFits(value: string, n: number): boolean {
  if (value.length > n) return false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0) return false;
    if (c >= 0x80) return !loneSurrogate.test(value) && !value.includes('\0') && encoder.encode(value).length <= n;
  }
  return true;
}

/** Writes a string that `charFits` accepted at `offset`, NUL-padding to `n` bytes. */
export function writeChar(target: Uint8Array, offset: number, value: string, n: number): void {
  let i = 0;
  const len = value.length;
  // ASCII fast path: one store per character, no TextEncoder call for the common case.
  for (; i < len; i++) {
    const c = value.charCodeAt(i);
    if (c >= 0x80) break;
    target[offset + i] = c;
  }
  if (i < len) i = encoder.encodeInto(value, target.subarray(offset, offset + n)).written;
  if (i < n) target.fill(0, offset + i, offset + n);
}

/** Reads a NUL-terminated (or n-byte) UTF-8 string; undefined if the bytes are not valid UTF-8. */
export function readChar(source: Uint8Array, offset: number, n: number): string | undefined {
  let end = offset;
  const limit = offset + n;
  let ascii = true;
  while (end < limit) {
    const c = source[end]!;
    if (c === 0) break;
    if (c >= 0x80) ascii = false;
    end++;
  }
  if (ascii) {
    // Short ASCII strings: String.fromCharCode beats TextDecoder's call overhead by far.
    let s = '';
    for (let i = offset; i < end; i++) s += String.fromCharCode(source[i]!);
    return s;
  }
  try {
    return fatalDecoder.decode(source.subarray(offset, end));
  } catch {
    return undefined;
  }
}

/** Refuses char bytes that are not valid UTF-8. */
export function badChar(path: string, n: number): DecodeError {
  return new DecodeError(
    path,
    `expected char[${n}] holding UTF-8, got invalid UTF-8 bytes; the writer must send UTF-8`,
  );
}

/** A short rendering of a received value for error messages. */
export function receivedText(type: FieldType, value: unknown): string {
  const inner = type.kind === 'aligned' ? type.inner : type;
  if (inner.kind === 'char' && typeof value === 'string') {
    const shown = value.length > 40 ? `${JSON.stringify(value.slice(0, 40))}...` : JSON.stringify(value);
    if (loneSurrogate.test(value)) return `${shown} (lone surrogate)`;
    if (value.includes('\0')) return `${shown} (contains NUL)`;
    return `${shown} (${encoder.encode(value).length} bytes)`;
  }
  return describeValue(value);
}

/** A short rendering of any value for error messages: `70000`, `5n`, `"abc" (string)`, `an array of 3 elements`. */
export function describeValue(value: unknown): string {
  switch (typeof value) {
    case 'number':
      return Object.is(value, -0) ? '-0' : String(value);
    case 'bigint':
      return `${value}n`;
    case 'string':
      return value.length > 40
        ? `${JSON.stringify(value.slice(0, 40))}... (string)`
        : `${JSON.stringify(value)} (string)`;
    case 'undefined':
      return 'undefined';
    case 'boolean':
      return String(value);
    case 'function':
      return 'a function';
    case 'symbol':
      return 'a symbol';
    default:
      if (value === null) return 'null';
      if (Array.isArray(value)) return `an array of ${value.length} elements`;
      if (value instanceof Uint8Array) return `a Uint8Array of ${value.length} bytes`;
      if (ArrayBuffer.isView(value)) return `a ${value.constructor.name}`;
      return 'an object';
  }
}

/** Builds the ValidationError for `value` at `path` not matching `type`. */
export function invalid(path: string, type: FieldType, value: unknown): ValidationError {
  return new ValidationError(path, expectedText(type), receivedText(type, value));
}

/** Refuses a decoded integer that is no member of an enum. */
export function unknownEnum(path: string, type: FieldType, value: number): DecodeError {
  return new DecodeError(
    path,
    `expected ${expectedText(type)}, got ${value}, which the enum does not declare; check the writer's schema, or declare the enum with { allowUnknown: true }`,
  );
}

/** Refuses a decoded bool byte other than 0 or 1. */
export function badBool(path: string, value: number): DecodeError {
  return new DecodeError(path, `expected bool byte 0 or 1, got ${value}; the writer is not using this schema`);
}

/** Refuses an encodeInto target that is not a Uint8Array with room for the message at `offset`. */
export function targetError(type: CompositeShape, target: unknown, offset: unknown): IpcError {
  if (!(target instanceof Uint8Array)) {
    return new ValidationError(`${type.name} target`, 'a Uint8Array', describeValue(target));
  }
  if (typeof offset !== 'number' || !Number.isInteger(offset) || offset < 0) {
    return new ValidationError(`${type.name} offset`, 'a non-negative integer', describeValue(offset));
  }
  return new MessageSizeError(
    type.size,
    target.length - offset,
    `${type.name}: ${type.size} bytes do not fit at offset ${offset} of a ${target.length}-byte target; pass a larger target or a smaller offset`,
  );
}

/** Refuses decode input of the wrong kind or size (exactly `size` bytes without offset, `size` bytes from offset). */
export function inputError(type: CompositeShape, bytes: unknown, offset: unknown): DecodeError {
  if (!(bytes instanceof Uint8Array)) {
    return new DecodeError(type.name, `expected a Uint8Array of ${type.size} bytes, got ${describeValue(bytes)}`);
  }
  if (offset === undefined) {
    const what = bytes.length < type.size ? 'short input' : 'oversized input';
    return new DecodeError(
      type.name,
      `expected exactly ${type.size} bytes, got ${bytes.length} (${what}); pass an offset to read one message out of a larger buffer`,
    );
  }
  if (typeof offset !== 'number' || !Number.isInteger(offset) || offset < 0) {
    return new DecodeError(type.name, `expected offset to be a non-negative integer, got ${describeValue(offset)}`);
  }
  return new DecodeError(
    type.name,
    `expected ${type.size} bytes at offset ${offset}, got ${Math.max(0, bytes.length - offset)} (short input of ${bytes.length} bytes)`,
  );
}

const typedArrayLength = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), 'length')
  ?.get as (this: Uint8Array) => number;

/**
 * The true length of a `bytes(n)` value: the typed array's own element count, which `set` copies,
 * not a `length` property a subclass or proxy could report differently; -1 when it is no
 * Uint8Array at all.
 */
export function bytesLength(value: unknown): number {
  if (!(value instanceof Uint8Array) || !ArrayBuffer.isView(value)) return -1;
  return typedArrayLength.call(value);
}

/** Size of the slab that decoded `bytes(n)` fields are carved from. */
const BYTES_SLAB = 64 * 1024;
/** V8 keeps typed arrays up to this size inside its heap: allocating one is as cheap as an object. */
const ON_HEAP_BYTES = 64;
let bytesSlab = new Uint8Array(0);
let bytesAt = 0;

/**
 * A copy of `n` bytes of `source` at `start`, for a decoded `bytes(n)` field. Small copies are
 * arrays of their own; larger ones are views into a shared 64 KiB slab, as Node's Buffer pool does:
 * an ArrayBuffer of its own outside V8's heap costs about a microsecond (more than receiving a
 * message), a copy into the slab a fraction of that. Regions are never reused, so every value
 * keeps its bytes; a slab is freed when no value refers to it any more.
 */
export function copyBytes(source: Uint8Array, start: number, n: number): Uint8Array {
  if (n <= ON_HEAP_BYTES || n > BYTES_SLAB / 8) return source.slice(start, start + n);
  if (bytesAt + n > bytesSlab.length) {
    bytesSlab = new Uint8Array(BYTES_SLAB);
    bytesAt = 0;
  }
  const at = bytesAt;
  bytesSlab.set(source.subarray(start, start + n), at);
  bytesAt = at + ((n + 7) & ~7);
  return bytesSlab.subarray(at, at + n);
}

/** Stores a checked bitfield value at bit `shift` of byte `o` onwards (little-endian bit order, as GCC on x86-64). */
export function writeBits(u: Uint8Array, o: number, shift: number, width: number, v: number | bigint): void {
  if (typeof v === 'bigint') {
    let x = BigInt.asUintN(width, v) << BigInt(shift);
    for (let i = 0; x > 0n; i++) {
      u[o + i]! |= Number(x & 255n);
      x >>= 8n;
    }
    return;
  }
  // At most 32 + 7 bits: exact in a double, so plain arithmetic, no BigInt.
  let x = (v < 0 ? v + 2 ** width : v) * 2 ** shift;
  for (let i = 0; x > 0; i++) {
    u[o + i]! |= x % 256;
    x = Math.floor(x / 256);
  }
}

/** Loads a bitfield value (number, or bigint when `big`), sign-extended when `signed`. */
export function readBits(
  u: Uint8Array,
  o: number,
  shift: number,
  width: number,
  signed: boolean,
  big: boolean,
): number | bigint {
  const span = Math.ceil((shift + width) / 8);
  if (big) {
    let x = 0n;
    for (let i = span - 1; i >= 0; i--) x = (x << 8n) | BigInt(u[o + i]!);
    x = BigInt.asUintN(width, x >> BigInt(shift));
    return signed ? BigInt.asIntN(width, x) : x;
  }
  let x = 0;
  for (let i = span - 1; i >= 0; i--) x = x * 256 + u[o + i]!;
  x = Math.floor(x / 2 ** shift) % 2 ** width;
  return signed && x >= 2 ** (width - 1) ? x - 2 ** width : x;
}

/** Refuses a union value that does not name exactly one member. */
export function unionCount(path: string, type: UnionShape, value: object): ValidationError {
  const names = type.fields.map((field) => field.name);
  const present = names.filter((name) => (value as Record<string, unknown>)[name] !== undefined);
  const received =
    present.length === 0
      ? 'no member'
      : `${present.length} members (${present.join(', ')}); a union holds one value: keep only the member you mean`;
  return new ValidationError(path, `union ${type.name} with exactly one of ${names.join(', ')}`, received);
}

/** Refuses union bytes that no member can read. */
export function unionUnreadable(path: string, type: UnionShape, first: unknown): DecodeError {
  return new DecodeError(
    path,
    `expected bytes some member of union ${type.name} can read, got bytes none can (${(first as Error).message}); check the writer's schema`,
  );
}

/** Whether an error is a DecodeError (a union's view that its bytes do not hold). */
export function isDecodeError(error: unknown): boolean {
  return error instanceof DecodeError;
}

/**
 * The helpers generated code calls: passed in as an argument, never pasted into source. This object
 * is the one list of them; the generated source destructures `runtimeNames`.
 */
export const runtime = {
  bytesLength,
  copyBytes,
  invalid,
  unknownEnum,
  badBool,
  badChar,
  charFits,
  writeChar,
  readChar,
  targetError,
  inputError,
  writeBits,
  readBits,
  unionCount,
  unionUnreadable,
  isDecodeError,
};

/** The names generated code knows the runtime helpers by. */
export const runtimeNames: readonly string[] = Object.keys(runtime);
