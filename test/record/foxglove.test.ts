/**
 * The live Foxglove server, checked with the protocol's own client (FoxgloveClient over `ws`): it
 * advertises each channel with its JSON Schema and sends subscribed clients every message as JSON.
 */
import { FoxgloveClient } from '@foxglove/ws-protocol';
import { afterEach, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { serveFoxglove } from '../../src/index.js';
import { Sample } from '../channels/sample.js';
import { Cleanup } from '../helpers.js';
import { ringPair } from './fixtures.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

it('publishes every channel with its JSON Schema and its messages to a FoxgloveClient', async () => {
  const { rx, tx } = await ringPair(cleanup, Sample);
  const live = await serveFoxglove([{ channel: rx, topic: '/samples' }], { port: 0 });
  cleanup.add(() => live.close());
  expect(live.url).toBe(`ws://127.0.0.1:${live.port}`);

  const client = new FoxgloveClient({ ws: new WebSocket(live.url, [FoxgloveClient.SUPPORTED_SUBPROTOCOL]) as never });
  cleanup.add(() => client.close());
  const advertised = await new Promise<
    { id: number; topic: string; encoding: string; schema: string; schemaName: string; schemaEncoding?: string }[]
  >((resolve) => client.on('advertise', resolve));
  expect(advertised).toHaveLength(1);
  const [channel] = advertised;
  expect(channel).toMatchObject({
    topic: '/samples',
    encoding: 'json',
    schemaName: 'sample',
    schemaEncoding: 'jsonschema',
  });
  expect(JSON.parse(channel!.schema).properties.value.properties.timestamp).toMatchObject({ type: 'string' });

  const received: { value: { value: number } }[] = [];
  let probed = false;
  const all = new Promise<void>((resolve) =>
    client.on('message', ({ data }) => {
      const message = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString());
      if (message.value.value === -1) probed = true;
      else received.push(message);
      if (received.length === 20) resolve();
    }),
  );
  client.subscribe(channel!.id);
  // A live view shows what arrives while it watches: probes go until one reaches the client (then the
  // subscription is in force), and the samples after them must all arrive.
  let probes = 0;
  while (!probed) {
    await tx.send({ channel: 0, timestamp: 0n, value: -1 });
    probes += 1;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  for (let i = 0; i < 20; i++) await tx.send({ channel: 3, timestamp: 2n ** 63n + BigInt(i), value: i * 0.5 });
  await all;
  expect(received).toEqual(
    Array.from({ length: 20 }, (_, i) => ({
      value: { channel: 3, timestamp: String(2n ** 63n + BigInt(i)), value: i * 0.5 },
      priority: 0,
    })),
  );
  expect(live.messages()).toBe(20 + probes);
  await live.close();
  await live.done;
});
