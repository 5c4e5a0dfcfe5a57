/**
 * System V message queues, one way between two processes, for each message size: Node to Node
 * (`send` in a loop, `for await` on the other end) against a C msgsnd/msgrcv loop, measured in the
 * same run and interleaved round by round. Each figure is timed by the receiver, from message count/10
 * to its last, the same for every row, C's included: a Node end runs its first messages while V8 is
 * still compiling it, which a C loop never does; the whole run, from the first message, is printed
 * beside it. The best of the rounds is the row's figure, the median in its notes.
 *
 * Two more rows, for reference: Node calling blocking msgsnd/msgrcv through koffi on its main thread
 * (the ceiling for any Node code making these calls, which no library may use: it blocks the event
 * loop), and sendMany/receiveMany in batches of 64. Every round records the load average.
 *
 * The wake-up cost of the wait (a System V queue has no descriptor, so a waiting Node receive retries
 * on a back-off; see docs/sysv.md) is measured beside it and printed: the delay from a stamped
 * msgsnd to its receipt, for a C receiver blocked in msgrcv and for a Node receiver, with the sender
 * pausing between messages, and the receivers' CPU time over that mostly idle run.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { open, type SysvInfo, unlink } from '../src/index.js';
import { compileC, finished, repoRoot, spawnTs } from '../test/helpers.js';
import { benchSchema } from './peers/mq-schemas.js';
import type { BenchResult } from './report.js';
import type { BenchContext } from './suite.js';

const peer = join(repoRoot, 'bench', 'peers', 'sysv-peer.ts');

interface Run {
  /** Messages per second from message count/10 to the last (the steady part of the run). */
  readonly rate: number;
  /** Messages per second from the first message to the last. */
  readonly whole: number;
  readonly cpu: number;
}

type Role = 'send' | 'recv';

/** A fresh private queue (default msg_qbytes, msgmnb) for one run; removed afterwards. */
async function withQueue<R>(size: number, body: (id: number) => Promise<R>): Promise<R> {
  const queue = await open('sysv:private', benchSchema(size), { create: true });
  try {
    return await body((queue.info() as SysvInfo).id);
  } finally {
    await queue.close();
    await unlink(queue.url);
  }
}

async function overQueue(size: number, count: number, start: (id: number, role: Role) => ChildProcess): Promise<Run> {
  return withQueue(size, async (id) => {
    const receiver = start(id, 'recv');
    const sender = start(id, 'send');
    const [received, sent] = await Promise.all([finished(receiver, 300_000), finished(sender, 300_000)]);
    if (received.code !== 0 || sent.code !== 0) throw new Error(`bench peers failed: ${received.stderr}${sent.stderr}`);
    const [ns = 0, receiveCpuNs = 0, steadyNs = 0] = received.stdout.trim().split(' ').map(Number);
    const [, sendCpuNs = 0] = sent.stdout.trim().split(' ').map(Number);
    return {
      rate: (count - Math.floor(count / 10)) / (steadyNs / 1e9),
      whole: count / (ns / 1e9),
      cpu: (sendCpuNs + receiveCpuNs) / 1e3 / count,
    };
  });
}

/** Median and p99 delay (µs) from msgsnd to receipt, and the receiver's CPU per second of the run. */
interface Latency {
  readonly median: number;
  readonly p99: number;
  readonly cpuPerSecond: number;
}

async function latency(
  cPeer: string,
  receiver: (id: number) => ChildProcess,
  count: number,
  gapUs: number,
): Promise<Latency> {
  return withQueue(24, async (id) => {
    const child = receiver(id);
    const reading = finished(child, 300_000);
    await new Promise<void>((resolve, reject) => {
      child.stdout?.once('data', () => resolve());
      child.once('close', () => reject(new Error('latency receiver ended before it was ready')));
    });
    const started = performance.now();
    const sending = finished(spawn(cPeer, ['stamp', String(id), String(count), '24', String(gapUs)]), 300_000);
    const [read, sent] = await Promise.all([reading, sending]);
    if (read.code !== 0 || sent.code !== 0) throw new Error(`latency peers failed: ${read.stderr}${sent.stderr}`);
    const seconds = (performance.now() - started) / 1000;
    const [median = 0, p99 = 0, cpu = 0] = (read.stdout.trim().split('\n').at(-1) ?? '').split(' ').map(Number);
    return { median: median / 1e3, p99: p99 / 1e3, cpuPerSecond: cpu / 1e6 / seconds };
  });
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** The median over rounds of a variant's rate divided by the C loop's rate of the same round. */
function ratioToC(runs: readonly Run[], c: readonly Run[], key: 'rate' | 'whole' = 'rate'): number {
  return median(runs.map((r, i) => r[key] / c[i]![key]));
}

/** `0.52x (whole run 0.45x)`: the steady and the whole-run median per-round ratio. */
function ratios(runs: readonly Run[], c: readonly Run[]): string {
  return `${ratioToC(runs, c).toFixed(2)}x (whole run ${ratioToC(runs, c, 'whole').toFixed(2)}x)`;
}

interface RowOptions {
  readonly baseline?: BenchResult['baseline'];
  readonly reference?: boolean;
  /** The C loop's runs of the same rounds, for the median of per-round ratios. */
  readonly c?: readonly Run[];
}

function row(size: number, variant: string, runs: readonly Run[], options: RowOptions = {}): BenchResult {
  const rates = runs.map((r) => r.rate);
  const ratio = options.c === undefined ? '' : `, median per-round ratio to C ${ratios(runs, options.c)}`;
  return {
    transport: 'sysv',
    messageBytes: size,
    variant,
    msgPerSec: Math.max(...rates),
    ...(options.baseline === undefined ? {} : { baseline: options.baseline }),
    ...(options.reference ? { reference: true } : {}),
    notes: `median ${Math.round(median(rates)).toLocaleString('en-US')} msg/s of ${runs.length} from message count/10 on (whole run ${Math.round(median(runs.map((r) => r.whole))).toLocaleString('en-US')})${ratio}, CPU ${median(runs.map((r) => r.cpu)).toFixed(2)} us/msg (both ends)`,
  };
}

/** Measures every size in `context.sizes` and returns the rows; prints the wake-up latency figures. */
export async function run(context: BenchContext): Promise<BenchResult[]> {
  const rounds = context.quick ? 1 : 5;
  const cPeer = compileC(
    'sysv_throughput',
    [join(repoRoot, 'bench', 'c', 'sysv_throughput.c')],
    [],
    [join(repoRoot, 'bench', 'c', 'bench_clock.h')],
  );
  const results: BenchResult[] = [];
  const steps = context.sizes.length + 1;
  for (const [index, size] of context.sizes.entries()) {
    const count = context.quick ? 20_000 : 200_000;
    const c: Run[] = [];
    const node: Run[] = [];
    const fromC: Run[] = [];
    const batched: Run[] = [];
    const ceiling: Run[] = [];
    const loads: number[] = [];
    const args = (id: number, mode: string): string[] => [mode, `sysv:id=${id}`, String(count), String(size)];
    for (let round = 0; round < rounds; round++) {
      context.progress((index + round / rounds) / steps, `${size} B, round ${round + 1}`);
      loads.push(loadavg()[0]!);
      c.push(await overQueue(size, count, (id, role) => spawn(cPeer, [role, String(id), String(count), String(size)])));
      node.push(await overQueue(size, count, (id, role) => spawnTs(peer, args(id, role))));
      // The interop case: a C program sending, Node receiving with for await.
      fromC.push(
        await overQueue(size, count, (id, role) =>
          role === 'send'
            ? spawn(cPeer, [role, String(id), String(count), String(size)])
            : spawnTs(peer, args(id, role)),
        ),
      );
      batched.push(await overQueue(size, count, (id, role) => spawnTs(peer, args(id, `${role}-many`))));
      ceiling.push(await overQueue(size, count, (id, role) => spawnTs(peer, args(id, `raw-${role}`))));
    }
    const load = `load ${Math.min(...loads).toFixed(1)}-${Math.max(...loads).toFixed(1)} (median ${median(loads).toFixed(1)})`;
    console.log(
      `sysv ${size} B, ${count} messages x ${rounds}, ${load}: median per-round ratio to C, timed from message ${count / 10} on: Node send/for await ${ratios(node, c)}, C to Node ${ratios(fromC, c)}, sendMany/receiveMany ${ratios(batched, c)}, blocking koffi ceiling ${ratios(ceiling, c)}; medians C ${Math.round(median(c.map((r) => r.rate)))} msg/s, Node ${Math.round(median(node.map((r) => r.rate)))} msg/s; CPU us/msg C ${median(c.map((r) => r.cpu)).toFixed(2)}, Node ${median(node.map((r) => r.cpu)).toFixed(2)}`,
    );
    results.push(
      row(size, 'c msgsnd/msgrcv (blocking)', c, { baseline: 'c' }),
      row(size, 'node send / for await', node, { c }),
      row(size, 'c msgsnd to node for await', fromC, { c }),
      row(size, 'node sendMany / receiveMany (64)', batched, { c }),
      row(size, 'node blocking msgsnd/msgrcv via koffi (ceiling: blocks the event loop)', ceiling, {
        c,
        reference: true,
      }),
    );
  }
  // Wake-up latency: a sender pausing `gap` between messages, so that a Node receiver is in each
  // phase of its back-off (0.2 ms on loop turns, then 1, 2, 4, 8, 10 ms timers) when a message comes.
  for (const gapUs of context.quick ? [2000] : [100, 2000, 50_000]) {
    const count = Math.max(20, Math.min(2000, Math.round(2_000_000 / gapUs)));
    const cRuns: Latency[] = [];
    const nodeRuns: Latency[] = [];
    for (let round = 0; round < (context.quick ? 1 : 3); round++) {
      context.progress((context.sizes.length + round / 3) / steps, `latency, gap ${gapUs} us`);
      cRuns.push(
        await latency(cPeer, (id) => spawn(cPeer, ['latency', String(id), String(count), '24']), count, gapUs),
      );
      nodeRuns.push(
        await latency(cPeer, (id) => spawnTs(peer, ['latency', `sysv:id=${id}`, String(count), '24']), count, gapUs),
      );
    }
    const m = (runs: Latency[], key: keyof Latency) => median(runs.map((r) => r[key]));
    console.log(
      `sysv wake-up, a message every ${gapUs} us (${count} x ${cRuns.length}): C blocking msgrcv median ${m(cRuns, 'median').toFixed(1)} us, p99 ${m(cRuns, 'p99').toFixed(1)} us, CPU ${m(cRuns, 'cpuPerSecond').toFixed(2)} ms/s; Node median ${m(nodeRuns, 'median').toFixed(1)} us, p99 ${m(nodeRuns, 'p99').toFixed(1)} us, CPU ${m(nodeRuns, 'cpuPerSecond').toFixed(2)} ms/s`,
    );
  }
  return results;
}
