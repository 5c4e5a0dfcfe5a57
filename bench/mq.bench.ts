/**
 * One-way throughput between two processes over a POSIX message queue, for each message size: Node
 * to Node (`send` in a loop, `for await` on the other end), against a C mq_send/mq_receive loop and
 * against Node's child_process IPC (`process.send`), all measured in the same run and interleaved so
 * that load from other processes hits them alike. Each figure is timed by the receiver, from its
 * first message to its last (process start-up is not counted); the best of the rounds is reported,
 * with the median and the CPU time per message of each end in the notes. A reference row gives the
 * ceiling for Node: the same blocking calls through koffi with nothing around them (see mq-peer.ts).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { open, unlink } from '../src/index.js';
import { compileC, finished, repoRoot, spawnTs, uniqueName } from '../test/helpers.js';
import { benchSchema } from './peers/mq-schemas.js';
import type { BenchResult } from './report.js';
import type { BenchContext } from './suite.js';

const peer = join(repoRoot, 'bench', 'peers', 'mq-peer.ts');
/** /proc/sys/fs/mqueue/msg_max for processes without CAP_SYS_RESOURCE. */
const CAPACITY = 10;
/** Messages per sendMany/receiveMany call in the batched variant. */
const BATCH = 64;

/** What one run measured: messages per second, CPU microseconds per message at each end. */
interface Run {
  readonly rate: number;
  readonly cpu: number;
}

type Role = 'send' | 'recv';

/** Runs a receiver and a sender over a fresh queue; both print `<ns> <cpu-ns>`. */
async function overQueue(size: number, count: number, start: (url: string, role: Role) => ChildProcess): Promise<Run> {
  const url = `mq:/${uniqueName('bench')}`;
  const queue = await open(url, benchSchema(size), { create: true, exclusive: true, capacity: CAPACITY });
  try {
    const receiver = start(url, 'recv');
    const sender = start(url, 'send');
    const [received, sent] = await Promise.all([finished(receiver, 300_000), finished(sender, 300_000)]);
    if (received.code !== 0 || sent.code !== 0) throw new Error(`bench peers failed: ${received.stderr}${sent.stderr}`);
    const [ns = 0, receiveCpuNs = 0] = received.stdout.trim().split(' ').map(Number);
    const [, sendCpuNs = 0] = sent.stdout.trim().split(' ').map(Number);
    return { rate: count / (ns / 1e9), cpu: (sendCpuNs + receiveCpuNs) / 1e3 / count };
  } finally {
    await queue.close();
    await unlink(url);
  }
}

/** Messages per second from a child to its parent over `process.send`. */
async function overIpc(size: number, count: number): Promise<Run> {
  const child = spawn(process.execPath, ['--import', 'tsx', peer, 'ipc', String(count), String(size)], {
    cwd: repoRoot,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let received = 0;
  let startNs = 0n;
  let endNs = 0n;
  let wrong = 0;
  child.on('message', (message: { timestamp: number }) => {
    if (message.timestamp !== received) wrong++;
    if (received === 0) startNs = process.hrtime.bigint();
    received += 1;
    if (received === count) endNs = process.hrtime.bigint();
  });
  await new Promise((resolve) => child.on('close', resolve));
  if (received !== count || wrong > 0) throw new Error(`IPC bench: ${received} of ${count} received, ${wrong} wrong`);
  return { rate: count / (Number(endNs - startNs) / 1e9), cpu: Number.NaN };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function row(
  size: number,
  variant: string,
  runs: readonly Run[],
  baseline?: BenchResult['baseline'],
  reference = false,
): BenchResult {
  const rates = runs.map((r) => r.rate);
  const cpu = median(runs.map((r) => r.cpu));
  const notes = [`median ${Math.round(median(rates)).toLocaleString('en-US')} msg/s of ${runs.length}`];
  if (Number.isFinite(cpu)) notes.push(`CPU ${cpu.toFixed(2)} us/msg (both ends)`);
  return {
    transport: 'mq',
    messageBytes: size,
    variant,
    msgPerSec: Math.max(...rates),
    ...(baseline === undefined ? {} : { baseline }),
    ...(reference ? { reference } : {}),
    notes: notes.join(', '),
  };
}

/** Measures every size in `context.sizes` (all fit in msgsize_max) and returns the rows. */
export async function run(context: BenchContext): Promise<BenchResult[]> {
  const rounds = context.quick ? 1 : 3;
  const cPeer = compileC('mq_throughput', [join(repoRoot, 'bench', 'c', 'mq_throughput.c')]);
  const results: BenchResult[] = [];
  for (const [index, size] of context.sizes.entries()) {
    // The same count at every size: fewer messages for large ones made the Node rows mostly JIT
    // warm-up (a 4 KiB run of 15 000 messages measured half the rate of one of 100 000).
    const count = context.quick ? 20_000 : 200_000;
    const c: Run[] = [];
    const node: Run[] = [];
    const batched: Run[] = [];
    const ipc: Run[] = [];
    const ceiling: Run[] = [];
    for (let round = 0; round < rounds; round++) {
      context.progress((index + round / rounds) / context.sizes.length, `${size} B, round ${round + 1}`);
      c.push(
        await overQueue(size, count, (url, role) => spawn(cPeer, [role, url.slice(3), String(count), String(size)])),
      );
      node.push(await overQueue(size, count, (url, role) => spawnTs(peer, [role, url, String(count), String(size)])));
      batched.push(
        await overQueue(size, count, (url, role) =>
          spawnTs(peer, [role, url, String(count), String(size), `${BATCH}`]),
        ),
      );
      ipc.push(await overIpc(size, count));
      ceiling.push(
        await overQueue(size, count, (url, role) => spawnTs(peer, [`raw-${role}`, url, String(count), String(size)])),
      );
    }
    const ratio = (a: Run[], b: Run[]) => `${median(a.map((r, i) => r.rate / b[i]!.rate)).toFixed(2)}x`;
    console.log(
      `mq ${size} B, ${count} messages x ${rounds}: Node/C median ${ratio(node, c)} (batched ${ratio(batched, c)}), Node/process.send median ${ratio(node, ipc)} (batched ${ratio(batched, ipc)}); ceiling (blocking koffi loop)/C ${ratio(ceiling, c)}, ceiling/process.send ${ratio(ceiling, ipc)}; CPU us/msg C ${median(c.map((r) => r.cpu)).toFixed(2)}, Node ${median(node.map((r) => r.cpu)).toFixed(2)}, batched ${median(batched.map((r) => r.cpu)).toFixed(2)}`,
    );
    results.push(
      row(size, 'c mq_send/mq_receive (blocking)', c, 'c'),
      row(size, 'node process.send (child_process IPC)', ipc, 'node-ipc'),
      row(size, 'node send / for await', node),
      row(size, `node sendMany / receiveMany(${BATCH})`, batched),
      row(size, 'node koffi blocking mq_send/mq_receive, no event loop (ceiling)', ceiling, undefined, true),
    );
  }
  return results;
}
