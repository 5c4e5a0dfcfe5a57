/**
 * The producing end of the ring benchmarks, run as a child process:
 *   ring-peer.ts produce shm:/name count batch [size]   sends `count` samples of `size` bytes (sendMany in
 *                                                batches, or send), then prints the CPU seconds it used
 *   ring-peer.ts latency shm:/name count gapMs   sends one sample every gapMs carrying its send time
 *                                                (process.hrtime.bigint(), CLOCK_MONOTONIC) as timestamp
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { open } from '../../src/index.js';
import { produceSamples, sampleCodec } from '../ring.bench.js';

const [mode = '', url = '', countArg = '0', extra = '1', size = '24'] = process.argv.slice(2);
const count = Number(countArg);
const channel = await open(url, sampleCodec(Number(size)));

if (mode === 'produce') {
  process.stdout.write(`${await produceSamples(channel, Number(size), count, Number(extra))}\n`);
} else if (mode === 'latency') {
  for (let i = 0; i < count; i++) {
    await sleep(Number(extra));
    await channel.send({ channel: 2, timestamp: process.hrtime.bigint(), value: i });
  }
} else {
  throw new Error(`unknown mode ${mode}`);
}
await channel.close();
