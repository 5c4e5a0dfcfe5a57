/**
 * The msgpack codec: round trips with zod and TypeBox schemas (bigint, bytes, nested), validation
 * on encode and on decode, maxSize on encode/encodeInto/decode, trailing and broken input.
 */
import { Type } from '@sinclair/typebox';
import { pack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { DecodeError, MessageSizeError, msgpack, SchemaError, ValidationError } from '../../src/index.js';

const zodEvent = z.object({ id: z.bigint(), tags: z.array(z.string().max(8)), payload: z.instanceof(Uint8Array) });
const boxEvent = Type.Object({
  id: Type.BigInt(),
  tags: Type.Array(Type.String({ maxLength: 8 })),
  payload: Type.Uint8Array(),
});
const event = { id: 2n ** 60n, tags: ['a', 'bé'], payload: new Uint8Array([1, 2, 3]) };

describe.each([
  ['zod', msgpack(zodEvent, { maxSize: 64, name: 'event' })],
  ['typebox', msgpack(boxEvent, { maxSize: 64, name: 'event' })],
])('msgpack with %s', (_, codec) => {
  it('is a variable-size codec bounded by maxSize', () => {
    expect(codec.fixedSize).toBe(false);
    expect(codec.size).toBe(64);
    expect(codec.name).toBe('event');
    expect(codec.fingerprint).toMatch(/^[0-9a-f]{16}$/);
  });

  it('round-trips values, bigint and bytes included', () => {
    const bytes = codec.encode(event);
    const back = codec.decode(bytes) as typeof event;
    expect(back.id).toBe(event.id);
    expect(back.tags).toEqual(event.tags);
    expect(new Uint8Array(back.payload)).toEqual(event.payload);
    const target = new Uint8Array(100).fill(7);
    const n = codec.encodeInto(event, target, 10);
    expect(n).toBe(bytes.length);
    expect(target.subarray(10, 10 + n)).toEqual(bytes);
    expect(target[9]).toBe(7);
    expect(target[10 + n]).toBe(7);
    expect((codec.decode(target.subarray(0, 10 + n), 10) as typeof event).id).toBe(event.id);
  });

  it('decodes into values that do not share memory with the input', () => {
    const bytes = Uint8Array.from(codec.encode(event));
    const back = codec.decode(bytes) as typeof event;
    bytes.fill(0);
    expect(Array.from(back.payload)).toEqual([1, 2, 3]);
  });

  it('refuses invalid values with ValidationError naming the field', () => {
    expect(() => codec.encode({ ...event, tags: ['far too long a tag'] })).toThrow(ValidationError);
    try {
      codec.validate({ ...event, id: 5 });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).path).toBe('event.id');
    }
  });

  it('refuses encodings above maxSize, and writes nothing', () => {
    const big = { ...event, payload: new Uint8Array(100) };
    expect(() => codec.encode(big)).toThrow(MessageSizeError);
    const target = new Uint8Array(200);
    expect(() => codec.encodeInto(big, target)).toThrow(/above maxSize 64/);
    expect(target.every((b) => b === 0)).toBe(true);
    expect(() => codec.encodeInto(event, new Uint8Array(8))).toThrow(MessageSizeError);
  });

  it('refuses oversized, broken, trailing and schema-violating input on decode', () => {
    expect(() => codec.decode(new Uint8Array(65))).toThrow(/oversized/);
    expect(() => codec.decode(new Uint8Array([0xc1]))).toThrow(DecodeError);
    const bytes = codec.encode(event);
    expect(() => codec.decode(Uint8Array.from([...bytes, 0x01]))).toThrow(/exactly one MessagePack value/);
    expect(() => codec.decode(pack({ id: 1, tags: [], payload: new Uint8Array(0) }))).toThrow(DecodeError);
  });
});

describe('msgpack declaration errors', () => {
  it('refuses a missing or bad maxSize and a schema that is neither zod nor TypeBox', () => {
    expect(() => msgpack(zodEvent, { maxSize: 0 })).toThrow(SchemaError);
    expect(() => msgpack(zodEvent, { maxSize: 1.5 })).toThrow(/maxSize/);
    expect(() => msgpack({} as never, { maxSize: 10 })).toThrow(SchemaError);
  });

  it('fingerprints differ when the schema or maxSize differs', () => {
    const a = msgpack(z.object({ a: z.number() }), { maxSize: 10 });
    expect(msgpack(z.object({ a: z.number() }), { maxSize: 10 }).fingerprint).toBe(a.fingerprint);
    expect(msgpack(z.object({ a: z.string() }), { maxSize: 10 }).fingerprint).not.toBe(a.fingerprint);
    expect(msgpack(z.object({ a: z.number() }), { maxSize: 11 }).fingerprint).not.toBe(a.fingerprint);
  });
});
