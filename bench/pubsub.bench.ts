/**
 * Shared-memory publish/subscribe (`shm+pubsub:`, block policy) beside the shared-memory ring (`shm:`),
 * in the same run and interleaved rounds, at 24 B and 256 B: Node -> Node one by one (send/receive)
 * and batched (sendMany/receiveMany), a C publisher -> C subscriber (include/typed_ipc_pubsub.h, the
 * baseline; one by one too, a reference row), and fan-out: one Node publisher to 4 Node subscriber processes, each subscriber's rate
 * against a single subscriber's in the same setup. Each row is the median of its rounds (BENCH_ROUNDS,
 * default 5); rates are timed by the receiver from its first message to its last.
 */
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { type Channel, open, unlink } from '../src/index.js';
import { cPeerBinary } from '../test/channels/pubsub-fixtures.js';
import { finished, repoRoot, spawnTs, uniqueName } from '../test/helpers.js';
import { type BenchResult, median } from './report.js';
import { type Sample, sampleCodec } from './ring.bench.js';
import type { BenchContext } from './suite.js';

const peer = join(repoRoot, 'bench', 'peers', 'pubsub-peer.ts');
const BATCH = 1024;
const CAPACITY = 8192;
const FANOUT = 4;

type Scheme = 'shm' | 'shm+pubsub';

/** A fresh segment of `scheme`, held open by this process (as the receiver: a ring consumer or a subscriber). */
async function withSegment<R>(scheme: Scheme, size: number, body: (url: string, rx: Channel<Sample>) => Promise<R>) {
  const url = `${scheme}:/${uniqueName('bench-ps')}`;
  const rx = await open(url, sampleCodec(size), { create: true, exclusive: true, capacity: CAPACITY });
  try {
    return await body(url, rx);
  } finally {
    await rx.close();
    await unlink(url);
  }
}

/** Node child publisher -> this process receiving: messages per second. */
function nodeRate(scheme: Scheme, size: number, count: number, batch: number): Promise<number> {
  return withSegment(scheme, size, async (url, rx) => {
    const producer = finished(spawnTs(peer, ['produce', url, String(count), String(batch), String(size)]), 300_000);
    const wait = { timeoutMs: 60_000 };
    let received = (await rx.receiveMany(batch, wait)).length;
    const first = received;
    const start = process.hrtime.bigint();
    if (batch === 1) for (; received < count; received++) await rx.receive(wait);
    else while (received < count) received += (await rx.receiveMany(batch, wait)).length;
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const result = await producer;
    if (result.code !== 0) throw new Error(`${scheme} producer failed: ${result.stderr}`);
    return (count - first) / seconds;
  });
}

/** A C publisher -> a C subscriber (the C peer forks its publisher): messages per second. */
function cRate(size: number, count: number, batch = BATCH): Promise<number> {
  const binary = cPeerBinary();
  return withSegment('shm+pubsub', size, async (url, own) => {
    // This process's subscriber would hold the C publisher back: only the C subscriber stays.
    await own.close();
    const child = spawn(
      binary,
      ['bench', url.slice('shm+pubsub:'.length), String(count), String(batch), String(size)],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const result = await finished(child, 300_000);
    const rate = /^rate (\d+)$/m.exec(result.stdout)?.[1];
    if (result.code !== 0 || rate === undefined) throw new Error(`C pub/sub bench failed: ${result.stderr}`);
    return Number(rate);
  });
}

/** What one fan-out run measured: each subscriber's rate, and CPU seconds per message on each side. */
interface Fanout {
  readonly rates: number[];
  readonly publisherCpu: number;
  readonly subscriberCpu: number;
}

/** One Node publisher to `subscribers` Node subscriber processes. */
function fanoutRates(size: number, count: number, subscribers: number): Promise<Fanout> {
  return withSegment('shm+pubsub', size, async (url, own) => {
    // This process's own subscriber would hold the publisher back: it leaves before the run.
    const children = Array.from({ length: subscribers }, () => {
      const child = spawnTs(peer, ['consume', url, String(count), String(BATCH), String(size)]);
      const ready = new Promise<void>((resolve) =>
        child.stdout?.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve()),
      );
      return { done: finished(child, 300_000), ready };
    });
    await Promise.all(children.map((c) => c.ready));
    await own.close();
    const producer = await finished(
      spawnTs(peer, ['produce', url, String(count), String(BATCH), String(size)]),
      300_000,
    );
    const publisherSeconds = Number(producer.stdout.trim());
    if (producer.code !== 0 || !Number.isFinite(publisherSeconds)) {
      throw new Error(`pub/sub publisher failed: ${producer.stderr}`);
    }
    const rates: number[] = [];
    const cpus: number[] = [];
    for (const child of children) {
      const result = await child.done;
      const rate = /^rate ([\d.e+-]+)$/m.exec(result.stdout)?.[1];
      const cpu = /^cpu ([\d.e+-]+)$/m.exec(result.stdout)?.[1];
      if (result.code !== 0 || rate === undefined || cpu === undefined) {
        throw new Error(`pub/sub subscriber failed: ${result.stderr}`);
      }
      rates.push(Number(rate));
      cpus.push(Number(cpu));
    }
    return { rates, publisherCpu: publisherSeconds / count, subscriberCpu: median(cpus) };
  });
}

/** Runs the pub/sub benchmark at 24 B and 256 B. */
export async function run(context: BenchContext): Promise<BenchResult[]> {
  const rounds = Number(process.env.BENCH_ROUNDS ?? (context.quick ? 1 : 5));
  const scale = context.quick ? 0.1 : 1;
  const sizes = context.sizes.filter((size) => size === 24 || size === 256);
  const results: BenchResult[] = [];
  const cores = availableParallelism();
  for (const [index, size] of sizes.entries()) {
    const few = (n: number): number => Math.round((n * scale * 24) / Math.max(24, size / 4));
    const figures = {
      ringSingle: [] as number[],
      ringBatched: [] as number[],
      single: [] as number[],
      batched: [] as number[],
      c: [] as number[],
      cSingle: [] as number[],
      one: [] as number[],
      fanout: [] as number[],
      fanoutRatio: [] as number[],
      ceilingRatio: [] as number[],
      publisherCpu: [] as number[],
      subscriberCpu: [] as number[],
    };
    for (let round = 0; round < rounds; round++) {
      const at = (part: number, label: string): void =>
        context.progress((index + (round + part) / rounds) / sizes.length, `${size} B round ${round + 1}: ${label}`);
      at(0, 'ring send/receive');
      figures.ringSingle.push(await nodeRate('shm', size, few(500_000), 1));
      at(0.1, 'pub/sub send/receive');
      figures.single.push(await nodeRate('shm+pubsub', size, few(500_000), 1));
      at(0.2, 'ring sendMany/receiveMany');
      figures.ringBatched.push(await nodeRate('shm', size, few(4_000_000), BATCH));
      at(0.3, 'pub/sub sendMany/receiveMany');
      figures.batched.push(await nodeRate('shm+pubsub', size, few(4_000_000), BATCH));
      at(0.5, 'C');
      figures.c.push(await cRate(size, few(20_000_000)));
      at(0.55, 'C one by one');
      figures.cSingle.push(await cRate(size, few(4_000_000), 1));
      at(0.6, '1 subscriber process');
      const single = await fanoutRates(size, few(2_000_000), 1);
      const one = single.rates[0] ?? 0;
      at(0.8, `${FANOUT} subscriber processes`);
      const many = await fanoutRates(size, few(2_000_000), FANOUT);
      figures.one.push(one);
      figures.fanout.push(median(many.rates));
      figures.fanoutRatio.push(median(many.rates) / one);
      // What the cores allow: every message costs the publisher's CPU once and a subscriber's CPU
      // FANOUT times, so on `cores` CPUs no subscriber can see more than cores / (p + FANOUT * s)
      // messages per second (nor more than one process alone manages: 1 / max(p, s)). p and s are
      // the single-subscriber run's (uncontended) costs; the fan-out run's own are higher still.
      const { publisherCpu: p, subscriberCpu: s } = single;
      const ceiling = Math.min(cores / (p + FANOUT * s), 1 / Math.max(p, s));
      figures.ceilingRatio.push(ceiling / one);
      figures.publisherCpu.push(p);
      figures.subscriberCpu.push(s);
    }
    const m = (values: number[]): number => median(values);
    const base = { transport: 'shm+pubsub', messageBytes: size };
    const vsRing = (own: number, ring: number): string =>
      `median of ${rounds} rounds; the ring in the same rounds: ${(ring / 1e6).toFixed(2)} M msg/s (${(own / ring).toFixed(2)}x the ring's)`;
    results.push(
      {
        ...base,
        variant: 'node send/receive',
        msgPerSec: m(figures.single),
        notes: vsRing(m(figures.single), m(figures.ringSingle)),
      },
      {
        ...base,
        variant: `node sendMany/receiveMany (batch ${BATCH})`,
        msgPerSec: m(figures.batched),
        notes: vsRing(m(figures.batched), m(figures.ringBatched)),
      },
      {
        ...base,
        variant: `c tipc_ps_publish_many/receive_many (batch ${BATCH})`,
        msgPerSec: m(figures.c),
        baseline: 'c',
        notes: `median of ${rounds} rounds`,
      },
      {
        ...base,
        variant: 'c tipc_ps_publish_many/receive_many one by one (batch 1)',
        msgPerSec: m(figures.cSingle),
        reference: true,
        notes: `median of ${rounds} rounds; the protocol's own cost of one claim and one publish per message between two cores, what node send/receive cannot beat`,
      },
      {
        ...base,
        variant: `node 1 publisher -> 1 subscriber process (batch ${BATCH})`,
        msgPerSec: m(figures.one),
        notes: `median of ${rounds} rounds; all processes are children of the bench`,
      },
      {
        ...base,
        variant: `node 1 publisher -> ${FANOUT} subscriber processes, per subscriber (batch ${BATCH})`,
        msgPerSec: m(figures.fanout),
        notes:
          `median of ${rounds} rounds of the median subscriber; ${m(figures.fanoutRatio).toFixed(2)}x a single ` +
          `subscriber's rate in the same rounds (target >= 0.8x); ${FANOUT + 1} processes share the machine's ` +
          `${cores} cores. CPU per message with one subscriber: publisher ` +
          `${(m(figures.publisherCpu) * 1e9).toFixed(0)} ns, subscriber ${(m(figures.subscriberCpu) * 1e9).toFixed(0)} ns, ` +
          `so these cores allow at most ` +
          `${m(figures.ceilingRatio).toFixed(2)}x a single subscriber's rate`,
      },
    );
  }
  context.progress(1);
  return results;
}
