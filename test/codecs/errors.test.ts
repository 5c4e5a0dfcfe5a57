/**
 * One table of every error the codecs throw: invalid declarations (SchemaError), bad values
 * (ValidationError naming path, expected and received), bad input to decode (DecodeError) and
 * targets too small (MessageSizeError): class, name, code and the exact message.
 */
import { describe, expect, it } from 'vitest';
import {
  aligned,
  array,
  bool,
  bytes,
  char,
  enumOf,
  f32,
  f64,
  IpcError,
  i8,
  i32,
  i64,
  type MessageSizeError,
  SchemaError,
  struct,
  u8,
  u16,
  u32,
  u64,
  ValidationError,
} from '../../src/index.js';

const Reading = struct('reading', { id: u8, value: u16 });
const Kind = enumOf(u8, { IDLE: 0, BUSY: 1 });
const Frame = struct('frame', {
  name: char(4),
  readings: array(Reading, 4),
  kind: Kind,
  ok: bool,
  count: u32,
  delta: i8,
  total: i64,
  stamp: u64,
  ratio: f32,
  mean: f64,
  raw: bytes(2),
  grid: array(array(i32, 2), 2),
});
const good = {
  name: 'ab',
  readings: [0, 1, 2, 3].map((id) => ({ id, value: 0 })),
  kind: 'IDLE' as const,
  ok: true,
  count: 0,
  delta: 0,
  total: 0n,
  stamp: 0n,
  ratio: 0,
  mean: 0,
  raw: new Uint8Array(2),
  grid: [
    [0, 0],
    [0, 0],
  ],
};

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a throw');
}

describe('SchemaError for invalid declarations', () => {
  it.each<[string, () => unknown, string]>([
    [
      'aligned below natural alignment',
      () => aligned(u32, 2),
      "aligned(type, 2): 2 is below the type's natural alignment 4; C's _Alignas cannot reduce alignment",
    ],
    [
      'non-power-of-two aligned',
      () => aligned(u8, 3),
      'aligned(type, n): expected a power of two from 1 to 4096, got 3',
    ],
    [
      'non-power-of-two struct align',
      () => struct('s', { a: u8 }, { align: 12 }),
      'struct s: option align: expected a power of two from 1 to 4096, got 12',
    ],
    [
      'bad pack',
      () => struct('s', { a: u8 }, { pack: 3 as 1 }),
      'struct s: option pack: expected 1, 2, 4, 8 or 16, got 3',
    ],
    [
      'bad endian',
      () => struct('s', { a: u8 }, { endian: 'middle' as 'big' }),
      "struct s: option endian: expected 'little' or 'big', got middle",
    ],
    [
      'zero-length array',
      () => array(u8, 0),
      'array(type, n): expected a length from 1 to 2147483647, got 0; C has no zero-length or negative arrays',
    ],
    [
      'zero-length char',
      () => char(0),
      'char(n): expected a length from 1 to 2147483647, got 0; C has no zero-length or negative arrays',
    ],
    [
      'fractional bytes length',
      () => bytes(1.5),
      'bytes(n): expected a length from 1 to 2147483647, got 1.5; C has no zero-length or negative arrays',
    ],
    [
      'duplicate field',
      () =>
        struct('s', [
          ['a', u8],
          ['a', u16],
        ]),
      'struct s: duplicate field a; field names must be unique',
    ],
    [
      '__proto__ as a computed key',
      () => struct('s', { ['__proto__']: u8 }),
      'struct s: field name: "__proto__" is refused because it would alter JS objects; rename it',
    ],
    [
      '__proto__ in an object literal',
      () => struct('s', { __proto__: u8, a: u8 } as never),
      'struct s: fields must be a plain object; a field named __proto__ is refused',
    ],
    [
      'constructor',
      () => struct('s', { constructor: u8 }),
      'struct s: field name: "constructor" is refused because it would alter JS objects; rename it',
    ],
    [
      'prototype',
      () => struct('s', { prototype: u8 }),
      'struct s: field name: "prototype" is refused because it would alter JS objects; rename it',
    ],
    [
      'non-identifier field',
      () => struct('s', { 'a-b': u8 }),
      'struct s: field name: expected a C identifier ([A-Za-z_][A-Za-z0-9_]*), got "a-b"',
    ],
    ['C keyword field', () => struct('s', { int: u8 }), 'struct s: field name: "int" is a C keyword; rename it'],
    [
      'bad struct name',
      () => struct('my struct', { a: u8 }),
      'struct name: expected a C identifier ([A-Za-z_][A-Za-z0-9_]*), got "my struct"',
    ],
    ['empty struct', () => struct('s', {}), 'struct s: expected at least one field, got none (C has no empty structs)'],
    [
      'not a type',
      () => struct('s', { a: 'u8' as never }),
      'struct s: field a: expected a field type (u8, f64, char(n), array(...), a struct, ...), got u8',
    ],
    [
      'aligned as array element',
      () => array(aligned(u8, 4) as never, 2),
      'array(type, n): aligned(...) applies to a struct field only, not to an array element',
    ],
    [
      'enum on a 64-bit base',
      () => enumOf(u64 as never, { A: 1 }),
      'enumOf(base, ...): expected base u8, u16, u32, i8, i16 or i32, got u64',
    ],
    [
      'enum value out of base range',
      () => enumOf(u8, { A: 256 }),
      'enumOf: member A: expected an integer in 0..255 (u8, C int), got 256',
    ],
    ['enum without members', () => enumOf(u8, {}), 'enumOf(base, members): expected at least one member, got none'],
    [
      'struct too large',
      () => array(array(u64, 65536), 65536),
      'array(type, 65536): 34359738368 bytes exceeds the limit of 2147483647',
    ],
  ])('%s', (_, declare, message) => {
    const error = thrown(declare);
    expect(error).toBeInstanceOf(SchemaError);
    expect(error).toBeInstanceOf(IpcError);
    expect(error.name).toBe('SchemaError');
    expect((error as SchemaError).code).toBe('ERR_IPC_SCHEMA');
    expect(error.message).toBe(message);
  });
});

describe('ValidationError for bad values', () => {
  const at = (path: string, value: unknown) => {
    const [field, ...rest] = path.split('.');
    if (rest.length > 0) throw new Error('only top-level fields here');
    return { ...good, [field!]: value };
  };
  it.each<[string, unknown, string, string, string]>([
    ['not an object', null, 'frame', 'struct frame (an object)', 'null'],
    ['missing field', at('count', undefined), 'frame.count', 'u32 (0..4294967295)', 'undefined'],
    ['u32 negative', at('count', -1), 'frame.count', 'u32 (0..4294967295)', '-1'],
    ['u32 fraction', at('count', 1.5), 'frame.count', 'u32 (0..4294967295)', '1.5'],
    ['u32 NaN', at('count', Number.NaN), 'frame.count', 'u32 (0..4294967295)', 'NaN'],
    ['u32 as string', at('count', '5'), 'frame.count', 'u32 (0..4294967295)', '"5" (string)'],
    ['i8 too big', at('delta', 128), 'frame.delta', 'i8 (-128..127)', '128'],
    ['i64 as number', at('total', 1), 'frame.total', 'i64 bigint (-9223372036854775808n..9223372036854775807n)', '1'],
    [
      'u64 too big',
      at('stamp', 2n ** 64n),
      'frame.stamp',
      'u64 bigint (0n..18446744073709551615n)',
      '18446744073709551616n',
    ],
    ['u64 negative', at('stamp', -1n), 'frame.stamp', 'u64 bigint (0n..18446744073709551615n)', '-1n'],
    [
      'f32 overflow',
      at('ratio', 1e39),
      'frame.ratio',
      'f32 (a number within ±3.4028234663852886e38, NaN or ±Infinity)',
      '1e+39',
    ],
    ['f64 bigint', at('mean', 1n), 'frame.mean', 'f64 (a number)', '1n'],
    ['bool as number', at('ok', 1), 'frame.ok', 'bool (true or false)', '1'],
    [
      'char too long',
      at('name', 'abcde'),
      'frame.name',
      'char[4] (a string of at most 4 UTF-8 bytes, without NUL or lone surrogates)',
      '"abcde" (5 bytes)',
    ],
    [
      'char too long in UTF-8',
      at('name', 'ééé'),
      'frame.name',
      'char[4] (a string of at most 4 UTF-8 bytes, without NUL or lone surrogates)',
      '"ééé" (6 bytes)',
    ],
    [
      'char with NUL',
      at('name', 'a\0b'),
      'frame.name',
      'char[4] (a string of at most 4 UTF-8 bytes, without NUL or lone surrogates)',
      '"a\\u0000b" (contains NUL)',
    ],
    [
      'char lone surrogate',
      at('name', '\ud83d'),
      'frame.name',
      'char[4] (a string of at most 4 UTF-8 bytes, without NUL or lone surrogates)',
      '"\\ud83d" (lone surrogate)',
    ],
    [
      'bytes wrong length',
      at('raw', new Uint8Array(3)),
      'frame.raw',
      'bytes[2] (a Uint8Array of exactly 2 bytes)',
      'a Uint8Array of 3 bytes',
    ],
    [
      'bytes as array',
      at('raw', [1, 2]),
      'frame.raw',
      'bytes[2] (a Uint8Array of exactly 2 bytes)',
      'an array of 2 elements',
    ],
    [
      'array too short',
      at('readings', []),
      'frame.readings',
      'an array of exactly 4 elements',
      'an array of 0 elements',
    ],
    [
      'array element field',
      at(
        'readings',
        [0, 1, 2, 3].map((id) => ({ id, value: id === 3 ? 70000 : 0 })),
      ),
      'frame.readings[3].value',
      'u16 (0..65535)',
      '70000',
    ],
    [
      'array element not an object',
      at('readings', [{ id: 0, value: 0 }, 5, { id: 0, value: 0 }, { id: 0, value: 0 }]),
      'frame.readings[1]',
      'struct reading (an object)',
      '5',
    ],
    [
      'array of arrays',
      at('grid', [
        [0, 0],
        [0, 2 ** 31],
      ]),
      'frame.grid[1][1]',
      'i32 (-2147483648..2147483647)',
      '2147483648',
    ],
    ['unknown enum name', at('kind', 'SLEEPING'), 'frame.kind', 'enum (one of "IDLE", "BUSY")', '"SLEEPING" (string)'],
    ['enum as number', at('kind', 1), 'frame.kind', 'enum (one of "IDLE", "BUSY")', '1'],
  ])('%s', (_, value, path, expected, received) => {
    for (const fn of [
      () => Frame.encode(value as never),
      () => Frame.validate(value),
      () => Frame.encodeInto(value as never, new Uint8Array(Frame.size)),
    ]) {
      const error = thrown(fn) as ValidationError;
      expect(error).toBeInstanceOf(ValidationError);
      expect(error.name).toBe('ValidationError');
      expect(error.code).toBe('ERR_IPC_VALIDATION');
      expect({ path: error.path, expected: error.expected, received: error.received }).toEqual({
        path,
        expected,
        received,
      });
      expect(error.message).toBe(`${path}: expected ${expected}, got ${received}`);
    }
  });

  it('encodeInto writes nothing when the value is refused', () => {
    const target = new Uint8Array(Frame.size).fill(0xee);
    expect(() => Frame.encodeInto({ ...good, mean: 'x' } as never, target)).toThrow(ValidationError);
    expect(target.every((b) => b === 0xee)).toBe(true);
  });
});

describe('DecodeError and MessageSizeError', () => {
  const bytesOf = Frame.encode(good);
  it.each<[string, () => unknown, string, string]>([
    [
      'short input',
      () => Frame.decode(bytesOf.subarray(1)),
      'DecodeError',
      `frame: expected exactly ${Frame.size} bytes, got ${Frame.size - 1} (short input); pass an offset to read one message out of a larger buffer`,
    ],
    [
      'oversized input',
      () => Frame.decode(new Uint8Array(Frame.size + 1)),
      'DecodeError',
      `frame: expected exactly ${Frame.size} bytes, got ${Frame.size + 1} (oversized input); pass an offset to read one message out of a larger buffer`,
    ],
    [
      'short at offset',
      () => Frame.decode(new Uint8Array(Frame.size + 4), 5),
      'DecodeError',
      `frame: expected ${Frame.size} bytes at offset 5, got ${Frame.size - 1} (short input of ${Frame.size + 4} bytes)`,
    ],
    [
      'negative offset',
      () => Frame.decode(bytesOf, -1),
      'DecodeError',
      'frame: expected offset to be a non-negative integer, got -1',
    ],
    [
      'not bytes',
      () => Frame.decode([1, 2] as never),
      'DecodeError',
      `frame: expected a Uint8Array of ${Frame.size} bytes, got an array of 2 elements`,
    ],
    [
      'undeclared enum value',
      () => {
        const copy = Uint8Array.from(bytesOf);
        copy[Frame.offsetOf('kind')] = 7;
        return Frame.decode(copy);
      },
      'DecodeError',
      'frame.kind: expected enum (one of "IDLE", "BUSY"), got 7, which the enum does not declare; check the writer\'s schema, or declare the enum with { allowUnknown: true }',
    ],
    [
      'bool byte 2',
      () => {
        const copy = Uint8Array.from(bytesOf);
        copy[Frame.offsetOf('ok')] = 2;
        return Frame.decode(copy);
      },
      'DecodeError',
      'frame.ok: expected bool byte 0 or 1, got 2; the writer is not using this schema',
    ],
    [
      'invalid UTF-8',
      () => {
        const copy = Uint8Array.from(bytesOf);
        copy[0] = 0xff;
        return Frame.decode(copy);
      },
      'DecodeError',
      'frame.name: expected char[4] holding UTF-8, got invalid UTF-8 bytes; the writer must send UTF-8',
    ],
    [
      'target too small',
      () => Frame.encodeInto(good, new Uint8Array(Frame.size + 2), 3),
      'MessageSizeError',
      `frame: ${Frame.size} bytes do not fit at offset 3 of a ${Frame.size + 2}-byte target; pass a larger target or a smaller offset`,
    ],
    [
      'target not bytes',
      () => Frame.encodeInto(good, {} as never),
      'ValidationError',
      'frame target: expected a Uint8Array, got an object',
    ],
    [
      'fractional offset',
      () => Frame.encodeInto(good, new Uint8Array(200), 1.5),
      'ValidationError',
      'frame offset: expected a non-negative integer, got 1.5',
    ],
  ])('%s', (_, fn, name, message) => {
    const error = thrown(fn) as IpcError;
    expect(error).toBeInstanceOf(IpcError);
    expect(error.name).toBe(name);
    expect(error.code).toBe(
      {
        DecodeError: 'ERR_IPC_DECODE',
        MessageSizeError: 'ERR_IPC_MESSAGE_SIZE',
        ValidationError: 'ERR_IPC_VALIDATION',
      }[name],
    );
    expect(error.message).toBe(message);
  });

  it('MessageSizeError carries the size and the room', () => {
    const error = thrown(() => Frame.encodeInto(good, new Uint8Array(10))) as MessageSizeError;
    expect([error.size, error.limit]).toEqual([Frame.size, 10]);
  });

  it('allowUnknown enums pass undeclared values through as numbers', () => {
    const Loose = struct('loose', { kind: enumOf(u8, { A: 1 }, { allowUnknown: true }) });
    expect(Loose.decode(Uint8Array.of(9))).toEqual({ kind: 9 });
    expect(Loose.decode(Uint8Array.of(1))).toEqual({ kind: 'A' });
    expect(Loose.encode({ kind: 200 })).toEqual(Uint8Array.of(200));
    expect(() => Loose.encode({ kind: 256 })).toThrow(
      'loose.kind: expected enum (one of "A", or an integer of u8 (0..255)), got 256',
    );
  });
});
