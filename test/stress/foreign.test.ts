/**
 * Bad input, channel side: a foreign writer (a C program using raw system calls) sends garbage and
 * wrongly sized messages to every channel. The consumer reports each one as a DecodeError, delivers
 * nothing of it, and then receives the samples of a well-behaved producer as if nothing happened.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type Channel, DecodeError, listen } from '../../src/index.js';
import { Cleanup, compileC, finished, repoRoot } from '../helpers.js';
import { record } from './figures.js';
import { makeSample, Sample, SequenceChecker } from './sample.js';
import { sizes } from './sizes.js';
import { allTransports, type Consumer, isAvailable, type TransportEntry } from './transports.js';

const table = await Promise.all(
  allTransports.map(async (entry) => ({ entry, available: await isAvailable(entry, Sample) })),
);
const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const foreign = compileC('foreign', [join(repoRoot, 'test', 'stress', 'c', 'foreign.c')]);

/** The foreign writer's kind and target for a URL. */
function target(entry: TransportEntry, url: string): [string, string] {
  const rest = url.slice(url.indexOf(':') + 1);
  if (entry.name === 'udp' || entry.name === 'tcp') return [entry.name, rest.replace(/^\/\//, '')];
  if (entry.name === 'sysv') return ['sysv', rest.slice('key='.length)];
  return [entry.name.replace('+', '-'), rest];
}

interface Tally {
  decodeErrors: number;
  other: unknown[];
  readonly checker: SequenceChecker;
  /** Sequence numbers of the good samples, in the order they arrived. */
  readonly order: number[];
}

/** Receives until `valid` good samples arrived (or 15 s pass without anything), counting errors. */
async function tally(
  consumer: Consumer<Sample>,
  valid: number,
  tallied: Tally,
  stop: { done: boolean },
): Promise<void> {
  let quiet = 0;
  while ((tallied.checker.delivered.get(0) ?? 0) < valid && quiet < 15_000 && !stop.done) {
    try {
      const { value } = await consumer.receive({ timeoutMs: 250 });
      tallied.checker.add(value);
      tallied.order.push(value.seq);
      quiet = 0;
    } catch (error) {
      if (error instanceof DecodeError) {
        tallied.decodeErrors += 1;
        quiet = 0;
      } else if (error instanceof Error && /timed out|within \d+ ms/.test(error.message)) quiet += 250;
      else tallied.other.push(error);
    }
  }
}

const streams = new Set(['fifo', 'unix+stream', 'tcp']);

describe.each(table)('foreign writer: $entry.name', ({ entry, available }) => {
  const count = sizes.garbage;
  it.skipIf(!available)(
    `${count} garbage messages: each a DecodeError, then good samples arrive in order`,
    async () => {
      const url = await entry.url('foreign');
      cleanup.add(() => entry.remove(url));
      const consumer = await entry.consumer(url, Sample, { capacity: 10 });
      cleanup.add(() => consumer.close());
      const tallied: Tally = { decodeErrors: 0, other: [], checker: new SequenceChecker(), order: [] };
      const stop = { done: false };
      const valid = 50;
      const receiving = tally(consumer, valid, tallied, stop);
      const [kind, where] = target(entry, url);
      const child = spawn(foreign, [kind, where, String(count), String(Sample.size), String(count)], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      cleanup.add(() => child.kill('SIGKILL'));
      const writer = await finished(child, 120_000);
      expect(writer.stderr).toBe('');
      expect(writer.code).toBe(0);
      const [, sent, refused] = /sent (\d+) refused (\d+)/.exec(writer.stdout)?.map(Number) ?? [0, -1, -1];
      const producer = await entry.producer(url, Sample);
      cleanup.add(() => producer.close());
      for (let seq = 0; seq < valid; seq++) await producer.send(makeSample(0, seq));
      await receiving;
      stop.done = true;
      record({
        section: 'input',
        transport: entry.name,
        inputs: sent ?? 0,
        note:
          `${sent} garbage messages sent (${refused} more refused by the kernel), ${tallied.decodeErrors} DecodeErrors, ` +
          `${tallied.checker.delivered.get(0) ?? 0}/${valid} good samples after them` +
          (entry.name === 'shm'
            ? `, ${/open-wrong-size (\S+)/.exec(writer.stdout)?.[1]} for a wrong message size`
            : ''),
      });
      expect(tallied.other).toEqual([]);
      // UDP may drop datagrams (see load.test.ts); every other transport reports every one.
      if (entry.reliable) expect(tallied.decodeErrors).toBe(sent);
      else expect(tallied.decodeErrors).toBeGreaterThan(0);
      expect(tallied.checker.torn).toBe(0);
      // In order: exactly 0, 1, ..., valid - 1, nothing else.
      expect(tallied.order).toEqual(Array.from({ length: valid }, (_, seq) => seq));
      if (entry.name === 'shm') expect(writer.stdout).not.toContain('open-wrong-size opened');
    },
  );

  if (!streams.has(entry.name) || entry.name === 'fifo') return;
  it.skipIf(!available)('a connection that ends in half a record reports it and delivers nothing of it', async () => {
    const url = await entry.url('partial');
    cleanup.add(() => entry.remove(url));
    const consumer = await entry.consumer(url, Sample);
    cleanup.add(() => consumer.close());
    const [kind, where] = target(entry, url);
    const writer = await finished(spawn(foreign, [kind, where, '3', String(Sample.size), '1', 'partial']), 30_000);
    expect(writer.code).toBe(0);
    const tallied: Tally = { decodeErrors: 0, other: [], checker: new SequenceChecker(), order: [] };
    const producer = await entry.producer(url, Sample);
    cleanup.add(() => producer.close());
    for (let seq = 0; seq < 5; seq++) await producer.send(makeSample(0, seq));
    await tally(consumer, 5, tallied, { done: false });
    expect(tallied.other).toEqual([]);
    expect(tallied.order).toEqual([0, 1, 2, 3, 4]);
    // Three garbage records, and the half record at the end of the stream: reported, not dropped silently.
    expect(tallied.decodeErrors).toBe(4);
  });
});

/**
 * Issue 12, item 4: a consumer loop that must outlive a foreign writer's garbage. One
 * `iterate({ decodeErrors: 'yield' })` loop takes every garbage message as a DecodeError item and
 * carries on (for a listener: until the foreign connection ends; otherwise until the good samples of
 * a well-behaved producer arrived), without the loop ever being re-entered.
 */
const loopable = new Set(['mq', 'shm', 'unix+dgram', 'unix+seqpacket', 'unix+stream', 'tcp']);

describe.each(table.filter(({ entry }) => loopable.has(entry.name)))(
  'foreign writer, one loop: $entry.name',
  ({ entry, available }) => {
    it.skipIf(!available)(
      "iterate({ decodeErrors: 'yield' }) consumes past every garbage message",
      async () => {
        const count = sizes.garbage;
        const url = await entry.url('yield');
        cleanup.add(() => entry.remove(url));
        let channel: Channel<Sample> | undefined;
        let accepting: Promise<Channel<Sample>> | undefined;
        if (entry.style === 'listen') {
          const listener = await listen(url, Sample);
          cleanup.add(() => listener.close());
          accepting = listener.accept({ timeoutMs: 30_000 });
        } else {
          channel = (await entry.consumer(url, Sample, { capacity: 10 })) as Channel<Sample>;
          cleanup.add(() => channel?.close());
        }
        const [kind, where] = target(entry, url);
        const child = spawn(foreign, [kind, where, String(count), String(Sample.size), String(count + 7)], {
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        cleanup.add(() => child.kill('SIGKILL'));
        let errors = 0;
        const good: number[] = [];
        const valid = entry.style === 'listen' ? 0 : 20;
        const loop = (async () => {
          channel ??= await accepting;
          cleanup.add(() => channel?.close());
          for await (const item of channel!.iterate({ decodeErrors: 'yield' })) {
            if (item instanceof DecodeError) errors += 1;
            else good.push(item.value.seq);
            if (valid > 0 && good.length === valid) break;
          }
        })();
        const writer = await finished(child, 120_000);
        expect(writer.code).toBe(0);
        const sent = Number(/sent (\d+)/.exec(writer.stdout)?.[1] ?? -1);
        if (valid > 0) {
          const producer = await entry.producer(url, Sample);
          cleanup.add(() => producer.close());
          for (let seq = 0; seq < valid; seq++) await producer.send(makeSample(0, seq));
        }
        await loop;
        record({
          section: 'input',
          transport: entry.name,
          inputs: sent,
          note: `one yield loop: ${errors}/${sent} garbage messages as DecodeError items, then ${good.length} good samples`,
        });
        expect(errors).toBe(sent);
        expect(good).toEqual(Array.from({ length: valid }, (_, i) => i));
      },
      180_000,
    );
  },
);
