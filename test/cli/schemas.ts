/** Schemas the CLI tests load with `--schema test/cli/schemas.ts#<export>`. */
import { z } from 'zod';
import { array, bytes, char, enumOf, f64, i64, msgpack, struct, u8, u16, u64 } from '../../src/index.js';

/** The measurement sample: 24 bytes. */
export const Sample = struct('sample', { channel: u16, timestamp: u64, value: f64 });

/** Every kind of field the JSON conversion handles. */
export const Rich = struct('rich', {
  id: u8,
  big: i64,
  name: char(8),
  raw: bytes(4),
  levels: array(u16, 3),
  mode: enumOf(u8, { OFF: 0, ON: 1 }),
  inner: struct('inner', { when: u64 }),
});

/** A variable-size codec: no C layout. */
export const Note = msgpack(z.object({ text: z.string(), when: z.bigint() }), { maxSize: 64, name: 'note' });

/** Not a codec: the CLI must say so. */
export const notACodec = { hello: 'world' };
