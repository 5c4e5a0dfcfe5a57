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

/** Least-squares slope of `y` over `x`: the growth per cycle, which noise around a flat line does not show as. */
function slope(points: readonly (readonly [number, number])[]): number {
  const n = points.length;
  const mx = points.reduce((sum, [x]) => sum + x, 0) / n;
  const my = points.reduce((sum, [, y]) => sum + y, 0) / n;
  const sxy = points.reduce((sum, [x, y]) => sum + (x - mx) * (y - my), 0);
  const sxx = points.reduce((sum, [x]) => sum + (x - mx) ** 2, 0);
  return sxy / sxx;
}

/**
 * The heap's trend (after full collections) wanders by a few hundred KiB over a run whatever the
 * cycles do; a leak grows it by its size times the cycles. So the bound per cycle is this noise floor
 * spread over the cycles, but never above 64 bytes: at 10 000 cycles one object of that size kept per
 * cycle (a closure, a promise, a listener, a small record) shows; at CI's 1 000 cycles, 512 bytes.
 */
const noiseBytes = 512 * 1024;
const boundPerCycle = (cycles: number) => Math.max(64, noiseBytes / cycles);
const checkpoints = 8;

/** Runs `cycles` cycles (after a warmup) and returns the heap's trend in bytes per cycle. */
async function heapTrend(
  entry: TransportEntry,
  url: string,
  cycles: number,
  each: (i: number) => void = () => {},
): Promise<{ perCycle: number; points: [number, number][] }> {
  for (let i = 0; i < Math.min(500, cycles); i++) await cycle(entry, url, i);
  const points: [number, number][] = [[0, (await usage()).heap]];
  for (let i = 0; i < cycles; i++) {
    await cycle(entry, url, i);
    each(i);
    if ((i + 1) % Math.ceil(cycles / checkpoints) === 0 || i === cycles - 1) points.push([i + 1, (await usage()).heap]);
  }
  return { perCycle: slope(points), points };
}

describe.each(table)('resources: $entry.name', ({ entry, available }) => {
  const cycles = sizes.cycles;
  const bound = boundPerCycle(cycles);
  it.skipIf(!available)(`${cycles} open/send/receive/close cycles leave fds, handles and memory flat`, async () => {
    const url = await entry.url('cycles');
    cleanup.add(() => entry.remove(url));
    const before = await usage();
    const started = performance.now();
    const { perCycle, points } = await heapTrend(entry, url, cycles);
    const seconds = (performance.now() - started) / 1000;
    const after = await usage();
    record({
      section: 'resources',
      transport: entry.name,
      note:
        `${cycles} cycles in ${seconds.toFixed(1)} s: fds ${before.fds} -> ${after.fds}, ` +
        `handles ${before.handles} -> ${after.handles}, heap ${mb(points[0]![1])} -> ${mb(after.heap)} ` +
        `(trend ${perCycle.toFixed(1)} B/cycle, bound ${bound.toFixed(0)}), RSS ${mb(before.rss)} -> ${mb(after.rss)}`,
    });
    expect(after.fds).toBeLessThanOrEqual(before.fds);
    expect(after.handles).toBeLessThanOrEqual(before.handles);
    expect(perCycle, JSON.stringify(points)).toBeLessThan(bound);
    expect(after.rss - before.rss).toBeLessThan(48 * 1048576);
  });

  // The control: the same measurement over the same cycles, each keeping one object of twice the
  // bound's size, fails the bound; so a pass above means no such leak rather than a blunt measurement.
  it.skipIf(!available)(
    `control: one ${(2 * bound).toFixed(0)}-byte object kept per cycle (twice the bound) shows above the bound`,
    async () => {
      const url = await entry.url('control');
      cleanup.add(() => entry.remove(url));
      const kept: number[][] = [];
      // An array of n non-integer numbers is stored unboxed, 8n bytes of elements plus its header (small
      // integers would take only 4 bytes each under pointer compression). The control keeps twice the
      // bound per cycle: at exactly the bound, GC noise put the measured slope on either side of it.
      const words = Math.ceil((2 * bound) / 8);
      const { perCycle, points } = await heapTrend(entry, url, cycles, (i) =>
        kept.push(new Array(words).fill(i + 0.5)),
      );
      expect(kept).toHaveLength(cycles);
      expect(perCycle, JSON.stringify(points)).toBeGreaterThan(bound);
    },
  );
});
