import { describe, expect, it } from 'vitest';
import { defer } from './setup.js';
import { Rec, rec, refused, rows } from './transports.js';

const COUNT = 2000;

describe.each(rows)('$name: backpressure', (row) => {
  it(`a sender faster than its receiver loses nothing (${COUNT} records), or a declared refusal`, async () => {
    const { tx, rx } = await row.pair(Rec, defer);
    if (refused(row.backpressure)) {
      // Declared: no flow control; a send never waits even when nobody receives.
      expect(row.backpressure.refused).toMatch(/dropped/);
      for (let i = 0; i < COUNT; i += 1) expect(tx.trySend(rec(i))).toBe(true);
      return;
    }
    const values = Array.from({ length: COUNT }, (_, i) => rec(i));
    const sending = (async () => {
      await tx.sendMany(values.slice(0, COUNT / 2), { timeoutMs: 30_000 });
      for (const value of values.slice(COUNT / 2)) await tx.send(value, { timeoutMs: 30_000 });
    })();
    const seen: number[] = [];
    while (seen.length < COUNT) {
      for (const message of await rx.receiveMany(7, { timeoutMs: 30_000 })) {
        expect(message.value).toEqual(rec(message.value.seq));
        seen.push(message.value.seq);
      }
    }
    await sending;
    expect(seen).toEqual(values.map((v) => v.seq));
    expect(rx.tryReceive()).toBeUndefined();
  });

  it('sendMany calls that all wait keep their own records, in call order, with sends between them', async () => {
    const { tx, rx } = await row.pair(Rec, defer);
    if (refused(row.backpressure)) return expect(row.backpressure.refused).toMatch(/dropped/);
    // Three batches, each larger than any row's capacity, started before any is written: a batch
    // that waits must not share its bytes with the next one (the queue keeps the batch's own buffer).
    const batches = [0, 1, 2].map((b) => Array.from({ length: 20_000 }, (_, i) => rec(b * 100_000 + i)));
    const sent = [...(batches[0] ?? []), rec(900_000), ...(batches[1] ?? []), rec(900_001), ...(batches[2] ?? [])];
    const sending = Promise.all([
      tx.sendMany(batches[0] ?? [], { timeoutMs: 30_000 }),
      tx.send(rec(900_000), { timeoutMs: 30_000 }),
      tx.sendMany(batches[1] ?? [], { timeoutMs: 30_000 }),
      tx.send(rec(900_001), { timeoutMs: 30_000 }),
      tx.sendMany(batches[2] ?? [], { timeoutMs: 30_000 }),
    ]);
    const seen: ReturnType<typeof rec>[] = [];
    while (seen.length < sent.length) {
      for (const message of await rx.receiveMany(256, { timeoutMs: 30_000 })) seen.push(message.value);
    }
    await sending;
    // The first record out of place, not a diff of 60 000 records.
    const wrong = seen.findIndex((value, i) => value.seq !== sent[i]?.seq || value.flag !== sent[i]?.flag);
    expect({ wrong, at: seen[wrong] }).toEqual({ wrong: -1, at: undefined });
    expect(seen.length).toBe(sent.length);
    expect(rx.tryReceive()).toBeUndefined();
  });
});
