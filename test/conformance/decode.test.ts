import { describe, expect, it } from 'vitest';
import { open } from '../../src/channels/index.js';
import { DecodeError, IpcError } from '../../src/errors.js';
import { rawCodec } from '../helpers.js';
import { defer } from './setup.js';
import { Rec, rec, refused, rows } from './transports.js';

const good = (seq: number): Uint8Array => Rec.encode(rec(seq));
/** A record whose `flag` byte is 7: the receiver's bool refuses it. */
function bad(seq: number): Uint8Array {
  const bytes = good(seq);
  bytes[4] = 7;
  return bytes;
}

describe.each(rows)('$name: a bad record', (row) => {
  it('is one DecodeError, and the records after it arrive', async () => {
    if (refused(row.foreignWriter)) {
      // Declared: a writer with another schema cannot open the channel at all.
      const { url } = await row.pair(Rec, defer);
      const error = await open(url, rawCodec(Rec.size)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(IpcError);
      expect(String(error)).toMatch(/fingerprint/);
      return;
    }
    const { tx, rx } = await row.pair(Rec, defer, {}, rawCodec(Rec.size));
    await tx.sendMany([good(1), bad(2), good(3)]);
    await expect(rx.receive({ timeoutMs: 10_000 })).resolves.toMatchObject({ value: rec(1) });
    await expect(rx.receive({ timeoutMs: 10_000 })).rejects.toBeInstanceOf(DecodeError);
    await expect(rx.receive({ timeoutMs: 10_000 })).resolves.toMatchObject({ value: rec(3) });
    expect(rx.tryReceive()).toBeUndefined();
  });

  it('in a batch: the good records before it are delivered, then one DecodeError, then the rest', async () => {
    if (refused(row.foreignWriter)) {
      expect(row.foreignWriter.refused).toMatch(/fingerprint/);
      return;
    }
    const { tx, rx } = await row.pair(Rec, defer, {}, rawCodec(Rec.size));
    await tx.sendMany([good(1), good(2), bad(3), good(4)]);
    const seen: number[] = [];
    let errors = 0;
    while (seen.length < 3) {
      try {
        for (const message of await rx.receiveMany(8, { timeoutMs: 10_000 })) seen.push(message.value.seq);
      } catch (error) {
        expect(error).toBeInstanceOf(DecodeError);
        expect(seen).toEqual([1, 2]);
        errors += 1;
      }
    }
    expect(errors).toBe(1);
    expect(seen).toEqual([1, 2, 4]);
    expect(rx.tryReceive()).toBeUndefined();
  });
});
