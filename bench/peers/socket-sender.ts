/**
 * Sender half of bench/socket.bench.ts, run as a child with an inherited channel:
 *   socket-sender.ts single N    one `send` per message
 *   socket-sender.ts batch N B   `sendMany` of B messages at a time
 */
import { inheritedChannel } from '../../src/channels/index.js';
import { BenchSample, type BenchSampleValue } from '../socket.bench.js';

const [mode, n = '0', b = '256'] = process.argv.slice(2);
const count = Number(n);
const batchSize = Number(b);
const channel = inheritedChannel(BenchSample);
const sample = (i: number): BenchSampleValue => ({ channel: i & 0xffff, timestamp: BigInt(i), value: i / 2 });
if (mode === 'single') {
  for (let i = 0; i < count; i++) await channel.send(sample(i));
} else {
  const batch: BenchSampleValue[] = [];
  for (let start = 0; start < count; start += batchSize) {
    batch.length = 0;
    for (let i = start; i < Math.min(count, start + batchSize); i++) batch.push(sample(i));
    await channel.sendMany(batch);
  }
}
await channel.close();
