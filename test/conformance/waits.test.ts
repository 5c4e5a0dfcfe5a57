import { describe, expect, it } from 'vitest';
import { AbortError, TimeoutError } from '../../src/errors.js';
import { defer } from './setup.js';
import { Rec, rec, refused, rows } from './transports.js';

/** The next sequence number `fill` sends (reset by each test). */
let next = 0;
/** Fills the sender until the transport refuses more now; returns how many went in. */
function fill(tx: { trySend(value: ReturnType<typeof rec>): boolean }): number {
  let n = 0;
  while (tx.trySend(rec(next))) {
    next += 1;
    n += 1;
    if (n > 1_000_000) throw new Error('the channel never filled');
  }
  return n;
}

describe.each(rows)('$name: timeout and abort on every wait', (row) => {
  it('receive: TimeoutError after timeoutMs, AbortError on an aborted or aborting signal', async () => {
    const { rx } = await row.pair(Rec, defer);
    await expect(rx.receive({ timeoutMs: 20 })).rejects.toBeInstanceOf(TimeoutError);
    await expect(rx.receiveMany(4, { timeoutMs: 20 })).rejects.toBeInstanceOf(TimeoutError);
    await expect(rx.receive({ signal: AbortSignal.abort() })).rejects.toBeInstanceOf(AbortError);
    const controller = new AbortController();
    const waiting = rx.receive({ signal: controller.signal });
    controller.abort();
    await expect(waiting).rejects.toBeInstanceOf(AbortError);
    expect(rx.closed).toBe(false);
  });

  it('send on a full channel: TimeoutError and AbortError, and the channel still works', async () => {
    const { tx, rx } = await row.pair(Rec, defer);
    if (refused(row.backpressure)) {
      // Declared: no backpressure, so send never waits; many sends in a row all complete.
      for (let i = 0; i < 1000; i += 1) expect(tx.trySend(rec(i))).toBe(true);
      return;
    }
    // TCP may grow its buffers after a fill (autotuning): fill again right before each wait.
    next = 0;
    let filled = fill(tx);
    expect(filled).toBeGreaterThan(0);
    filled += fill(tx);
    await expect(tx.send(rec(filled), { timeoutMs: 20 })).rejects.toBeInstanceOf(TimeoutError);
    filled += fill(tx);
    await expect(tx.sendMany([rec(filled)], { timeoutMs: 20 })).rejects.toBeInstanceOf(TimeoutError);
    await expect(tx.send(rec(filled), { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(AbortError);
    filled += fill(tx);
    const controller = new AbortController();
    const waiting = tx.send(rec(filled), { signal: controller.signal });
    controller.abort();
    await expect(waiting).rejects.toBeInstanceOf(AbortError);
    // The refused sends left nothing behind: exactly the filled records arrive, in order.
    const seen: number[] = [];
    while (seen.length < filled) {
      for (const message of await rx.receiveMany(64, { timeoutMs: 10_000 })) seen.push(message.value.seq);
    }
    expect(seen).toEqual(Array.from({ length: filled }, (_, i) => i));
    expect(rx.tryReceive()).toBeUndefined();
  });

  const connectBug = row.knownBugs?.find((bug) => bug.startsWith('connect'));
  (connectBug ? it.fails : it)(
    `waiting for a peer (connect, FIFO open): TimeoutError and AbortError${connectBug ? ` (known bug: ${connectBug})` : ''}`,
    async () => {
      if (refused(row.peerWait)) {
        expect(row.peerWait.refused).toMatch(/never waits/);
        return;
      }
      // Each wait is bounded: the known-bug row would otherwise retry for its fixed 5 s.
      await expect(row.peerWait(defer, { timeoutMs: 20 })).rejects.toBeInstanceOf(TimeoutError);
      await expect(row.peerWait(defer, { signal: AbortSignal.timeout(20) })).rejects.toBeInstanceOf(AbortError);
      await expect(row.peerWait(defer, { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(AbortError);
    },
  );

  it('accept: TimeoutError and AbortError', async () => {
    if (refused(row.listener)) {
      expect(row.listener.refused).toMatch(/./);
      return;
    }
    const listener = await row.listener(defer);
    await expect(listener.accept({ timeoutMs: 20 })).rejects.toBeInstanceOf(TimeoutError);
    await expect(listener.accept({ signal: AbortSignal.abort() })).rejects.toBeInstanceOf(AbortError);
    const controller = new AbortController();
    const waiting = listener.accept({ signal: controller.signal });
    controller.abort();
    await expect(waiting).rejects.toBeInstanceOf(AbortError);
  });
});
