import { describe, expect, it } from 'vitest';
import { ChannelClosedError } from '../../src/errors.js';
import { defer } from './setup.js';
import { Rec, rec, refused, rows } from './transports.js';

describe.each(rows)('$name: open and close', (row) => {
  it('close is idempotent, sets closed, and concurrent closes all resolve', async () => {
    const { tx, rx } = await row.pair(Rec, defer);
    expect(tx.closed).toBe(false);
    await Promise.all([tx.close(), tx.close()]);
    await tx.close();
    await rx.close();
    await rx.close();
    expect(tx.closed).toBe(true);
    expect(rx.closed).toBe(true);
  });

  it('every operation after close is a ChannelClosedError, and nothing is sent', async () => {
    const { tx, rx } = await row.pair(Rec, defer);
    await tx.close();
    expect(() => tx.trySend(rec(1))).toThrow(ChannelClosedError);
    await expect(tx.send(rec(1))).rejects.toBeInstanceOf(ChannelClosedError);
    await expect(tx.sendMany([rec(1), rec(2)])).rejects.toBeInstanceOf(ChannelClosedError);
    await expect(tx.receive()).rejects.toBeInstanceOf(ChannelClosedError);
    expect(() => tx.tryReceive()).toThrow(ChannelClosedError);
    await expect(tx.receiveMany(4)).rejects.toBeInstanceOf(ChannelClosedError);
    // Nothing arrived: a connection's receiver sees the end of stream, any other receiver nothing.
    if (refused(row.endOfStream)) expect(rx.tryReceive()).toBeUndefined();
    else expect(() => rx.tryReceive()).toThrow(ChannelClosedError);
  });

  it('a receive waiting when the channel is closed rejects with ChannelClosedError', async () => {
    const { rx } = await row.pair(Rec, defer);
    const waiting = rx.receive();
    const waitingMany = rx.receiveMany(4);
    await rx.close();
    await expect(waiting).rejects.toBeInstanceOf(ChannelClosedError);
    await expect(waitingMany).rejects.toBeInstanceOf(ChannelClosedError);
  });

  it('await using closes the channel', async () => {
    const { tx } = await row.pair(Rec, defer);
    {
      await using scoped = tx;
      expect(scoped.closed).toBe(false);
    }
    expect(tx.closed).toBe(true);
  });
});
