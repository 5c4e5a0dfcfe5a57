import { describe, expect, it } from 'vitest';
import { ChannelClosedError } from '../../src/errors.js';
import { defer } from './setup.js';
import { Rec, rec, refused, rows } from './transports.js';

describe.each(rows)('$name: info() and created objects', (row) => {
  it('info() names the URL, the transport and the message size; after close it is a ChannelClosedError', async () => {
    const { tx, rx, url } = await row.pair(Rec, defer);
    for (const channel of [tx, rx]) {
      const info = channel.info();
      expect(info.transport).toBe(row.name);
      expect(info.messageSize).toBe(Rec.size);
      expect(typeof info.url).toBe('string');
    }
    expect(rx.info().url).toBe(rx.url);
    expect(url).toMatch(new RegExp(`^${row.name.replace('+', '\\+')}:`));
    await tx.send(rec(1));
    await rx.receive({ timeoutMs: 10_000 });
    await tx.close();
    // One behaviour on every transport: info() after close is use after close.
    expect(() => tx.info()).toThrow(ChannelClosedError);
    await rx.close();
    expect(() => rx.info()).toThrow(ChannelClosedError);
  });

  it('a created object has mode 0600 unless told otherwise', async () => {
    const pair = await row.pair(Rec, defer);
    if (refused(row.createdMode)) {
      expect(row.createdMode.refused).toMatch(/no file/);
      return;
    }
    expect(row.createdMode(pair)).toBe(0o600);
  });
});
