/**
 * Node→Node one-way throughput between two processes over unix+dgram and unix+seqpacket socketpairs
 * (a child spawned with an inherited channel sends, this process receives), against a C send/recv
 * loop over the same kind of socketpair measured in the same run, rounds interleaved so that load
 * from other processes hits all alike. Both sides time from the first message received to the last.
 * 24-byte messages are the sample struct; larger ones a struct with the same u64 at offset 8.
 */
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Channel, spawnNodeWithChannel } from '../src/channels/index.js';
import type { MessageCodec } from '../src/codecs/index.js';
import { bytes, f64, struct, u16, u64 } from '../src/codecs/index.js';
import { compileC, finished } from '../test/helpers.js';
import type { BenchResult } from './report.js';
import type { BenchContext } from './suite.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const BATCH = 256;

/** A bench message: the sample for 24 bytes, else `{ channel, seq, data }` of `size` bytes. */
export interface BenchMessage {
  channel: number;
  timestamp?: bigint;
  seq?: bigint;
  value?: number;
  data?: Uint8Array;
}

const Sample = struct('sample', { channel: u16, timestamp: u64, value: f64 });

/** The codec of `size`-byte bench messages (the sequence number is a u64 at offset 8 in both). */
export function benchCodec(size: number): MessageCodec<BenchMessage> {
  if (size === Sample.size) return Sample as MessageCodec<BenchMessage>;
  return struct('blob', { channel: u16, seq: u64, data: bytes(size - 16) }) as MessageCodec<BenchMessage>;
}

/** Makes bench message `i` of `size` bytes. */
export function benchMessage(size: number): (i: number) => BenchMessage {
  if (size === Sample.size) return (i) => ({ channel: i & 0xffff, timestamp: BigInt(i), value: i / 2 });
  const data = new Uint8Array(size - 16).fill(7);
  return (i) => ({ channel: i & 0xffff, seq: BigInt(i), data });
}

type Transport = 'unix+dgram' | 'unix+seqpacket';

function cRate(peer: string, transport: Transport, messages: number, size: number): number {
  const type = transport === 'unix+dgram' ? 'dgram' : 'seqpacket';
  return Number(execFileSync(peer, ['bench-pair', type, String(messages), String(size)], { encoding: 'utf8' }).trim());
}

async function receiveAll(channel: Channel<BenchMessage>, messages: number, batched: boolean): Promise<number> {
  const seq = (m: BenchMessage): bigint | undefined => m.timestamp ?? m.seq;
  await channel.receive();
  const start = performance.now();
  let received = 1;
  while (received < messages) {
    const batch = batched ? await channel.receiveMany(BATCH) : [await channel.receive()];
    for (const { value } of batch) {
      if (seq(value) !== BigInt(received)) throw new Error(`message ${received} lost or out of order`);
      received++;
    }
  }
  return (messages - 1) / ((performance.now() - start) / 1000);
}

async function nodeRate(transport: Transport, messages: number, size: number, batched: boolean): Promise<number> {
  const args = [batched ? 'batch' : 'single', String(messages), String(size), String(BATCH)];
  const { child, channel } = spawnNodeWithChannel(join(root, 'bench/peers/socket-sender.ts'), args, benchCodec(size), {
    transport,
    execArgv: ['--import', 'tsx'],
    cwd: root,
  });
  const done = finished(child, 300_000);
  const rate = await receiveAll(channel, messages, batched).finally(() => channel.close());
  const result = await done;
  if (result.code !== 0) throw new Error(`sender failed (${result.code}): ${result.stderr}`);
  return rate;
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

/** Measures C, Node one-by-one and Node batched per transport and size; each figure the best of its rounds. */
export async function run(context: BenchContext): Promise<BenchResult[]> {
  const messages = Number(process.env.BENCH_SOCKET_MESSAGES ?? (context.quick ? 20_000 : 200_000));
  const rounds = Number(process.env.BENCH_SOCKET_ROUNDS ?? (context.quick ? 1 : 3));
  const peer = compileC('socket_peer', [join(root, 'test/c/socket_peer.c')]);
  const results: BenchResult[] = [];
  const transports = ['unix+dgram', 'unix+seqpacket'] as const;
  const steps = transports.length * context.sizes.length * rounds;
  let step = 0;
  for (const transport of transports) {
    for (const size of context.sizes) {
      const c: number[] = [];
      const single: number[] = [];
      const batched: number[] = [];
      for (let round = 0; round < rounds; round++) {
        context.progress(step++ / steps, `${transport} ${size} B round ${round + 1}`);
        c.push(cRate(peer, transport, messages, size));
        single.push(await nodeRate(transport, messages, size, false));
        batched.push(await nodeRate(transport, messages, size, true));
      }
      const ratios = (xs: number[]): string =>
        `median of per-round ratios to C ${median(xs.map((x, i) => x / (c[i] ?? Number.NaN))).toFixed(2)}x`;
      const base = { transport, messageBytes: size };
      results.push(
        { ...base, variant: 'c send/recv', msgPerSec: Math.max(...c), baseline: 'c', notes: `median ${median(c)}` },
        { ...base, variant: 'node send/receive', msgPerSec: Math.max(...single), notes: ratios(single) },
        {
          ...base,
          variant: `node sendMany/receiveMany(${BATCH})`,
          msgPerSec: Math.max(...batched),
          notes: ratios(batched),
        },
      );
      console.log(
        `${transport} ${size} B, ${messages} messages, ${rounds} rounds: Node send/receive ${ratios(single)}; sendMany/receiveMany ${ratios(batched)}`,
      );
    }
  }
  return results;
}
