/**
 * Node→Node one-way throughput between two processes over unix+dgram and unix+seqpacket socketpairs
 * (a child spawned with an inherited channel sends, this process receives), against a C
 * send/recv loop over the same kind of socketpair measured in the same run. Both sides time from
 * the first message received to the last. Messages are the 24-byte sample struct.
 */
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Channel, spawnNodeWithChannel } from '../src/channels/index.js';
import { f64, type Infer, struct, u16, u64 } from '../src/codecs/index.js';
import { compileC, finished } from '../test/helpers.js';

/** The sample the bench sends (same layout as test/c/socket_peer.c's struct sample). */
export const BenchSample = struct('sample', { channel: u16, timestamp: u64, value: f64 });
/** One bench sample. */
export type BenchSampleValue = Infer<typeof BenchSample>;

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const MESSAGES = Number(process.env.BENCH_SOCKET_MESSAGES ?? 200_000);
const ROUNDS = Number(process.env.BENCH_SOCKET_ROUNDS ?? 3);
const BATCH = 256;

type Transport = 'unix+dgram' | 'unix+seqpacket';

function cRate(peer: string, transport: Transport): number {
  const type = transport === 'unix+dgram' ? 'dgram' : 'seqpacket';
  return Number(execFileSync(peer, ['bench-pair', type, String(MESSAGES)], { encoding: 'utf8' }).trim());
}

async function receiveAll(channel: Channel<BenchSampleValue>, batched: boolean): Promise<number> {
  await channel.receive();
  const start = performance.now();
  let received = 1;
  if (batched) {
    while (received < MESSAGES) {
      const batch = await channel.receiveMany(BATCH);
      received += batch.length;
    }
  } else {
    for (; received < MESSAGES; received++) {
      const { value } = await channel.receive();
      if (value.timestamp !== BigInt(received)) throw new Error(`message ${received} lost or out of order`);
    }
  }
  return (MESSAGES - 1) / ((performance.now() - start) / 1000);
}

async function nodeRate(transport: Transport, batched: boolean): Promise<number> {
  const args = batched ? ['batch', String(MESSAGES), String(BATCH)] : ['single', String(MESSAGES)];
  const { child, channel } = spawnNodeWithChannel(join(root, 'bench/peers/socket-sender.ts'), args, BenchSample, {
    transport,
    execArgv: ['--import', 'tsx'],
    cwd: root,
  });
  const done = finished(child, 300_000);
  const rate = await receiveAll(channel, batched);
  await channel.close();
  const result = await done;
  if (result.code !== 0) throw new Error(`sender failed (${result.code}): ${result.stderr}`);
  return rate;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
const fmt = (rate: number): string => `${(rate / 1000).toFixed(0)}k msg/s`;

/** Prints messages/s of C, Node one-by-one and Node batched, and the ratios, per transport. */
export async function run(): Promise<void> {
  const peer = compileC('socket_peer', [join(root, 'test/c/socket_peer.c')]);
  console.log(`${MESSAGES} messages of ${BenchSample.size} bytes, ${ROUNDS} rounds, median (best) per figure`);
  for (const transport of ['unix+dgram', 'unix+seqpacket'] as const) {
    const c: number[] = [];
    const single: number[] = [];
    const batched: number[] = [];
    // Interleaved so that load from other processes hits all three alike.
    for (let round = 0; round < ROUNDS; round++) {
      c.push(cRate(peer, transport));
      single.push(await nodeRate(transport, false));
      batched.push(await nodeRate(transport, true));
    }
    const cm = median(c);
    console.log(
      `${transport}: C ${fmt(cm)} (${fmt(Math.max(...c))}) | Node send/receive ${fmt(median(single))} (${fmt(Math.max(...single))}) = ${(median(single) / cm).toFixed(2)}x C | Node sendMany/receiveMany(${BATCH}) ${fmt(median(batched))} (${fmt(Math.max(...batched))}) = ${(median(batched) / cm).toFixed(2)}x C`,
    );
  }
}
