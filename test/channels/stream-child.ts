/**
 * Node peer of the cross-process stream tests, run with `node --import tsx`:
 *   stream-child.ts write <url> <count> <size> [writer] [batch] [shared]   send count records (sendMany batches;
 *                                         batch 0: one send() at a time; batch -n: n concurrent send()s at a time)
 *   stream-child.ts read  <url> <count> <size> [writers]                  receive and check them, print how many came
 * fifo: URLs are opened (send or receive end), unix+stream:/tcp: URLs connected; fd:N adopts an inherited
 * descriptor; `inherited` takes the channel spawnWithChannel passed.
 */

import type { Channel } from '../../src/channels/channel.js';
import { connect, inheritedChannel, open } from '../../src/channels/index.js';
import { adoptStream } from '../../src/channels/stream.js';
import { intact, type Rec, rec, recordCodec } from './stream-records.js';

const [mode = '', url = '', countText = '0', sizeText = '24', extra = '', batchText = '256', sharedText = ''] =
  process.argv.slice(2);
const count = Number(countText);
const codec = recordCodec(Number(sizeText));

async function channelFor(access: 'send' | 'receive'): Promise<Channel<Rec>> {
  if (url === 'inherited') return inheritedChannel(codec);
  if (url.startsWith('fd:')) return adoptStream(Number(url.slice(3)), codec, { direction: access });
  if (url.startsWith('fifo:')) return open(url, codec, { access, shared: sharedText === 'shared' });
  return connect(url, codec);
}

if (mode === 'write') {
  const writer = Number(extra || 0);
  const batch = Number(batchText);
  const channel = await channelFor('send');
  if (batch === 0) {
    for (let seq = 0; seq < count; seq++) await channel.send(rec(seq, writer, codec.size));
  } else if (batch < 0) {
    // Concurrent sends: they queue up behind a full pipe and go out gathered into shared writes.
    const group = -batch;
    for (let seq = 0; seq < count; seq += group) {
      const values = Array.from({ length: Math.min(group, count - seq) }, (_, i) => rec(seq + i, writer, codec.size));
      await Promise.all(values.map((value) => channel.send(value)));
    }
  } else {
    for (let seq = 0; seq < count; seq += batch) {
      const values: Rec[] = [];
      for (let i = seq; i < Math.min(count, seq + batch); i++) values.push(rec(i, writer, codec.size));
      await channel.sendMany(values);
    }
  }
  await channel.close();
  process.stdout.write('done\n');
} else if (mode === 'read') {
  const writers = Number(extra || 1);
  const next = new Array<number>(writers).fill(0);
  const channel = await channelFor('receive');
  let got = 0;
  for await (const { value } of channel) {
    if (value.writer >= writers || value.seq !== next[value.writer] || !intact(value)) {
      throw new Error(`record ${got}: seq ${value.seq} from writer ${value.writer}, expected ${next[value.writer]}`);
    }
    next[value.writer] = value.seq + 1;
    got += 1;
    if (got === count) break;
  }
  await channel.close();
  process.stdout.write(`${got}\n`);
} else {
  throw new Error(`unknown mode ${mode}`);
}
