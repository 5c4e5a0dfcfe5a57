/**
 * Shared-memory ring (`shm:`), 24-byte samples between two processes: Node -> Node with
 * sendMany/receiveMany and with send/receive, C -> C through include/typed_ipc_ring.h, and Node's
 * child_process IPC (`process.send`, one message per call) as the baseline, all in the same run.
 * Rates are timed by the receiver from its first message to its last. The latency row measures
 * send -> wake-up of a receiver that sleeps on its doorbell (one message every 2 ms).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { type Channel, open, unlink } from '../src/index.js';
import { Sample } from '../test/channels/sample.js';
import { compileC, finished, repoRoot, spawnTs, uniqueName } from '../test/helpers.js';
import type { BenchResult } from './report.js';
import type { BenchContext } from './suite.js';

const peer = join(repoRoot, 'bench', 'ring-peer.ts');
const BATCH = 1024;
const CAPACITY = 8192;

async function withRing<R>(body: (url: string, channel: Channel<Sample>) => Promise<R>): Promise<R> {
  const url = `shm:/${uniqueName('bench')}`;
  const channel = await open(url, Sample, { create: true, exclusive: true, capacity: CAPACITY });
  try {
    return await body(url, channel);
  } finally {
    await channel.close();
    await unlink(url);
  }
}

/** Node -> Node messages per second; `batch` 1 uses send/receive, more uses sendMany/receiveMany. */
function nodeRate(count: number, batch: number): Promise<number> {
  return withRing(async (url, rx) => {
    const producer = finished(spawnTs(peer, ['produce', url, String(count), String(batch)]), 300_000);
    let received = (await rx.receiveMany(batch)).length;
    const start = process.hrtime.bigint();
    const first = received;
    if (batch === 1) for (; received < count; received++) await rx.receive();
    else while (received < count) received += (await rx.receiveMany(batch)).length;
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const result = await producer;
    if (result.code !== 0) throw new Error(`ring producer failed: ${result.stderr}`);
    return (count - first) / seconds;
  });
}

/** C -> C messages per second (the C peer forks its producer). */
async function cRate(count: number, batch: number): Promise<number> {
  const binary = compileC('ring_peer', [join(repoRoot, 'test', 'c', 'ring_peer.c')]);
  return withRing(async (url) => {
    const child = spawn(binary, ['bench', url.slice(4), String(count), String(batch)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, TIPC_FINGERPRINT: Sample.fingerprint },
    });
    const result = await finished(child, 300_000);
    const rate = /^rate (\d+)$/m.exec(result.stdout)?.[1];
    if (result.code !== 0 || rate === undefined) throw new Error(`C ring bench failed: ${result.stderr}`);
    return Number(rate);
  });
}

/** Node's child_process IPC: a child `process.send`s `count` samples (bench/peers/mq-peer.ts ipc). */
async function ipcRate(count: number): Promise<number> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(repoRoot, 'bench', 'peers', 'mq-peer.ts'), 'ipc', String(count), '24'],
    {
      cwd: repoRoot,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  );
  let received = 0;
  let start = 0n;
  let end = 0n;
  child.on('message', () => {
    if (received === 0) start = process.hrtime.bigint();
    received += 1;
    if (received === count) end = process.hrtime.bigint();
  });
  await new Promise((resolve) => child.on('close', resolve));
  if (received !== count) throw new Error(`IPC received ${received} of ${count}`);
  return (count - 1) / (Number(end - start) / 1e9);
}

/** Microseconds from send to the wake-up of a receiver sleeping on its doorbell: p50 and p99. */
function wakeLatency(count: number): Promise<{ p50: number; p99: number }> {
  return withRing(async (url, rx) => {
    const producer = finished(spawnTs(peer, ['latency', url, String(count), '2']), 300_000);
    const samples: number[] = [];
    for (let i = 0; i < count; i++) {
      const { value } = await rx.receive();
      samples.push(Number(process.hrtime.bigint() - value.timestamp) / 1e3);
    }
    if ((await producer).code !== 0) throw new Error('latency producer failed');
    samples.sort((a, b) => a - b);
    const at = (q: number): number => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))]!;
    return { p50: at(0.5), p99: at(0.99) };
  });
}

/** Runs the ring benchmark: best of the repetitions for each row. */
export async function run(context: BenchContext): Promise<BenchResult[]> {
  const rounds = context.quick ? 1 : 3;
  const scale = context.quick ? 0.1 : 1;
  const best = { batched: 0, single: 0, c: 0, ipc: 0 };
  let latency = { p50: Number.POSITIVE_INFINITY, p99: Number.POSITIVE_INFINITY };
  for (let round = 0; round < rounds; round++) {
    context.progress(round / rounds, `round ${round + 1}: sendMany/receiveMany`);
    best.batched = Math.max(best.batched, await nodeRate(Math.round(8_000_000 * scale), BATCH));
    context.progress((round + 0.25) / rounds, `round ${round + 1}: send/receive`);
    best.single = Math.max(best.single, await nodeRate(Math.round(1_000_000 * scale), 1));
    context.progress((round + 0.5) / rounds, `round ${round + 1}: C`);
    best.c = Math.max(best.c, await cRate(Math.round(20_000_000 * scale), BATCH));
    context.progress((round + 0.75) / rounds, `round ${round + 1}: process.send`);
    best.ipc = Math.max(best.ipc, await ipcRate(Math.round(200_000 * scale)));
    const measured = await wakeLatency(context.quick ? 100 : 500);
    if (measured.p50 < latency.p50) latency = measured;
  }
  const bytes = Sample.size;
  const wake = `send -> sleeping receiver wake-up p50 ${latency.p50.toFixed(0)} µs, p99 ${latency.p99.toFixed(0)} µs`;
  return [
    {
      transport: 'shm',
      messageBytes: bytes,
      variant: `node sendMany/receiveMany (batch ${BATCH})`,
      msgPerSec: best.batched,
    },
    { transport: 'shm', messageBytes: bytes, variant: 'node send/receive', msgPerSec: best.single, notes: wake },
    {
      transport: 'shm',
      messageBytes: bytes,
      variant: `c tipc_ring_send_many/recv_many (batch ${BATCH})`,
      msgPerSec: best.c,
      baseline: 'c',
    },
    { transport: 'shm', messageBytes: bytes, variant: 'node process.send', msgPerSec: best.ipc, baseline: 'node-ipc' },
  ];
}
