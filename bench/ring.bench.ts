/**
 * Shared-memory ring (`shm:`), samples of 24 bytes (and, for 256 B / 4 KiB, a sample followed by filler)
 * between two processes: Node -> Node with sendMany/receiveMany and with send/receive (and, where the
 * message has a `bytes(n)` filler, sendMany/receiveMany into a lending codec: no copy per field), C -> C
 * through include/typed_ipc_ring.h (batched, the baseline, and one by one, a reference row: what the
 * protocol itself costs per message between two cores), and Node's child_process IPC (`process.send`, one message per call)
 * as the baseline, all in the same run, in interleaved rounds. Each row is the median of its rounds
 * (BENCH_ROUNDS, default 5); rates are timed by the receiver from its first message to its last. The
 * latency row measures send -> wake-up of a receiver that sleeps on its doorbell (one message every 2 ms).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { bytes, f64, type MessageCodec, type StructType, struct, u16, u64 } from '../src/codecs/index.js';
import { type Channel, open, unlink } from '../src/index.js';
import { Sample as Sample24 } from '../test/channels/sample.js';
import { compileC, finished, repoRoot, spawnTs, uniqueName } from '../test/helpers.js';
import { type BenchResult, median } from './report.js';
import type { BenchContext } from './suite.js';

const peer = join(repoRoot, 'bench', 'peers', 'ring-peer.ts');
const BATCH = 1024;

/** A bench sample: the 24-byte sample, plus `pad` filler bytes when the message is larger. */
export interface Sample {
  channel: number;
  timestamp: bigint;
  value: number;
  pad?: Uint8Array;
}

/** The codec of `size`-byte bench samples: the sample itself at 24 bytes, else the sample then filler. */
export function sampleCodec(size: number): MessageCodec<Sample> {
  if (size === Sample24.size) return Sample24 as MessageCodec<Sample>;
  return struct(`sample${size}`, { channel: u16, timestamp: u64, value: f64, pad: bytes(size - 24) });
}

/**
 * The producing end of the ring and pub/sub benches: sends `count` samples of `size` bytes through
 * `channel` (sendMany in batches of `batch`, or send one by one); resolves with the CPU seconds it
 * used, so that a bench can say what the rate would be with a core each.
 */
export async function produceSamples(channel: Channel<Sample>, size: number, count: number, batch: number) {
  const cpu = process.cpuUsage();
  // The application's samples already exist; the bench measures moving them, not building them.
  const pad = new Uint8Array(Math.max(0, size - 24)).fill(0x5a);
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
  const used = process.cpuUsage(cpu);
  return (used.user + used.system) / 1e6;
}

// Slots in the ring: 8192 up to 256 B, fewer for page-sized messages (a 32 MiB ring buys nothing more).
const capacityFor = (size: number): number => (size <= 256 ? 8192 : 2048);

/** The receiver's codec: the sample's, or its lending form (`bytes(n)` fields are views, valid for one batch). */
function receiverCodec(size: number, lending: boolean): MessageCodec<Sample> {
  const codec = sampleCodec(size);
  return lending ? (codec as StructType<Sample>).lending({ slots: BATCH }) : codec;
}

async function withRing<R>(
  size: number,
  body: (url: string, channel: Channel<Sample>) => Promise<R>,
  lending = false,
): Promise<R> {
  const url = `shm:/${uniqueName('bench')}`;
  const codec = receiverCodec(size, lending);
  const channel = await open(url, codec, { create: true, exclusive: true, capacity: capacityFor(size) });
  try {
    return await body(url, channel);
  } finally {
    await channel.close();
    await unlink(url);
  }
}

function fail(result: { code: number | null; stderr: string }): never {
  throw new Error(`ring producer failed (${result.code}): ${result.stderr}`);
}

/** A Node -> Node run: wall-clock rate, and messages per CPU-second of each side. */
interface NodeRun {
  readonly rate: number;
  readonly producerCpuRate: number;
  readonly consumerCpuRate: number;
}

/** Node -> Node messages per second; `batch` 1 uses send/receive, more uses sendMany/receiveMany. */
function nodeRate(size: number, count: number, batch: number, lending = false): Promise<NodeRun> {
  return withRing(
    size,
    async (url, rx) => {
      const producer = finished(spawnTs(peer, ['produce', url, String(count), String(batch), String(size)]), 300_000);
      // A producer that fails shows up as a timeout here, and its stderr below.
      const wait = { timeoutMs: 60_000 };
      let received = (await rx.receiveMany(batch, wait).catch(async () => fail(await producer))).length;
      const start = process.hrtime.bigint();
      const cpu = process.cpuUsage();
      const first = received;
      if (batch === 1) for (; received < count; received++) await rx.receive(wait);
      else while (received < count) received += (await rx.receiveMany(batch, wait)).length;
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const used = process.cpuUsage(cpu);
      const result = await producer;
      if (result.code !== 0) throw new Error(`ring producer failed: ${result.stderr}`);
      return {
        rate: (count - first) / seconds,
        producerCpuRate: count / Number(result.stdout.trim()),
        consumerCpuRate: (count - first) / ((used.user + used.system) / 1e6),
      };
    },
    lending,
  );
}

/** C -> C messages per second (the C peer forks its producer), and per CPU-second of each side. */
async function cRate(size: number, count: number, batch: number): Promise<NodeRun> {
  const binary = compileC('ring_peer', [join(repoRoot, 'test', 'c', 'ring_peer.c')]);
  return withRing(size, async (url) => {
    const child = spawn(binary, ['bench', url.slice(4), String(count), String(batch), String(size)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, TIPC_FINGERPRINT: sampleCodec(size).fingerprint },
    });
    const result = await finished(child, 300_000);
    const rate = /^rate (\d+)$/m.exec(result.stdout)?.[1];
    const cpu = /^cpu ([\d.]+) ([\d.]+)$/m.exec(result.stdout);
    if (result.code !== 0 || rate === undefined || cpu === null)
      throw new Error(`C ring bench failed: ${result.stderr}`);
    return { rate: Number(rate), consumerCpuRate: count / Number(cpu[1]), producerCpuRate: count / Number(cpu[2]) };
  });
}

/** Node's child_process IPC: a child `process.send`s `count` samples (the mq bench's peer, same baseline). */
async function ipcRate(size: number, count: number): Promise<number> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(repoRoot, 'bench', 'peers', 'mq-peer.ts'), 'ipc', String(count), String(size)],
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
  return withRing(24, async (url, rx) => {
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

/** Messages per CPU-second of the slower of a producer's and a consumer's per-message floor. */
interface Floor {
  /** encodeInto of one sample (the producer) and decode of one (the consumer), no channel: the batched rows' ceiling. */
  readonly codec: number;
  /** The same, each with one `await` of a settled promise: what send()/receive() one by one cannot beat. */
  readonly awaited: number;
}

/**
 * The per-message floor of a Node end, measured in this process: what a producer does per message
 * whatever the transport (encode into a buffer) and what a consumer does (decode from one), alone and
 * with the one await per message that send()/receive() and for-await cost. A cross-process rate is
 * bounded by the slower end, so the floor's rate is the lower of the two sides'.
 */
async function floorRate(size: number, count: number): Promise<Floor> {
  const codec = sampleCodec(size);
  const buffer = new Uint8Array(codec.size * 64);
  const pad = new Uint8Array(Math.max(0, size - 24)).fill(0x5a);
  const sample: Sample = { channel: 1, timestamp: 1n, value: 0.5, pad };
  const settled = Promise.resolve();
  const loop = async (body: (i: number) => unknown, awaited: boolean, n: number): Promise<void> => {
    if (awaited) {
      for (let i = 0; i < n; i++) {
        body(i);
        await settled;
      }
    } else for (let i = 0; i < n; i++) body(i);
  };
  const time = async (body: (i: number) => unknown, awaited: boolean): Promise<number> => {
    await loop(body, awaited, count >> 2); // warm-up: the channel rows run optimised code too
    // CPU time, not wall-clock: comparable with the rows' per CPU-second figures on a shared machine.
    const cpu = process.cpuUsage();
    await loop(body, awaited, count);
    const used = process.cpuUsage(cpu);
    return count / ((used.user + used.system) / 1e6);
  };
  const encode = (i: number): unknown => codec.encodeInto(sample, buffer, (i & 63) * codec.size);
  const decode = (i: number): unknown => ({ value: codec.decode(buffer, (i & 63) * codec.size), priority: 0 });
  for (let i = 0; i < 64; i++) encode(i);
  return {
    codec: Math.min(await time(encode, false), await time(decode, false)),
    awaited: Math.min(await time(encode, true), await time(decode, true)),
  };
}

/** Counts for `size`-byte messages: `base` at 24 bytes, scaled down with the bytes moved (at least base / 20). */
const countFor = (base: number, size: number): number => Math.round(Math.max(base / 20, (base * 24) / size));

/** The median of each figure of several Node runs. */
function medianRun(runs: readonly NodeRun[]): NodeRun {
  return {
    rate: median(runs.map((r) => r.rate)),
    producerCpuRate: median(runs.map((r) => r.producerCpuRate)),
    consumerCpuRate: median(runs.map((r) => r.consumerCpuRate)),
  };
}

/** Runs the ring benchmark at every size: interleaved rounds, the median of each row. */
export async function run(context: BenchContext): Promise<BenchResult[]> {
  const rounds = Number(process.env.BENCH_ROUNDS ?? (context.quick ? 1 : 5));
  const scale = context.quick ? 0.1 : 1;
  const sizes = context.sizes.filter((size) => size >= 24);
  const results: BenchResult[] = [];
  for (const [index, size] of sizes.entries()) {
    const runs = { batched: [] as NodeRun[], lending: [] as NodeRun[], single: [] as NodeRun[] };
    const c: NodeRun[] = [];
    const cSingle: NodeRun[] = [];
    const ipc: number[] = [];
    const latencies: { p50: number; p99: number }[] = [];
    const floors: Floor[] = [];
    // A filler field is what a lending codec lends; the 24-byte sample has none.
    const lends = size > Sample24.size;
    for (let round = 0; round < rounds; round++) {
      const at = (part: number, label: string): void =>
        context.progress((index + (round + part) / rounds) / sizes.length, `${size} B round ${round + 1}: ${label}`);
      at(0, 'sendMany/receiveMany');
      runs.batched.push(await nodeRate(size, countFor(8_000_000 * scale, size), BATCH));
      if (lends) {
        at(0.2, 'sendMany/receiveMany, lending codec');
        runs.lending.push(await nodeRate(size, countFor(8_000_000 * scale, size), BATCH, true));
      }
      at(0.4, 'send/receive');
      runs.single.push(await nodeRate(size, countFor(1_000_000 * scale, size), 1));
      at(0.6, 'C');
      c.push(await cRate(size, countFor(20_000_000 * scale, size), BATCH));
      at(0.65, 'C one by one');
      cSingle.push(await cRate(size, countFor(4_000_000 * scale, size), 1));
      at(0.7, 'per-message floor');
      floors.push(await floorRate(size, countFor(4_000_000 * scale, size)));
      at(0.8, 'process.send');
      ipc.push(await ipcRate(size, countFor(200_000 * scale, size)));
      // The wake-up latency does not depend on the message size: measured with the 24-byte samples only.
      if (size === 24) latencies.push(await wakeLatency(context.quick ? 100 : 500));
    }
    const wake =
      size === 24
        ? `; send -> sleeping receiver wake-up p50 ${median(latencies.map((l) => l.p50)).toFixed(0)} µs, ` +
          `p99 ${median(latencies.map((l) => l.p99)).toFixed(0)} µs`
        : '';
    const cRun = medianRun(c);
    const cOne = medianRun(cSingle);
    // Per CPU-second figures do not depend on how much of a core each side got (the machine may be
    // shared): beside the wall-clock ratio, the rows say what fraction of C's work per message they do.
    const perCpu = (run: NodeRun): string =>
      `median of ${rounds} rounds; per CPU-second: producer ${(run.producerCpuRate / 1e6).toFixed(1)} M ` +
      `(${(run.producerCpuRate / cRun.producerCpuRate).toFixed(2)}x C's), consumer ${(run.consumerCpuRate / 1e6).toFixed(1)} M msg ` +
      `(${(run.consumerCpuRate / cRun.consumerCpuRate).toFixed(2)}x C's)`;
    const base = { transport: 'shm', messageBytes: size };
    const batched = medianRun(runs.batched);
    const single = medianRun(runs.single);
    results.push(
      {
        ...base,
        variant: `node sendMany/receiveMany (batch ${BATCH})`,
        msgPerSec: batched.rate,
        notes: perCpu(batched),
      },
      { ...base, variant: 'node send/receive', msgPerSec: single.rate, notes: `${perCpu(single)}${wake}` },
      {
        ...base,
        variant: `c tipc_ring_send_many/recv_many (batch ${BATCH})`,
        msgPerSec: cRun.rate,
        baseline: 'c',
        notes:
          `median of ${rounds} rounds; per CPU-second: producer ${(cRun.producerCpuRate / 1e6).toFixed(1)} M, ` +
          `consumer ${(cRun.consumerCpuRate / 1e6).toFixed(1)} M msg`,
      },
      {
        ...base,
        variant: 'c tipc_ring_send_many/recv_many one by one (batch 1)',
        msgPerSec: cOne.rate,
        reference: true,
        notes:
          `median of ${rounds} rounds; per CPU-second: producer ${(cOne.producerCpuRate / 1e6).toFixed(1)} M, ` +
          `consumer ${(cOne.consumerCpuRate / 1e6).toFixed(1)} M msg: the protocol's own cost of one claim and ` +
          'one publish (release) per message between two cores, what node send/receive cannot beat',
      },
      { ...base, variant: 'node process.send', msgPerSec: median(ipc), baseline: 'node-ipc' },
      {
        ...base,
        variant: 'node floor: encode / decode alone, no channel',
        msgPerSec: median(floors.map((f) => f.codec)),
        reference: true,
        notes: `median of ${rounds} rounds; per CPU-second, the slower of encodeInto (producer) and decode + Message (consumer) in one process: what no batched Node end can beat`,
      },
      {
        ...base,
        variant: 'node floor: encode / decode + one await each, no channel',
        msgPerSec: median(floors.map((f) => f.awaited)),
        reference: true,
        notes: `median of ${rounds} rounds; the same with the one await per message of send()/receive() and for-await: what no one-by-one Node end can beat`,
      },
    );
    if (lends) {
      const lending = medianRun(runs.lending);
      results.push({
        ...base,
        variant: `node sendMany/receiveMany, lending codec (batch ${BATCH})`,
        msgPerSec: lending.rate,
        notes: `${perCpu(lending)}; bytes(n) fields are views into the codec's buffer, valid for ${BATCH} messages`,
      });
    }
  }
  context.progress(1);
  return results;
}
