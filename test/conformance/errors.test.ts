import { describe, expect, it } from 'vitest';
import { ChannelClosedError, IpcError, SystemError, TimeoutError, ValidationError } from '../../src/errors.js';
import { defer } from './setup.js';
import { Rec, rec, refused, rows } from './transports.js';

/** Sends until a send fails or `limit` sends went through; returns the error. */
async function sendUntilRefused(send: (i: number) => Promise<void>, limit: number): Promise<unknown> {
  for (let i = 0; i < limit; i += 1) {
    const error = await send(i).then(
      () => undefined,
      (e: unknown) => e,
    );
    if (error !== undefined) return error;
  }
  return undefined;
}

describe.each(rows)('$name: the same fault, the same error class', (row) => {
  const gone = row.peerGone;
  it(`sending after the receiver closed is ${refused(gone) ? `no error (${gone.refused})` : `a ${gone.error} (${gone.why})`}`, async () => {
    const { tx, rx } = await row.pair(Rec, defer);
    await rx.close();
    if (refused(gone)) {
      // Declared: a sender has no receiver to lose; its sends go on succeeding.
      expect(gone.refused).toMatch(/no peer/);
      for (let i = 0; i < 100; i += 1) await tx.send(rec(i), { timeoutMs: 10_000 });
      return;
    }
    // A connection may take a send or two before the kernel reports the peer gone; a queue fills first.
    const error = await sendUntilRefused((i) => tx.send(rec(i), { timeoutMs: 200 }), 4096);
    const expected = { ChannelClosedError, TimeoutError }[gone.error];
    expect(error).toBeInstanceOf(expected);
    expect(error).not.toBeInstanceOf(SystemError);
    expect(error).toBeInstanceOf(IpcError);
  });

  it('a value that does not fit the schema is a ValidationError, and nothing is sent', async () => {
    const { tx, rx } = await row.pair(Rec, defer);
    // Values that do not fit the schema: the same ValidationError everywhere, nothing sent.
    expect(() => tx.trySend({ seq: -1, flag: true })).toThrow(ValidationError);
    await expect(tx.send({ seq: 2 ** 32, flag: false })).rejects.toBeInstanceOf(ValidationError);
    await expect(tx.sendMany([rec(1), { seq: 1.5, flag: false }])).rejects.toBeInstanceOf(ValidationError);
    // sendMany validates the whole batch first: not even its good first value went out.
    expect(rx.tryReceive()).toBeUndefined();
  });
});
