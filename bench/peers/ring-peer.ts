/**
 * The producing end of the ring benchmarks, run as a child process:
 *   ring-peer.ts produce shm:/name count batch [size]   sends `count` samples of `size` bytes (sendMany in
 *                                                batches, or send), then prints the CPU seconds it used
 *   ring-peer.ts latency shm:/name count gapMs   sends one sample every gapMs carrying its send time
 *                                                (process.hrtime.bigint(), CLOCK_MONOTONIC) as timestamp
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { open } from '../../src/index.js';
import { type Sample, sampleCodec } from '../ring.bench.js';

const [mode = '', url = '', countArg = '0', extra = '1', size = '24'] = process.argv.slice(2);
const count = Number(countArg);
const channel = await open(url, sampleCodec(Number(size)));

if (mode === 'produce') {
  const cpu = process.cpuUsage();
  const batch = Number(extra);
  // The application's samples already exist; the bench measures moving them, not building them.
  const pad = new Uint8Array(Math.max(0, Number(size) - 24)).fill(0x5a);
  const values: Sample[] = Array.from({ length: batch }, (_, i) => ({
    channel: 1,
    timestamp: BigInt(i),
    value: i,
    pad,
  }));
  if (batch === 1) {
    const sample = values[0]!;
    for (let i = 0; i < count; i++) {
      sample.timestamp = BigInt(i);
      await channel.send(sample);
    }
  } else {
    for (let sent = 0; sent < count; sent += batch) {
      await channel.sendMany(sent + batch <= count ? values : values.slice(0, count - sent));
    }
  }
  // CPU seconds spent producing, so the bench can say what the rate would be with a core each.
  const used = process.cpuUsage(cpu);
  process.stdout.write(`${(used.user + used.system) / 1e6}\n`);
} else if (mode === 'latency') {
  for (let i = 0; i < count; i++) {
    await sleep(Number(extra));
    await channel.send({ channel: 2, timestamp: process.hrtime.bigint(), value: i });
  }
} else {
  throw new Error(`unknown mode ${mode}`);
}
await channel.close();
