/**
 * Recording keeps up with the channel: 24-byte samples from a producer process through a shared-memory
 * ring (sendMany, batch 1024), received by this process either with receiveMany and dropped (the
 * channel's own rate, the baseline of this module) or by `record` into a zstd-compressed MCAP file.
 * Rounds interleave the two; each figure is the median of the rounds. Both rates are timed from the
 * first message received to the last.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open, record, unlink } from '../src/index.js';
import { finished, repoRoot, spawnTs, uniqueName } from '../test/helpers.js';
import { type BenchResult, median } from './report.js';
import { sampleCodec } from './ring.bench.js';
import type { BenchContext } from './suite.js';

const peer = join(repoRoot, 'bench', 'peers', 'ring-peer.ts');
const BATCH = 1024;

/** One run: a producer sends `count` samples into a new ring; `consume` receives them; returns msg/s. */
async function withProducer(
  count: number,
  consume: (rx: Awaited<ReturnType<typeof open>>) => Promise<number>,
): Promise<number> {
  const url = `shm:/${uniqueName('bench-rec')}`;
  const rx = await open(url, sampleCodec(24), { create: true, exclusive: true, capacity: 8192 });
  try {
    const producer = finished(spawnTs(peer, ['produce', url, String(count), String(BATCH), '24']), 600_000);
    const rate = await consume(rx);
    const result = await producer;
    if (result.code !== 0) throw new Error(`ring producer failed: ${result.stderr}`);
    return rate;
  } finally {
    await rx.close();
    await unlink(url);
  }
}

/** Receives and drops `count` messages: the channel's own rate. */
function channelRate(count: number): Promise<number> {
  return withProducer(count, async (rx) => {
    let received = (await rx.receiveMany(BATCH, { timeoutMs: 120_000 })).length;
    const start = process.hrtime.bigint();
    const first = received;
    while (received < count) received += (await rx.receiveMany(BATCH, { timeoutMs: 120_000 })).length;
    return (count - first) / (Number(process.hrtime.bigint() - start) / 1e9);
  });
}

/** Records `count` messages into an MCAP file. */
function recordRate(count: number, dir: string, round: number): Promise<number> {
  return withProducer(count, async (rx) => {
    const summary = await record(rx, { path: join(dir, `bench-${round}.mcap`), count, batch: BATCH });
    if (summary.messages !== count) throw new Error(`recorded ${summary.messages} of ${count}`);
    return (count - 1) / (summary.receiveSpanMs / 1000);
  });
}

/** Runs the record benchmark at 24 B. */
export async function run(context: BenchContext): Promise<BenchResult[]> {
  const rounds = context.quick ? 1 : 3;
  const count = context.quick ? 200_000 : 2_000_000;
  const dir = mkdtempSync(join(tmpdir(), 'typed-ipc-bench-record-'));
  const channel: number[] = [];
  const recorded: number[] = [];
  try {
    for (let round = 0; round < rounds; round++) {
      context.progress(round / rounds, `round ${round + 1}: the ring alone`);
      channel.push(await channelRate(count));
      context.progress((round + 0.5) / rounds, `round ${round + 1}: record`);
      recorded.push(await recordRate(count, dir, round));
      rmSync(join(dir, `bench-${round}.mcap`), { force: true });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  context.progress(1);
  const base = median(channel);
  const rate = median(recorded);
  const ratio = rate / base;
  const rounds_ = `median of ${rounds} interleaved round${rounds === 1 ? '' : 's'}`;
  return [
    {
      transport: 'record',
      messageBytes: 24,
      variant: `shm ring -> record (MCAP, zstd chunks)`,
      msgPerSec: rate,
      notes: `${ratio.toFixed(2)}x the ring's own rate in the same run (target >= 0.5x); ${rounds_}; all rounds ${recorded.map((r) => Math.round(r)).join(', ')}`,
    },
    {
      transport: 'record',
      messageBytes: 24,
      variant: `shm ring receiveMany (batch ${BATCH}), dropped: the channel's own rate`,
      msgPerSec: base,
      reference: true,
      notes: `${rounds_}; all rounds ${channel.map((r) => Math.round(r)).join(', ')}`,
    },
  ];
}
