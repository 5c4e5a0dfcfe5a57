/**
 * mq: channels against real peers: C programs using mq_send/mq_receive on `struct sample` (both
 * orders of who creates the queue), and a Node child process sending 100 000 samples.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Channel, open, unlink } from '../../src/channels/index.js';
import { cHeader } from '../../src/codecs/index.js';
import { Cleanup, compileC, finished, repoRoot, spawnTs, uniqueName } from '../helpers.js';
import { Sample } from './sample.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const cDir = join(repoRoot, 'test', 'c');
const header = join(cDir, 'mq_sample.h');
let producer = '';
let consumer = '';
beforeAll(() => {
  // The C peers get `struct sample` from the header cHeader() generates for the Node schema.
  const generated = join(cDir, 'build', 'mq-interop', 'sample.h');
  mkdirSync(dirname(generated), { recursive: true });
  writeFileSync(generated, cHeader([Sample]));
  const flags = [`-I${cDir}`, `-I${dirname(generated)}`];
  producer = compileC('mq_producer', [join(cDir, 'mq_producer.c')], flags, [header, generated]);
  consumer = compileC('mq_consumer', [join(cDir, 'mq_consumer.c')], flags, [header, generated]);
});

/** Sample i of an interop run and its priority: the same formulas as test/c/mq_sample.h. */
const sampleOf = (i: number): Sample => ({
  channel: i % 7,
  timestamp: BigInt(i) * 1000003n + 17n,
  value: i * 0.25 - 3,
});
const priorityOf = (i: number): number => Math.floor(i / 3) % 4;

function queueUrl(tag: string): string {
  const url = `mq:/${uniqueName(tag)}`;
  cleanup.add(() => unlink(url));
  return url;
}

async function openChannel(url: string, options: Parameters<typeof open>[2] = {}): Promise<Channel<Sample>> {
  const channel = await open(url, Sample, options);
  cleanup.add(() => channel.close());
  return channel;
}

function startC(binary: string, args: readonly string[]): { child: ChildProcess; ready: Promise<void> } {
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  cleanup.add(() => child.kill('SIGKILL'));
  const ready = new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('ready\n')) resolve();
    });
    child.on('close', (code) => reject(new Error(`${binary} ended (${code}) before it was ready`)));
  });
  return { child, ready };
}

/** Receives `count` samples of an interop run and checks every field, duplicates and FIFO per priority. */
async function receiveRun(channel: Channel<Sample>, count: number): Promise<void> {
  const seen = new Uint8Array(count);
  const last = [-1, -1, -1, -1];
  for (let n = 0; n < count; n++) {
    const { value, priority } = await channel.receive({ timeoutMs: 30_000 });
    const i = Number((value.timestamp - 17n) / 1000003n);
    expect(i).toBeLessThan(count);
    expect({ value, priority }).toEqual({ value: sampleOf(i), priority: priorityOf(i) });
    expect(seen[i], `sample ${i} twice`).toBe(0);
    expect(i, `sample ${i} out of order within priority ${priority}`).toBeGreaterThan(last[priority]!);
    seen[i] = 1;
    last[priority] = i;
  }
  expect(channel.tryReceive()).toBeUndefined();
}

describe('mq: C peers', () => {
  it('receives what a C producer sent to a queue Node created, highest priority first', async () => {
    const url = queueUrl('c-prod');
    const channel = await openChannel(url, { create: true, capacity: 10, access: 'receive' });
    const { code, stderr } = await finished(spawn(producer, ['open', url.slice(3), '10', '10']));
    expect(code, stderr).toBe(0);
    const received: [number, number][] = [];
    for (let i = 0; i < 10; i++) {
      const { value, priority } = await channel.receive();
      const n = Number((value.timestamp - 17n) / 1000003n);
      expect(value).toEqual(sampleOf(n));
      received.push([priority, n]);
    }
    const expected = Array.from({ length: 10 }, (_, i): [number, number] => [priorityOf(i), i]).sort(
      (a, b) => b[0] - a[0] || a[1] - b[1],
    );
    expect(received).toEqual(expected);
  });

  it('streams from a C producer that created the queue, checking every field', async () => {
    const url = `mq:/${uniqueName('c-prod-create')}`;
    cleanup.add(() => unlink(url));
    const { child, ready } = startC(producer, ['create', url.slice(3), '5000', '10']);
    await ready;
    const channel = await openChannel(url, { access: 'receive' });
    expect(channel.info()).toMatchObject({ capacity: 10, messageSize: 24 });
    await receiveRun(channel, 5000);
    expect((await finished(child)).code).toBe(0);
  });

  it('sends to a C consumer on a queue Node created; the consumer checks field by field', async () => {
    const url = queueUrl('c-cons');
    const channel = await openChannel(url, { create: true, capacity: 10, access: 'send' });
    const result = finished(spawn(consumer, ['open', url.slice(3), '5000', '10']));
    for (let i = 0; i < 5000; i++) await channel.send(sampleOf(i), { priority: priorityOf(i) });
    const { code, stdout, stderr } = await result;
    expect(code, stdout + stderr).toBe(0);
    expect(stdout).toBe('ok 5000\n');
  });

  it('sends to a C consumer that created the queue', async () => {
    const url = `mq:/${uniqueName('c-cons-create')}`;
    cleanup.add(() => unlink(url));
    const { child, ready } = startC(consumer, ['create', url.slice(3), '5000', '10']);
    await ready;
    const result = finished(child);
    const channel = await openChannel(url, { access: 'send' });
    for (let i = 0; i < 5000; i++) await channel.send(sampleOf(i), { priority: priorityOf(i) });
    const { code, stdout } = await result;
    expect(code, stdout).toBe(0);
    expect(stdout).toMatch(/(^|\n)ok 5000\n$/);
  });
});

describe('mq: Node peers', () => {
  it('receives 100 000 samples from a Node child process: none lost, none duplicated, values intact', async () => {
    const url = queueUrl('cross');
    const channel = await openChannel(url, { create: true, capacity: 10, access: 'receive' });
    const count = 100_000;
    const child = spawnTs(join(repoRoot, 'test', 'channels', 'peers', 'mq-sender.ts'), [url, String(count)]);
    cleanup.add(() => child.kill('SIGKILL'));
    const result = finished(child, 120_000);
    let i = 0;
    let wrong = 0;
    for await (const { value, priority } of channel) {
      // One sender at one priority: FIFO, so message n must be sample n.
      if (value.channel !== i % 65536 || value.timestamp !== BigInt(i) * 3n + 1n || value.value !== i / 8) wrong++;
      if (priority !== 0) wrong++;
      if (++i === count) break;
    }
    expect(wrong).toBe(0);
    const { code, stderr } = await result;
    expect(code, stderr).toBe(0);
    expect(channel.tryReceive()).toBeUndefined();
  });
});
