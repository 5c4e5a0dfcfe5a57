/**
 * Resources: many open/close cycles per transport (consumer and producer ends made, one sample sent
 * and received, both closed, the object removed) leave descriptors, libuv handles and memory flat.
 */
import { readdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { Cleanup } from '../helpers.js';
import { record } from './figures.js';
import { makeSample, Sample } from './sample.js';
import { sizes } from './sizes.js';
import { allTransports, isAvailable, type TransportEntry } from './transports.js';

const table = await Promise.all(
  allTransports.map(async (entry) => ({ entry, available: await isAvailable(entry, Sample) })),
);
const cleanup = new Cleanup();
afterEach(() => cleanup.run());

interface Usage {
  readonly fds: number;
  readonly handles: number;
  readonly rss: number;
  readonly heap: number;
}

async function usage(): Promise<Usage> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with --expose-gc (vitest.stress.config.ts sets it)');
  // Let closed handles finish closing (libuv closes them on the next loop turn), then collect twice.
  for (let i = 0; i < 3; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    gc();
  }
  const memory = process.memoryUsage();
  return {
    fds: readdirSync('/proc/self/fd').length,
    handles: process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap' && r !== 'Timeout').length,
    rss: memory.rss,
    heap: memory.heapUsed,
  };
}

async function cycle(entry: TransportEntry, url: string, seq: number): Promise<void> {
  const consumer = await entry.consumer(url, Sample, { capacity: 2 });
  try {
    const producer = await entry.producer(url, Sample);
    try {
      await producer.send(makeSample(0, seq));
      const { value } = await consumer.receive({ timeoutMs: 10_000 });
      if (value.seq !== seq) throw new Error(`cycle ${seq}: received sample ${value.seq}`);
    } finally {
      await producer.close();
    }
  } finally {
    await consumer.close();
    if (entry.style === 'open') await entry.remove(url);
  }
}

const mb = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MB`;

describe.each(table)('resources: $entry.name', ({ entry, available }) => {
  const cycles = sizes.cycles;
  it.skipIf(!available)(`${cycles} open/send/receive/close cycles leave fds, handles and memory flat`, async () => {
    const url = await entry.url('cycles');
    cleanup.add(() => entry.remove(url));
    const warmup = Math.min(200, cycles);
    for (let i = 0; i < warmup; i++) await cycle(entry, url, i);
    const before = await usage();
    const started = performance.now();
    for (let i = 0; i < cycles; i++) await cycle(entry, url, i);
    const seconds = (performance.now() - started) / 1000;
    const after = await usage();
    const heapPerCycle = (after.heap - before.heap) / cycles;
    record({
      section: 'resources',
      transport: entry.name,
      note:
        `${cycles} cycles in ${seconds.toFixed(1)} s: fds ${before.fds} -> ${after.fds}, ` +
        `handles ${before.handles} -> ${after.handles}, heap ${mb(before.heap)} -> ${mb(after.heap)} ` +
        `(${heapPerCycle.toFixed(0)} B/cycle), RSS ${mb(before.rss)} -> ${mb(after.rss)}`,
    });
    expect(after.fds).toBeLessThanOrEqual(before.fds);
    expect(after.handles).toBeLessThanOrEqual(before.handles);
    // Flat: a leak of even one small object per cycle shows above these bounds at 10 000 cycles.
    expect(after.heap - before.heap).toBeLessThan(4 * 1048576);
    expect(after.rss - before.rss).toBeLessThan(48 * 1048576);
  });
});
