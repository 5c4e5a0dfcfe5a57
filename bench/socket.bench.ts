/**
 * Node→Node one-way throughput between two processes over unix+dgram and unix+seqpacket socketpairs
 * (a child spawned with an inherited channel sends, this process receives) and over loopback UDP (this
 * process binds udp://127.0.0.1:0, the child connects), against a C send/recv loop over the same kind
 * of socket measured in the same run, rounds interleaved so that load from other processes hits all
 * alike. Both sides time from the first message received to the last. UDP drops what a receiver that
 * falls behind cannot take: its rows are delivered messages per second, with the losses in the notes.
 * 24-byte messages are the sample struct; larger ones a struct with the same u64 at offset 8. The
 * UNIX socket rows include a reference ceiling for Node itself (see ceilingRate).
 */
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bind, type Channel, spawnNodeWithChannel } from '../src/channels/index.js';
import type { MessageCodec } from '../src/codecs/index.js';
import { bytes, f64, struct, u16, u64 } from '../src/codecs/index.js';
import { TimeoutError } from '../src/errors.js';
import { libc } from '../src/internal.js';
import { compileC, finished, spawnTs } from '../test/helpers.js';
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

type Transport = 'unix+dgram' | 'unix+seqpacket' | 'udp';

/** A measurement: delivered messages per second, and how many were lost on the way (UDP only). */
interface Delivery {
  readonly rate: number;
  readonly lost: number;
}

/**
 * The C loop over the same kind of socket: one send/recv per message, or with `batch` > 1 (UNIX
 * sockets) sendmmsg/recvmmsg of that many per call, the batched reference row.
 */
function cRate(peer: string, transport: Transport, messages: number, size: number, batch = 1): Delivery {
  const type = { 'unix+dgram': 'dgram', 'unix+seqpacket': 'seqpacket', udp: 'udp' }[transport];
  const args = ['bench-pair', type, String(messages), String(size)];
  if (batch > 1) args.push(String(batch));
  const out = execFileSync(peer, args, { encoding: 'utf8' });
  const [rate = Number.NaN, , lost = 0] = out.trim().split(' ').map(Number);
  return { rate, lost };
}

/**
 * Receives what a UDP sender child delivers: until its last message, or 300 ms of silence once the
 * child has exited (the last ones may have been dropped). Sequence numbers must only grow.
 */
async function receiveDatagrams(
  channel: Channel<BenchMessage>,
  messages: number,
  batched: boolean,
  exited: () => boolean,
): Promise<Delivery> {
  const seq = (m: BenchMessage): number => Number(m.timestamp ?? m.seq);
  const wait = { timeoutMs: 300 };
  let delivered = 0;
  let last = -1;
  let start = 0;
  let end = 0;
  while (last < messages - 1) {
    let batch: Awaited<ReturnType<typeof channel.receiveMany>>;
    try {
      batch = batched ? await channel.receiveMany(BATCH, wait) : [await channel.receive(wait)];
    } catch (error) {
      if (!(error instanceof TimeoutError)) throw error;
      if (exited()) break;
      continue;
    }
    for (const { value } of batch) {
      if (seq(value) <= last) throw new Error(`message ${seq(value)} duplicated or out of order`);
      last = seq(value);
      if (delivered++ === 0) start = performance.now();
    }
    end = performance.now();
  }
  return { rate: delivered > 1 ? (delivered - 1) / ((end - start) / 1000) : 0, lost: messages - delivered };
}

async function udpRate(messages: number, size: number, batched: boolean): Promise<Delivery> {
  const channel = await bind('udp://127.0.0.1:0', benchCodec(size));
  try {
    const args = [
      batched ? 'batch' : 'single',
      String(messages),
      String(size),
      String(BATCH),
      String(channel.localUrl),
    ];
    let exited = false;
    const done = finished(spawnTs(join(root, 'bench/peers/socket-sender.ts'), args), 300_000).then((result) => {
      exited = true;
      return result;
    });
    const delivery = await receiveDatagrams(channel, messages, batched, () => exited);
    const result = await done;
    if (result.code !== 0) throw new Error(`sender failed (${result.code}): ${result.stderr}`);
    return delivery;
  } finally {
    await channel.close();
  }
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

async function nodeRate(transport: Transport, messages: number, size: number, batched: boolean): Promise<Delivery> {
  if (transport === 'udp') return udpRate(messages, size, batched);
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
  return { rate, lost: 0 };
}

/** SO_RCVTIMEO (x86_64): a blocking receive gives up after the timeval it is set to. */
const SO_RCVTIMEO = 20;

/**
 * The ceiling for Node code over a socketpair: a child makes blocking send() calls through koffi
 * on its end, and this process blocking recv() calls on the other, with no channel, codec or event
 * loop around them. No library may block the event loop like this; the row shows how much of the
 * gap to C is the cost of calling the kernel from Node at all.
 */
async function ceilingRate(
  transport: 'unix+dgram' | 'unix+seqpacket',
  messages: number,
  size: number,
): Promise<Delivery> {
  const fds = new Int32Array(2);
  const type = transport === 'unix+dgram' ? libc.SOCK_DGRAM : libc.SOCK_SEQPACKET;
  if (libc.socketpair(libc.AF_UNIX, type | libc.SOCK_CLOEXEC, 0, fds) !== 0) {
    throw new Error(`socketpair: errno ${libc.errno()}`);
  }
  const [mine = -1, theirs = -1] = fds;
  try {
    // A sender that dies early must not leave this process blocked for good (a datagram socket
    // sees no end of file when its peer goes).
    const timeout = new BigInt64Array([10n, 0n]);
    libc.setsockopt(mine, libc.SOL_SOCKET, SO_RCVTIMEO, new Uint8Array(timeout.buffer), 16);
    const child = spawnTs(join(root, 'bench/peers/socket-sender.ts'), ['raw', String(messages), String(size)], {
      stdio: ['ignore', 'ignore', 'pipe', theirs],
    });
    const done = finished(child, 300_000);
    libc.close(theirs);
    const buffer = new Uint8Array(size);
    const view = new DataView(buffer.buffer);
    let start = 0;
    for (let i = 0; i < messages; i++) {
      const got = libc.recv(mine, buffer, size, 0);
      if (got !== size) throw new Error(`ceiling: recv gave ${got} (errno ${libc.errno()}) at message ${i}`);
      if (i === 0) start = performance.now();
      if (view.getBigUint64(8, true) !== BigInt(i)) throw new Error(`ceiling: message ${i} lost or out of order`);
    }
    const rate = (messages - 1) / ((performance.now() - start) / 1000);
    const result = await done;
    if (result.code !== 0) throw new Error(`raw sender failed (${result.code}): ${result.stderr}`);
    return { rate, lost: 0 };
  } finally {
    libc.close(mine);
  }
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

/** Measures C, Node one-by-one and Node batched per transport and size; each figure the best of its rounds. */
export async function run(context: BenchContext): Promise<BenchResult[]> {
  const messages = Number(process.env.BENCH_SOCKET_MESSAGES ?? (context.quick ? 20_000 : 200_000));
  const rounds = Number(process.env.BENCH_SOCKET_ROUNDS ?? (context.quick ? 1 : 3));
  const peer = compileC('socket_peer', [join(root, 'test/c/socket_peer.c')]);
  const results: BenchResult[] = [];
  const transports = ['unix+dgram', 'unix+seqpacket', 'udp'] as const;
  const steps = transports.length * context.sizes.length * rounds;
  let step = 0;
  for (const transport of transports) {
    for (const size of context.sizes) {
      const c: Delivery[] = [];
      const single: Delivery[] = [];
      const batched: Delivery[] = [];
      const ceiling: Delivery[] = [];
      const cBatched: Delivery[] = [];
      for (let round = 0; round < rounds; round++) {
        context.progress(step++ / steps, `${transport} ${size} B round ${round + 1}`);
        c.push(cRate(peer, transport, messages, size));
        single.push(await nodeRate(transport, messages, size, false));
        batched.push(await nodeRate(transport, messages, size, true));
        if (transport !== 'udp') {
          ceiling.push(await ceilingRate(transport, messages, size));
          cBatched.push(cRate(peer, transport, messages, size, BATCH));
        }
      }
      const rates = (xs: Delivery[]): number[] => xs.map((x) => x.rate);
      const ratios = (xs: Delivery[]): string =>
        `median of per-round ratios to C ${median(xs.map((x, i) => x.rate / (c[i]?.rate ?? Number.NaN))).toFixed(2)}x`;
      // UDP: delivered messages per second; the losses of every round are shown, never hidden.
      const losses = (xs: Delivery[]): string =>
        transport === 'udp'
          ? `; delivered msg/s, lost per round ${xs.map((x) => x.lost).join('/')} of ${messages}`
          : '';
      const best = (xs: Delivery[]): number => Math.max(...rates(xs));
      const base = { transport, messageBytes: size };
      results.push(
        {
          ...base,
          variant: 'c send/recv',
          msgPerSec: best(c),
          baseline: 'c',
          notes: `median ${median(rates(c))}${losses(c)}`,
        },
        { ...base, variant: 'node send/receive', msgPerSec: best(single), notes: `${ratios(single)}${losses(single)}` },
        {
          ...base,
          variant: `node sendMany/receiveMany(${BATCH})`,
          msgPerSec: best(batched),
          notes: `${ratios(batched)}${losses(batched)}`,
        },
      );
      if (ceiling.length > 0) {
        results.push({
          ...base,
          variant: `c sendmmsg/recvmmsg(${BATCH})`,
          msgPerSec: best(cBatched),
          reference: true,
          notes: `${ratios(cBatched)}; the batched Node row / this: median ${median(batched.map((x, i) => x.rate / (cBatched[i]?.rate ?? Number.NaN))).toFixed(2)}x`,
        });
        results.push({
          ...base,
          variant: 'node koffi blocking send/recv, no event loop (ceiling)',
          msgPerSec: best(ceiling),
          reference: true,
          notes: ratios(ceiling),
        });
      }
      console.log(
        `${transport} ${size} B, ${messages} messages, ${rounds} rounds: Node send/receive ${ratios(single)}${losses(single)}; sendMany/receiveMany ${ratios(batched)}${losses(batched)}${ceiling.length > 0 ? `; ceiling (blocking koffi loop) ${ratios(ceiling)}; C batched ${ratios(cBatched)}` : ''}; C${losses(c) || '-'}`,
      );
    }
  }
  return results;
}
