/**
 * `npm run demo`: measurement samples from a producer process to this (consumer) process over each
 * transport in turn: POSIX message queue, shared-memory ring, UNIX datagram, seqpacket and stream
 * sockets, a FIFO and TCP; then from a C producer compiled on the fly (when `cc` is installed) over
 * a queue and a ring. Shows a few decoded samples and the throughput of each.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Sample } from '../schemas/sample.js';
import { bind, type Channel, cHeader, listen, type Message, open, unlink } from '../src/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const COUNT = Number(process.env.DEMO_COUNT ?? 20_000);
const SHOWN = 3;
const dir = mkdtempSync(join(tmpdir(), 'typed-ipc-demo-'));
const tag = `typed-ipc-demo-${process.pid}`;
/** Label and samples/s of every transport that delivered. */
const summary: [string, string][] = [];
const rate = (perSecond: number): string => Math.round(perSecond).toLocaleString('en-US');

/** One transport of the demo: how the consumer opens its end, and which URL the producer uses. */
interface Route {
  readonly label: string;
  /** Where the producer goes (a TCP listener's port is known once it listens: set then). */
  url: string;
  /** Resolves once the consumer's end can take a producer (a listener listens). */
  listening?: Promise<void>;
  /** Opens the consumer's end; resolves with a channel that receives the samples. */
  consume(): Promise<Channel<Sample>>;
  /** Removes what the consumer created. */
  cleanup?(): Promise<void>;
  /** Whether the transport carries priorities (only queues do): the others' 0 would say nothing. */
  readonly priorities?: boolean;
}

function named(label: string, url: string, options: { capacity?: number } = {}): Route {
  return {
    label,
    url,
    priorities: url.startsWith('mq:'),
    consume: () => open(url, Sample, { create: true, access: 'receive', ...options }),
    cleanup: () => unlink(url),
  };
}

function listening(label: string, url: string): Route {
  let listened = (): void => undefined;
  const route: Route = {
    label,
    url,
    listening: new Promise<void>((resolve) => {
      listened = resolve;
    }),
    async consume() {
      const listener = await listen(url, Sample);
      // Port 0: the kernel picks a free port, so no other program's port is ever taken.
      route.url = listener.url;
      listened();
      // One producer connects; its connection is the consumer's channel.
      const connection = await listener.accept();
      await listener.close();
      return connection;
    },
  };
  return route;
}

const routes: Route[] = [
  named('POSIX message queue', `mq:/${tag}`, { capacity: 10 }),
  named('shared-memory ring', `shm:/${tag}`, { capacity: 1024 }),
  {
    label: 'UNIX datagram socket',
    url: `unix+dgram:${join(dir, 'dgram.sock')}`,
    consume: () => bind(`unix+dgram:${join(dir, 'dgram.sock')}`, Sample),
  },
  listening('UNIX seqpacket socket', `unix+seqpacket:${join(dir, 'seqpacket.sock')}`),
  listening('UNIX stream socket', `unix+stream:${join(dir, 'stream.sock')}`),
  named('FIFO', `fifo:${join(dir, 'fifo')}`),
  listening('TCP (loopback)', 'tcp://127.0.0.1:0'),
];

/** Receives `count` samples, checking that none is lost or out of order; returns the first few and the rate. */
async function consume(
  channel: Channel<Sample>,
  count: number,
): Promise<{ shown: Message<Sample>[]; perSecond: number }> {
  const shown: Message<Sample>[] = [];
  let received = 0;
  let start = 0;
  while (received < count) {
    for (const message of await channel.receiveMany(256, { timeoutMs: 30_000 })) {
      if (received === 0) start = performance.now();
      if (message.value.value !== received) {
        throw new Error(`sample ${received} carries value ${message.value.value}: lost or reordered`);
      }
      if (shown.length < SHOWN) shown.push(message);
      received += 1;
    }
  }
  const seconds = (performance.now() - start) / 1000;
  return { shown, perSecond: (count - 1) / seconds };
}

function exited(child: ChildProcess): Promise<void> {
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`producer exited with ${code}: ${stderr.trim().split('\n')[0]}`)),
    );
  });
}

async function run(route: Route, producer: (url: string) => ChildProcess): Promise<void> {
  const consumer = route.consume();
  // A FIFO's reader waits for a writer, so the producer starts as soon as the FIFO exists.
  if (route.url.startsWith('fifo:')) {
    const path = route.url.slice('fifo:'.length);
    while (!existsSync(path)) await new Promise((resolve) => setTimeout(resolve, 5));
  } else if (route.url.startsWith('mq:') || route.url.startsWith('shm:') || route.url.startsWith('unix+dgram:')) {
    // Queues, rings and datagram sockets exist once opened or bound; wait for that before the producer starts.
    await consumer;
  } else if (route.listening !== undefined) {
    await Promise.race([route.listening, consumer]);
  }
  const child = producer(route.url);
  const done = exited(child);
  const channel = await consumer;
  try {
    const { shown, perSecond } = await consume(channel, COUNT);
    await done;
    console.log(`\n${route.label}  ${route.url}`);
    for (const { value, priority } of shown) {
      const withPriority = route.priorities === true ? `  priority ${priority}` : '';
      console.log(`  channel ${value.channel}  timestamp ${value.timestamp} ns  value ${value.value}${withPriority}`);
    }
    console.log(`  ${COUNT} samples of ${Sample.size} bytes, none lost: ${rate(perSecond)} samples/s`);
    summary.push([route.label, rate(perSecond)]);
  } finally {
    await channel.close();
    await route.cleanup?.();
  }
}

const nodeProducer = (url: string): ChildProcess =>
  spawn(process.execPath, ['--import', 'tsx', join(root, 'examples', 'demo-producer.ts'), url, String(COUNT)], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'pipe'],
  });

/** Compiles the C producer against the header generated from the schema; undefined without `cc`. */
function compileCProducer(): string | undefined {
  try {
    execFileSync('cc', ['--version'], { stdio: 'ignore' });
  } catch {
    return undefined;
  }
  const build = join(root, 'examples', 'build');
  mkdirSync(build, { recursive: true });
  writeFileSync(join(build, 'sample.h'), cHeader(Sample));
  const binary = join(build, 'producer');
  const flags = ['-std=c11', '-O2', '-Wall', '-Werror', '-D_GNU_SOURCE', `-I${build}`, `-I${join(root, 'include')}`];
  execFileSync('cc', [...flags, '-o', binary, join(root, 'examples', 'c', 'producer.c'), '-lrt', '-lpthread'], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  return binary;
}

// First the schema itself: the sample's bytes, layout table and C header.
await import('./schema-demo.js');
console.log(`\n# Over every transport\n`);
console.log(`${COUNT} measurement samples (struct sample, ${Sample.size} bytes) per transport,`);
console.log('from a producer process to this consumer process.');
let failed = 0;
try {
  for (const route of routes) {
    try {
      await run(route, nodeProducer);
    } catch (error) {
      failed += 1;
      console.log(`\n${route.label}: FAILED: ${(error as Error).message.split('\n')[0]}`);
    }
  }
  const producer = compileCProducer();
  if (producer === undefined) {
    console.log('\nC producer: skipped (no C compiler `cc` on this machine).');
  } else {
    for (const route of routes.filter((r) => r.url.startsWith('mq:') || r.url.startsWith('shm:'))) {
      const [kind, name] = route.url.split(':') as [string, string];
      try {
        await run({ ...route, label: `C producer, ${route.label}` }, () =>
          spawn(producer, [kind, name, String(COUNT)], { stdio: ['ignore', 'inherit', 'pipe'] }),
        );
      } catch (error) {
        failed += 1;
        console.log(`\nC producer, ${route.label}: FAILED: ${(error as Error).message.split('\n')[0]}`);
      }
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const width = Math.max(...summary.map(([label]) => label.length));
console.log('\nThroughput (samples/s; one run on this machine as it is loaded now, see npm run bench for figures):');
for (const [label, perSecond] of summary) console.log(`  ${label.padEnd(width)}  ${perSecond.padStart(11)}`);
console.log(failed === 0 ? '\nAll transports delivered every sample.' : `\n${failed} transport(s) failed.`);
process.exitCode = failed === 0 ? 0 : 1;
