import { describe, expect, it } from 'vitest';
import { defer } from './setup.js';
import { Rec, rec, refused, rows } from './transports.js';

describe.each(rows)('$name: for await', (row) => {
  it('yields what was sent and ends when the receiving channel is closed', async () => {
    const { tx, rx } = await row.pair(Rec, defer);
    await tx.sendMany([rec(1), rec(2)]);
    const seen: number[] = [];
    for await (const message of rx) {
      seen.push(message.value.seq);
      if (seen.length === 2) void rx.close();
    }
    expect(seen).toEqual([1, 2]);
    expect(rx.closed).toBe(true);
  });

  it('ends at the end of stream when the sender closes (or the row declares there is none)', async () => {
    const { tx, rx } = await row.pair(Rec, defer);
    await tx.sendMany([rec(1), rec(2)]);
    if (refused(row.endOfStream)) {
      expect(row.endOfStream.refused).toMatch(/no end|has no end|no connection/);
      await tx.close();
      // Without an end of stream, the receiver keeps what was sent and then simply waits.
      expect((await rx.receiveMany(2, { timeoutMs: 10_000 })).length).toBeGreaterThan(0);
      return;
    }
    await tx.close();
    const seen: number[] = [];
    for await (const message of rx) seen.push(message.value.seq);
    expect(seen).toEqual([1, 2]);
  });
});
