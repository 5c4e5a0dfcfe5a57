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
});
