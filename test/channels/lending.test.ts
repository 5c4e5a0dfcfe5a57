/**
 * Receiving through a lending codec (`StructType.lending()`): on a message queue, a unix+dgram
 * socket and the shared-memory ring, the values are right, their `bytes(n)` fields are views of
 * the codec's own buffer (not of the transport's receive buffer or the ring's shared slots), and
 * earlier values stay intact while later messages arrive, with receive and with receiveMany.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { bind, type Channel, connect, open, unlink } from '../../src/channels/index.js';
import { bytes, struct, u32 } from '../../src/codecs/index.js';
import { Cleanup, uniqueName } from '../helpers.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const Page = struct('lend_page', { seq: u32, data: bytes(4092) });
type Page = { seq: number; data: Uint8Array };
const page = (seq: number): Page => ({ seq, data: new Uint8Array(4092).map((_, i) => (i + seq * 31) & 0xff) });

/** A sender and a receiver whose codec lends. */
async function pair(transport: string): Promise<{ tx: Channel<Page>; rx: Channel<Page> }> {
  const lending = Page.lending({ slots: 8 });
  if (transport === 'unix+dgram') {
    const url = `unix+dgram:@${uniqueName('lend')}`;
    const rx = await bind(url, lending);
    cleanup.add(() => rx.close());
    const tx = await connect(url, Page);
    cleanup.add(() => tx.close());
    return { tx, rx };
  }
  const url = `${transport}:/${uniqueName('lend')}`;
  cleanup.add(() => unlink(url));
  const channel = await open(url, lending, { create: true, exclusive: true, capacity: 8 });
  cleanup.add(() => channel.close());
  return { tx: channel, rx: channel };
}

describe.each(['mq', 'unix+dgram', 'shm'])('%s with a lending codec', (transport) => {
  it('delivers every message, earlier ones intact while later ones arrive', async () => {
    const { tx, rx } = await pair(transport);
    for (let seq = 0; seq < 3; seq++) await tx.send(page(seq));
    const received = [await rx.receive(), await rx.receive(), await rx.receive()].map((m) => m.value);
    expect(received).toEqual([page(0), page(1), page(2)]);
    for (let seq = 3; seq < 7; seq++) await tx.send(page(seq));
    const batch = await rx.receiveMany(4, { timeoutMs: 5000 });
    while (batch.length < 4) batch.push(await rx.receive({ timeoutMs: 5000 }));
    expect(batch.map((m) => m.value)).toEqual([3, 4, 5, 6].map(page));
    // Seven decodes into eight regions: the first message is still as it arrived.
    expect(received[0]).toEqual(page(0));
    expect(received[0]!.data.buffer).toBe(batch[3]!.value.data.buffer);
  });
});
