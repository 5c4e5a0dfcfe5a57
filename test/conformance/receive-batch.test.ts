import { describe, expect, it } from 'vitest';
import { RECEIVE_BATCH_LIMIT } from '../../src/channels/index.js';
import { TimeoutError } from '../../src/errors.js';
import { defer } from './setup.js';
import { Rec, rec, refused, rows } from './transports.js';

const COUNT = 3000;

describe.each(rows)('$name: receiveMany batch limit', (row) => {
  it(`returns at most RECEIVE_BATCH_LIMIT (${RECEIVE_BATCH_LIMIT}) messages per call, the rest on the next calls`, async () => {
    const { tx, rx } = await row.pair(Rec, defer);
    if (refused(row.backpressure)) {
      // Declared: no flow control, so what is dropped is not ours to count. What arrives still comes
      // in batches of at most the limit, in order.
      expect(row.backpressure.refused).toMatch(/dropped/);
      for (let i = 0; i < COUNT; i++) tx.trySend(rec(i));
      // Let what arrives arrive (a client's queue, a socket buffer), so that the first call finds it all.
      await new Promise((resolve) => setTimeout(resolve, 500));
      const sizes: number[] = [];
      const seen: number[] = [];
      for (;;) {
        let batch: Awaited<ReturnType<typeof rx.receiveMany>>;
        try {
          batch = await rx.receiveMany(COUNT + 1000, { timeoutMs: 1000 });
        } catch (error) {
          if (error instanceof TimeoutError) break;
          throw error;
        }
        sizes.push(batch.length);
        for (const message of batch) seen.push(message.value.seq);
      }
      expect(seen.length).toBeGreaterThan(0);
      expect(Math.max(...sizes)).toBeLessThanOrEqual(RECEIVE_BATCH_LIMIT);
      expect(seen).toEqual([...seen].sort((a, b) => a - b));
      return;
    }
    const values = Array.from({ length: COUNT }, (_, i) => rec(i));
    const sending = tx.sendMany(values, { timeoutMs: 30_000 });
    // Where the transport holds all of them (a socket buffer, a large ring), the first call finds more
    // than the limit waiting and must stop at it; elsewhere the sender waits for room as we receive.
    const allWaiting = await Promise.race([sending.then(() => true), new Promise((r) => setTimeout(r, 300, false))]);
    const sizes: number[] = [];
    const seen: number[] = [];
    while (seen.length < COUNT) {
      const batch = await rx.receiveMany(COUNT + 1000, { timeoutMs: 30_000 });
      sizes.push(batch.length);
      for (const message of batch) seen.push(message.value.seq);
    }
    await sending;
    expect(Math.max(...sizes)).toBeLessThanOrEqual(RECEIVE_BATCH_LIMIT);
    if (allWaiting) expect(sizes[0]).toBe(RECEIVE_BATCH_LIMIT);
    expect(seen).toEqual(values.map((v) => v.seq));
  });
});
