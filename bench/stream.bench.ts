/**
 * One-way throughput of fixed-size records over byte streams between two processes: a FIFO
 * (`fifo:`), a UNIX stream socketpair (`unix+stream`, spawnWithChannel) and a loopback TCP connection
 * (`tcp`, listen/connect on tcp://127.0.0.1:0), Node→Node, against C read/write loops over a pipe, a
 * socketpair and a loopback TCP connection (TCP_NODELAY, like typed-ipc's) measured in the same run:
 * - `c read/write, 1 record per call` (the baseline): one write() and one read() per record;
 * - `c read/write, 64 KiB per call`: as many records per call as fit in 64 KiB, for reference.
 * Node sends with sendMany (256 records) or send() one by one, and receives with receiveMany(4096) or
 * receive(). Every figure is timed by the receiver from its first record to its last (process
 * start-up not counted), and is the best of the rounds.
 */
import { type ChildProcess, execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Channel, listen, open, spawnNodeWithChannel } from '../src/channels/index.js';
import { libc } from '../src/internal.js';
import { type Rec, recordCodec } from '../test/channels/stream-records.js';
import { compileC, finished, repoRoot, spawnTs, uniqueName } from '../test/helpers.js';
import type { BenchResult } from './report.js';
import type { BenchContext } from './suite.js';

const sender = join(repoRoot, 'bench', 'peers', 'stream-sender.ts');
const SEND_BATCH = 256;
const RECEIVE_BATCH = 4096;

type Stream = 'fifo' | 'unix+stream' | 'tcp';

/** Records per second, timed from the first record received to the last. */
async function receiveAll(channel: Channel<Rec>, count: number, batched: boolean): Promise<number> {
  const first = await channel.receive({ timeoutMs: 60_000 });
  if (first.value.seq !== 0) throw new Error(`first record has seq ${first.value.seq}`);
  const start = performance.now();
  let next = 1;
  while (next < count) {
    if (batched) {
      for (const { value } of await channel.receiveMany(RECEIVE_BATCH, { timeoutMs: 60_000 })) {
        if (value.seq !== next++) throw new Error(`record ${next - 1} lost or out of order`);
      }
    } else {
      const { value } = await channel.receive({ timeoutMs: 60_000 });
      if (value.seq !== next++) throw new Error(`record ${next - 1} lost or out of order`);
    }
  }
  return (count - 1) / ((performance.now() - start) / 1000);
}

/** Receives everything a sender child sends; its rate, once the child has exited cleanly. */
async function fromChild(child: ChildProcess, channel: Channel<Rec>, count: number, batched: boolean): Promise<number> {
  const done = finished(child, 300_000);
  const rate = await receiveAll(channel, count, batched);
  const result = await done;
  if (result.code !== 0) throw new Error(`sender failed (${result.code}): ${result.stderr}`);
  return rate;
}

async function nodeRate(stream: Stream, size: number, count: number, batched: boolean): Promise<number> {
  const codec = recordCodec(size);
  const args = [String(count), String(size), String(batched ? SEND_BATCH : 0)];
  if (stream === 'unix+stream') {
    const { child, channel } = spawnNodeWithChannel(sender, ['inherited', ...args], codec, {
      transport: 'unix+stream',
      execArgv: ['--import', 'tsx'],
      cwd: repoRoot,
    });
    try {
      return await fromChild(child, channel, count, batched);
    } finally {
      await channel.close();
    }
  }
  if (stream === 'tcp') {
    const listener = await listen('tcp://127.0.0.1:0', codec);
    try {
      const child = spawnTs(sender, [listener.url, ...args]);
      const channel = await listener.accept({ timeoutMs: 60_000 });
      try {
        return await fromChild(child, channel, count, batched);
      } finally {
        await channel.close();
      }
    } finally {
      await listener.close();
    }
  }
  const url = `fifo:${join(tmpdir(), uniqueName('bench'))}`;
  const channel = await open(url, codec, { create: true, access: 'receive' });
  try {
    return await fromChild(spawnTs(sender, [url, ...args]), channel, count, batched);
  } finally {
    await channel.close();
    libc.unlink(url.slice('fifo:'.length));
  }
}

function cRate(peer: string, stream: Stream, size: number, count: number, perCall: number): number {
  const mode = { fifo: 'pipe', 'unix+stream': 'sockpair', tcp: 'tcp' }[stream];
  const out = execFileSync(peer, [mode, String(count), String(size), String(perCall)], { encoding: 'utf8' });
  const [got, , rate] = out.trim().split(' ').map(Number);
  if (got !== count || rate === undefined) throw new Error(`C baseline: ${out}`);
  return rate;
}

/** Measures every stream at every size the context asks for; returns the rows with C as baseline. */
export async function run(context: BenchContext): Promise<BenchResult[]> {
  const peer = compileC('stream_peer', [join(repoRoot, 'test', 'c', 'stream_peer.c')]);
  const sizes = context.sizes.filter((size) => size >= 24 && size % 8 === 0);
  const rounds = context.quick ? 1 : 3;
  const results: BenchResult[] = [];
  const streams = ['fifo', 'unix+stream', 'tcp'] as const;
  const steps = sizes.length * streams.length;
  let step = 0;
  for (const size of sizes) {
    // The same count at every size: short runs of large records measure mostly JIT warm-up.
    const count = context.quick ? 20_000 : 200_000;
    for (const stream of streams) {
      context.progress(step++ / steps, `${stream} ${size} B`);
      const best = { c1: 0, cBig: 0, batched: 0, single: 0 };
      // Interleaved rounds, so that load from other processes hits every variant alike.
      for (let round = 0; round < rounds; round++) {
        best.c1 = Math.max(best.c1, cRate(peer, stream, size, count, 1));
        best.cBig = Math.max(best.cBig, cRate(peer, stream, size, count, Math.max(1, Math.floor(65_536 / size))));
        best.batched = Math.max(best.batched, await nodeRate(stream, size, count, true));
        best.single = Math.max(best.single, await nodeRate(stream, size, count, false));
      }
      const row = (variant: string, msgPerSec: number, extra: Partial<BenchResult> = {}): BenchResult => ({
        transport: stream,
        messageBytes: size,
        variant,
        msgPerSec,
        notes: `${count} records, best of ${rounds}`,
        ...extra,
      });
      results.push(
        row('c read/write, 1 record per call', best.c1, { baseline: 'c' }),
        row('c read/write, 64 KiB per call', best.cBig, { reference: true }),
        row(`node sendMany(${SEND_BATCH})/receiveMany(${RECEIVE_BATCH})`, best.batched),
        row('node send/receive', best.single),
      );
    }
  }
  context.progress(1);
  return results;
}
