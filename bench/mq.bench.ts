/**
 * One-way throughput of 24-byte samples between two processes over a POSIX message queue: Node to
 * Node, against a C mq_send/mq_receive loop and against Node's child_process IPC (`process.send`),
 * all measured in the same run. Each figure is timed by the receiver, from its first message to its
 * last, so process start-up is not counted.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { open, unlink } from '../src/index.js';
import { Sample } from '../test/channels/sample.js';
import { compileC, finished, repoRoot, spawnTs, uniqueName } from '../test/helpers.js';

const peer = join(repoRoot, 'bench', 'mq-peer.ts');
const CAPACITY = 10; // /proc/sys/fs/mqueue/msg_max for unprivileged processes

/** What one run over a queue measured: messages per second, CPU microseconds per message per end. */
interface QueueRun {
  readonly rate: number;
  readonly sendCpu: number;
  readonly receiveCpu: number;
}

/** Runs a receiver and a sender over a fresh queue; both print `<ns> <cpu-ns>`. */
async function overQueue(
  count: number,
  start: (url: string, role: 'send' | 'recv') => ChildProcess,
): Promise<QueueRun> {
  const url = `mq:/${uniqueName('bench')}`;
  const queue = await open(url, Sample, { create: true, exclusive: true, capacity: CAPACITY });
  try {
    const receiver = start(url, 'recv');
    const sender = start(url, 'send');
    const [received, sent] = await Promise.all([finished(receiver, 120_000), finished(sender, 120_000)]);
    if (received.code !== 0 || sent.code !== 0) throw new Error(`bench peers failed: ${received.stderr}${sent.stderr}`);
    const [ns = 0, receiveCpuNs = 0] = received.stdout.trim().split(' ').map(Number);
    const [, sendCpuNs = 0] = sent.stdout.trim().split(' ').map(Number);
    return { rate: count / (ns / 1e9), sendCpu: sendCpuNs / 1e3 / count, receiveCpu: receiveCpuNs / 1e3 / count };
  } finally {
    await queue.close();
    await unlink(url);
  }
}

/** Messages per second from a child to its parent over `process.send`. */
async function overIpc(count: number): Promise<number> {
  const child = spawn(process.execPath, ['--import', 'tsx', peer, 'ipc', String(count)], {
    cwd: repoRoot,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let received = 0;
  let startNs = 0n;
  let endNs = 0n;
  child.on('message', (sample: { timestamp: number }) => {
    if (sample.timestamp !== received) throw new Error(`message ${received} carries timestamp ${sample.timestamp}`);
    if (received === 0) startNs = process.hrtime.bigint();
    received += 1;
    if (received === count) endNs = process.hrtime.bigint();
  });
  await new Promise((resolve) => child.on('close', resolve));
  if (received !== count) throw new Error(`IPC bench received ${received} of ${count}`);
  return count / (Number(endNs - startNs) / 1e9);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

const rate = (perSecond: number): string => `${(perSecond / 1e3).toFixed(0)} k msg/s`;

const cpu = (run: QueueRun): string => `${run.sendCpu.toFixed(2)}+${run.receiveCpu.toFixed(2)} us`;

/** Runs the mq benchmark and prints the rates and the two ratios. */
export async function run(): Promise<void> {
  const count = Number(process.env.MQ_BENCH_COUNT ?? 200_000);
  const rounds = Number(process.env.MQ_BENCH_ROUNDS ?? 5);
  const cPeer = compileC('mq_throughput', [join(repoRoot, 'bench', 'c', 'mq_throughput.c')]);
  const vsC: number[] = [];
  const vsIpc: number[] = [];
  const cpuVsC: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const c = await overQueue(count, (url, role) =>
      spawn(cPeer, [role, url.slice('mq:'.length), String(count)], { stdio: ['ignore', 'pipe', 'pipe'] }),
    );
    const node = await overQueue(count, (url, role) => spawnTs(peer, [role, url, String(count)]));
    const ipc = await overIpc(count);
    vsC.push(node.rate / c.rate);
    vsIpc.push(node.rate / ipc);
    cpuVsC.push((c.sendCpu + c.receiveCpu) / (node.sendCpu + node.receiveCpu));
    console.log(
      `mq round ${round + 1}: C ${rate(c.rate)} (CPU/msg send+recv ${cpu(c)}), Node ${rate(node.rate)} (${cpu(node)}), process.send ${rate(ipc)}; Node/C ${vsC.at(-1)!.toFixed(2)}x, Node/IPC ${vsIpc.at(-1)!.toFixed(2)}x`,
    );
  }
  const summary = (values: number[]) => `median ${median(values).toFixed(2)}x best ${Math.max(...values).toFixed(2)}x`;
  console.log(
    `mq: ${count} samples of ${Sample.size} bytes per run, capacity ${CAPACITY}, ${rounds} rounds, ${cpus().length} CPUs, load average ${loadavg()[0]!.toFixed(1)}`,
  );
  console.log(`mq: Node/C throughput ${summary(vsC)} (target >= 0.6x); C/Node CPU per message ${summary(cpuVsC)}`);
  console.log(`mq: Node/process.send throughput ${summary(vsIpc)} (target >= 2x)`);
}
