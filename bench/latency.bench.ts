/**
 * Ping-pong latency per transport: one process sends the 24-byte sample, the other echoes it back, one
 * at a time; one-way latency is half the round trip, timed by the pinging end (CLOCK_MONOTONIC). For
 * each transport, in the same round and interleaved: a C pair making the blocking calls a C program
 * would (bench/c/pingpong.c, the baseline), Node <-> Node with the default wait (sleep at once), and
 * Node <-> Node with `wait: { spinUs }` on both ends, yielding the CPU between checks (the default) and
 * busy (`yield: false`); for the ring and pub/sub also with each end pinned to a CPU of its own (taskset). Rows
 * give the median over rounds of each round's p50 and p99, and the median of the per-round ratios to
 * C's p50.
 *
 * A second part measures what spinning costs: the CPU time of a receiver per second of waiting, while
 * messages arrive at a slow, steady pace (one every GAP ms), for several spin lengths.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Channel, connect, open, unlink } from '../src/index.js';
import { Sample } from '../test/channels/sample.js';
import { compileC, finished, repoRoot, spawnTs, uniqueName } from '../test/helpers.js';
import { type BenchResult, median } from './report.js';
import type { BenchContext } from './suite.js';

const peer = join(repoRoot, 'bench', 'peers', 'latency-peer.ts');
/** The spin of the spinning rows (both ends): longer than a round trip, so a reply never finds its peer asleep. */
export const SPIN_US = 200;
/** The transports measured, and the C program's name for each. */
export const transports = {
  mq: 'mq',
  'unix+dgram': 'dgram',
  'unix+seqpacket': 'seqpacket',
  'unix+stream': 'stream',
  fifo: 'fifo',
  tcp: 'tcp',
  shm: 'shm',
  'shm+pubsub': 'pubsub',
} as const;
export type Transport = keyof typeof transports;

/** The objects of one pair: Node URLs and the C program's arguments for the same objects. */
export interface Objects {
  readonly a: string;
  readonly b: string;
  readonly cA: string;
  readonly cB: string;
  /** Whether the pong end prints `ready <address>` before the ping end may start. */
  readonly ready: boolean;
  remove(): Promise<void>;
}

/** Makes the objects a pair uses (queues, rings, pub/sub segments, FIFOs; socket paths to bind), fresh each run. */
export async function objects(transport: Transport): Promise<Objects> {
  const name = uniqueName('lat');
  if (transport === 'shm+pubsub') {
    const urls = [`shm+pubsub:/${name}-a`, `shm+pubsub:/${name}-b`];
    // Created here (policy block: a ping is never lost), so both peers find them. The creating handle
    // is a publisher that never publishes: it holds nobody back, as a subscriber that never reads would.
    for (const url of urls) await (await open(url, Sample, { create: true, exclusive: true, access: 'send' })).close();
    return {
      a: urls[0]!,
      b: urls[1]!,
      cA: `/${name}-a`,
      cB: `/${name}-b`,
      // The pong end subscribes, then says so: the ping end's first message must find it listening.
      ready: true,
      remove: async () => {
        for (const url of urls) await unlink(url);
      },
    };
  }
  if (transport === 'mq' || transport === 'shm') {
    const scheme = transport;
    const made: Channel<unknown>[] = [];
    const urls = [`${scheme}:/${name}-a`, `${scheme}:/${name}-b`];
    // Created (and held open) here, so both peers find them; closed and removed after the run.
    const options =
      scheme === 'mq' ? { create: true, exclusive: true, capacity: 10 } : { create: true, exclusive: true };
    for (const url of urls) made.push(await open(url, Sample, options));
    return {
      a: urls[0]!,
      b: urls[1]!,
      cA: `/${name}-a`,
      cB: `/${name}-b`,
      ready: false,
      remove: async () => {
        for (const channel of made) await channel.close();
        for (const url of urls) await unlink(url);
      },
    };
  }
  const paths = [join(tmpdir(), `${name}-a`), join(tmpdir(), `${name}-b`)];
  const remove = async (): Promise<void> => {
    for (const path of paths) rmSync(path, { force: true });
  };
  if (transport === 'fifo') {
    for (const path of paths) execFileSync('mkfifo', ['-m', '600', path]);
    return { a: `fifo:${paths[0]}`, b: `fifo:${paths[1]}`, cA: paths[0]!, cB: paths[1]!, ready: false, remove };
  }
  if (transport === 'tcp') return { a: 'tcp://127.0.0.1:0', b: '', cA: '', cB: '', ready: true, remove };
  return { a: `${transport}:${paths[0]}`, b: '', cA: paths[0]!, cB: paths[1]!, ready: true, remove };
}

/** Resolves with the address a pong end printed as `ready <address>`. */
export function readyLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString('utf8');
      const match = /^ready (\S+)$/m.exec(seen);
      if (match === null) return;
      child.stdout?.off('data', onData);
      resolve(match[1]!);
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`pong end exited (${code}) before it was ready`)));
  });
}

/** Runs one pair; returns the ping end's round trips (ns), warm-up included. */
async function pair(
  transport: Transport,
  start: (role: 'ping' | 'pong', a: string, b: string) => ChildProcess,
  c: boolean,
): Promise<number[]> {
  const made = await objects(transport);
  try {
    const pong = start('pong', c ? made.cA : made.a, c ? made.cB : made.b);
    const pongDone = finished(pong, 300_000);
    // Socket pong ends say where they listen (tcp: the port 0 gave them).
    const a = made.ready ? await readyLine(pong) : c ? made.cA : made.a;
    const ping = start('ping', a, c ? made.cB : made.b);
    const [pinged, ponged] = await Promise.all([finished(ping, 300_000), pongDone]);
    if (pinged.code !== 0 || ponged.code !== 0) {
      throw new Error(`${transport} ping-pong failed: ${pinged.stderr}${ponged.stderr}`.trim());
    }
    return pinged.stdout.trim().split('\n').map(Number);
  } finally {
    await made.remove();
  }
}

/** One-way p50 and p99 (µs) of the round trips after the warm-up. */
function oneWay(roundTrips: readonly number[], warmup: number): { p50: number; p99: number; rate: number } {
  const measured = roundTrips.slice(warmup);
  const sorted = [...measured].sort((x, y) => x - y);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! / 2e3;
  const total = measured.reduce((sum, ns) => sum + ns, 0);
  // One-way messages per second of the ping-pong: two per round trip.
  return { p50: at(0.5), p99: at(0.99), rate: (2 * measured.length) / (total / 1e9) };
}

type Sampled = { p50: number; p99: number; rate: number };

/** CPU time (ms) of a receiver per second of waiting, with `spin` (`<spinUs> [busy]`), one message every `gapMs`. */
export async function idleCpu(transport: 'shm' | 'unix+dgram', spin: string, gapMs: number, count: number) {
  const made = await objects(transport);
  try {
    const receiver = spawnTs(peer, ['idle', transport, made.a, made.b, String(count), ...spin.split(' ')]);
    const done = finished(receiver, 300_000);
    await readyLine(receiver);
    const tx = transport === 'shm' ? await open(made.a, Sample) : await connect(made.a, Sample);
    try {
      // process.cpuUsage() counts every thread: let the receiver's start-up (V8's background compiles,
      // tsx) settle first, or it shows up as the cost of waiting.
      await sleep(1000);
      for (let i = 0; i < count; i++) {
        await tx.send({ channel: 3, timestamp: BigInt(i), value: i });
        await sleep(gapMs);
      }
    } finally {
      await tx.close();
    }
    const result = await done;
    if (result.code !== 0) throw new Error(`idle receiver failed: ${result.stderr}`);
    // The last line: a socket receiver printed `ready <address>` first.
    return Number(result.stdout.trim().split('\n').pop()) / 1e6;
  } finally {
    await made.remove();
  }
}

/** The C ping-pong program (bench/c/pingpong.c), compiled once per source version. */
export function pingpongBinary(): string {
  const dir = join(repoRoot, 'bench', 'c');
  return compileC('pingpong', [join(dir, 'pingpong.c')], [], [join(dir, 'bench_clock.h')]);
}

/** Runs the latency and CPU-cost measurements; returns one row per transport and variant. */
export async function run(context: BenchContext): Promise<BenchResult[]> {
  const rounds = context.quick ? 1 : 5;
  const warmup = context.quick ? 500 : 1_000;
  const count = warmup + (context.quick ? 2_000 : 5_000);
  const binary = pingpongBinary();
  const env = { ...process.env, TIPC_FINGERPRINT: Sample.fingerprint };
  const pinned = (role: 'ping' | 'pong', argv: readonly string[]): ChildProcess =>
    spawn('taskset', ['-c', role === 'ping' ? '0' : '1', ...argv], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
    });
  const pinnable: readonly Transport[] = ['shm', 'shm+pubsub'];
  /** What runs: C (the baseline), Node's channels with each wait, and (mq only) Node's floor as a reference. */
  const variants: {
    name: string;
    /** A C pair (its arguments name the objects the C way). */
    c: boolean;
    /** The same-run baseline every other row of the transport is compared with. */
    baseline?: boolean;
    reference?: boolean;
    /** The transports the variant runs on (all if not set). */
    only?: readonly Transport[];
    start(t: Transport): (role: 'ping' | 'pong', a: string, b: string) => ChildProcess;
  }[] = [
    {
      name: 'c blocking calls',
      c: true,
      baseline: true,
      start: (t: Transport) => (role: 'ping' | 'pong', a: string, b: string) =>
        spawn(binary, [transports[t], role, a, b, String(count)], { stdio: ['ignore', 'pipe', 'pipe'], env }),
    },
    {
      name: 'node, default wait',
      c: false,
      start: (t: Transport) => (role: 'ping' | 'pong', a: string, b: string) =>
        spawnTs(peer, [role, t, a, b, String(count), '0']),
    },
    {
      name: `node, wait: { spinUs: ${SPIN_US} }`,
      c: false,
      start: (t: Transport) => (role: 'ping' | 'pong', a: string, b: string) =>
        spawnTs(peer, [role, t, a, b, String(count), String(SPIN_US)]),
    },
    {
      name: `node, wait: { spinUs: ${SPIN_US}, yield: false }`,
      c: false,
      start: (t: Transport) => (role: 'ping' | 'pong', a: string, b: string) =>
        spawnTs(peer, [role, t, a, b, String(count), String(SPIN_US), 'busy']),
    },
    {
      name: 'node koffi blocking mq_send/mq_receive, no event loop',
      c: false,
      reference: true,
      only: ['mq'],
      start: () => (role: 'ping' | 'pong', a: string, b: string) =>
        spawnTs(peer, [`raw-${role}`, 'mq', a, b, String(count)]),
    },
    // Each end on a CPU of its own (taskset), the setting a spin is made for; the shared-memory transports only.
    {
      name: 'c blocking calls, ends pinned to CPUs 0 and 1',
      c: true,
      reference: true,
      only: pinnable,
      start: (t: Transport) => (role: 'ping' | 'pong', a: string, b: string) =>
        pinned(role, [binary, transports[t], role, a, b, String(count)]),
    },
    ...(['yield', 'busy'] as const).map((how) => ({
      name: `node, wait: { spinUs: ${SPIN_US}${how === 'busy' ? ', yield: false' : ''} }, ends pinned to CPUs 0 and 1`,
      c: false,
      only: pinnable,
      start: (t: Transport) => (role: 'ping' | 'pong', a: string, b: string) =>
        pinned(role, [process.execPath, '--import', 'tsx', peer, role, t, a, b, String(count), String(SPIN_US), how]),
    })),
  ];
  // LATENCY_TRANSPORTS=shm,tcp measures only those (a quicker look at one transport).
  const only = process.env.LATENCY_TRANSPORTS?.split(',');
  const names = (Object.keys(transports) as Transport[]).filter((t) => only === undefined || only.includes(t));
  const figures = new Map<string, Sampled[]>();
  const steps = rounds * names.length * 5;
  let step = 0;
  for (let round = 0; round < rounds; round++) {
    for (const transport of names) {
      for (const variant of variants.filter((v) => v.only === undefined || v.only.includes(transport))) {
        context.progress(step++ / (steps + 1), `round ${round + 1}: ${transport}, ${variant.name}`);
        const trips = await pair(transport, variant.start(transport), variant.c);
        const key = `${transport}\0${variant.name}`;
        figures.set(key, [...(figures.get(key) ?? []), oneWay(trips, warmup)]);
      }
    }
  }
  // What spinning costs a receiver that mostly waits.
  const spins = ['0', '50', `${SPIN_US}`, '1000', `${SPIN_US} busy`];
  const gaps = [1, 10];
  const cpu = new Map<string, number[]>();
  const cpuRounds = process.env.LATENCY_CPU === '0' ? 0 : context.quick ? 1 : 3;
  for (let round = 0; round < cpuRounds; round++) {
    for (const transport of (['shm', 'unix+dgram'] as const).filter((t) => names.includes(t))) {
      for (const gap of gaps) {
        for (const spin of spins) {
          context.progress(
            (steps + round / cpuRounds) / (steps + 1),
            `CPU cost: ${transport}, spin ${spin} µs, 1/${gap} ms`,
          );
          const count = Math.round((context.quick ? 500 : 2000) / gap);
          const key = `${transport}\0${gap}\0${spin}`;
          cpu.set(key, [...(cpu.get(key) ?? []), await idleCpu(transport, spin, gap, count)]);
        }
      }
    }
  }
  context.progress(1);

  const results: BenchResult[] = [];
  for (const transport of names) {
    const c = figures.get(`${transport}\0${variants[0]!.name}`)!;
    for (const variant of variants.filter((v) => v.only === undefined || v.only.includes(transport))) {
      const runs = figures.get(`${transport}\0${variant.name}`)!;
      const p50 = median(runs.map((r) => r.p50));
      const p99 = median(runs.map((r) => r.p99));
      const vsC = median(runs.map((r, i) => r.p50 / c[i]!.p50));
      const notes = [`one-way p50 ${p50.toFixed(1)} µs, p99 ${p99.toFixed(1)} µs (medians of ${runs.length} rounds)`];
      if (!variant.baseline) notes.push(`p50 ${vsC.toFixed(2)}x C's`);
      if (variant.name.endsWith(`${SPIN_US} }`) && cpu.has(`${transport}\0${gaps[0]}\0${spins[0]}`)) {
        const costs = gaps.map((gap) => {
          const ms = spins.map(
            (s) =>
              `${s.replace(' ', ' µs ')}${s.includes(' ') ? '' : ' µs'} ${median(cpu.get(`${transport}\0${gap}\0${s}`)!).toFixed(0)}`,
          );
          return `1 msg/${gap} ms: ${ms.join(', ')}`;
        });
        notes.push(`receiver CPU ms per s of waiting by spin, ${costs.join('; ')}`);
      }
      console.log(`${`${transport} ping-pong`.padEnd(26)} ${variant.name.padEnd(42)} ${notes.join('; ')}`);
      results.push({
        transport: `${transport} ping-pong`,
        messageBytes: Sample.size,
        variant: variant.name,
        msgPerSec: median(runs.map((r) => r.rate)),
        latency: { p50Us: p50, p99Us: p99 },
        ...(variant.baseline ? { baseline: 'c' as const } : {}),
        ...(variant.reference ? { reference: true } : {}),
        notes: notes.join('; '),
      });
    }
  }
  return results;
}
