/**
 * One-way throughput of 24-byte samples between two processes over a POSIX message queue: Node to
 * Node, against a C mq_send/mq_receive loop and against Node's child_process IPC (`process.send`),
 * all measured in the same run. Each figure is timed by the receiver, from its first message to its
 * last, so process start-up is not counted.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { open, unlink } from '../src/index.js';
import { Sample } from '../test/channels/sample.js';
import { compileC, finished, repoRoot, spawnTs, uniqueName } from '../test/helpers.js';

const peer = join(repoRoot, 'bench', 'mq-peer.ts');
const CAPACITY = 10; // /proc/sys/fs/mqueue/msg_max for unprivileged processes

async function receiverTime(receiver: ChildProcess, sender: ChildProcess): Promise<number> {
  const [received, sent] = await Promise.all([finished(receiver, 120_000), finished(sender, 120_000)]);
  if (received.code !== 0 || sent.code !== 0) {
    throw new Error(`bench peers failed: ${received.stderr}${sent.stderr}`);
  }
  return Number(received.stdout.trim()) / 1e9;
}

/** Messages per second from a sender to a receiver over a fresh queue. */
async function overQueue(count: number, start: (url: string, role: 'send' | 'recv') => ChildProcess): Promise<number> {
  const url = `mq:/${uniqueName('bench')}`;
  const queue = await open(url, Sample, { create: true, exclusive: true, capacity: CAPACITY });
  try {
    const receiver = start(url, 'recv');
    const sender = start(url, 'send');
    return count / (await receiverTime(receiver, sender));
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

/** Runs the mq benchmark and prints the rates and the two ratios. */
export async function run(): Promise<void> {
  const count = Number(process.env.MQ_BENCH_COUNT ?? 200_000);
  const rounds = Number(process.env.MQ_BENCH_ROUNDS ?? 3);
  const cPeer = compileC('mq_throughput', [join(repoRoot, 'bench', 'c', 'mq_throughput.c')]);
  const results = {
    c: [] as number[],
    node: [] as number[],
    ipc: [] as number[],
    vsC: [] as number[],
    vsIpc: [] as number[],
  };
  for (let round = 0; round < rounds; round++) {
    const c = await overQueue(count, (url, role) =>
      spawn(cPeer, [role, url.slice('mq:'.length), String(count)], { stdio: ['ignore', 'pipe', 'pipe'] }),
    );
    const node = await overQueue(count, (url, role) => spawnTs(peer, [role, url, String(count)]));
    const ipc = await overIpc(count);
    results.c.push(c);
    results.node.push(node);
    results.ipc.push(ipc);
    results.vsC.push(node / c);
    results.vsIpc.push(node / ipc);
    console.log(
      `mq round ${round + 1}: C ${rate(c)}, Node ${rate(node)}, process.send ${rate(ipc)}; Node/C ${(node / c).toFixed(2)}x, Node/IPC ${(node / ipc).toFixed(2)}x`,
    );
  }
  console.log(
    `mq (${count} samples of ${Sample.size} bytes, capacity ${CAPACITY}, ${rounds} rounds): Node/C median ${median(results.vsC).toFixed(2)}x best ${Math.max(...results.vsC).toFixed(2)}x (target >= 0.6x); Node/process.send median ${median(results.vsIpc).toFixed(2)}x best ${Math.max(...results.vsIpc).toFixed(2)}x (target >= 2x)`,
  );
}
