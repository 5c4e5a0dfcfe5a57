/**
 * Recording channels into MCAP files and replaying them: real queues and rings, files read back with
 * @mcap/core's readers. Timing is asserted loosely and only where a user relies on it (replay keeps
 * the recorded spacing); the spacing tolerance is stated at its test.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  type Channel,
  f64,
  i64,
  open,
  RecordingError,
  record,
  replay,
  SchemaMismatchError,
  struct,
  u16,
  unlink,
} from '../../src/index.js';
import { Sample } from '../channels/sample.js';
import { Cleanup, uniqueName } from '../helpers.js';
import { json, readIndexed } from './mcap.js';

const dir = mkdtempSync(join(tmpdir(), 'typed-ipc-record-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cleanup = new Cleanup();
afterEach(() => cleanup.run());
let files = 0;
const file = (): string => join(dir, `run-${++files}.mcap`);

/** A new ring (shm:) with a receiving and a sending end; removed after the test. */
async function ring<T>(codec: typeof Sample | import('../../src/index.js').MessageCodec<T>, capacity = 1024) {
  const url = `shm:/${uniqueName('rec')}`;
  cleanup.add(() => unlink(url));
  const rx = (await open(url, codec as typeof Sample, { create: true, capacity })) as Channel<Sample>;
  cleanup.add(() => rx.close());
  const tx = (await open(url, codec as typeof Sample)) as Channel<Sample>;
  cleanup.add(() => tx.close());
  return { url, rx, tx };
}

async function queue(capacity = 10) {
  const url = `mq:/${uniqueName('rec')}`;
  cleanup.add(() => unlink(url));
  const rx = await open(url, Sample, { create: true, capacity, access: 'receive' });
  cleanup.add(() => rx.close());
  const tx = await open(url, Sample, { access: 'send' });
  cleanup.add(() => tx.close());
  return { url, rx, tx };
}

const sample = (i: number): Sample => ({ channel: i % 7, timestamp: 2n ** 64n - 1n - BigInt(i), value: i / 3 });

describe('record', () => {
  it('writes every message as JSON with a JSON Schema, the typed-ipc schema in the metadata, read back by @mcap/core', async () => {
    const { url, rx, tx } = await ring(Sample);
    const path = file();
    const recording = record(rx, { path, count: 300 });
    for (let i = 0; i < 300; i++) await tx.send(sample(i));
    const summary = await recording;
    expect(summary).toMatchObject({ messages: 300, stoppedBy: 'count', decodeErrors: 0 });
    expect(summary.channels).toEqual([{ topic: url, url, messages: 300 }]);

    const read = await readIndexed(path);
    expect(read.statistics?.messageCount).toBe(300n);
    expect(read.channels).toHaveLength(1);
    const [channel] = read.channels;
    expect(channel).toMatchObject({ topic: url, messageEncoding: 'json' });
    expect(channel!.metadata.get('typed-ipc.fingerprint')).toBe(Sample.fingerprint);
    expect(channel!.metadata.get('typed-ipc.size')).toBe('24');
    const [schema] = read.schemas;
    expect(schema).toMatchObject({ name: 'sample', encoding: 'jsonschema' });
    const jsonSchema = JSON.parse(Buffer.from(schema!.data).toString());
    expect(jsonSchema.properties.value.properties).toMatchObject({
      channel: { type: 'integer', minimum: 0, maximum: 65535 },
      timestamp: { type: 'string', pattern: '^[0-9]+$' },
      value: { type: 'number' },
    });
    expect(jsonSchema.required).toEqual(['value', 'priority']);
    const meta = read.metadata.find((m) => m.name === 'typed-ipc.schema');
    expect(meta?.metadata.get('topic')).toBe(url);
    expect(meta?.metadata.get('typed-ipc.cHeader')).toContain('struct sample');
    expect(meta?.metadata.get('typed-ipc.cHeader')).toContain(Sample.fingerprint);

    // Every message, in order, every digit of the 64-bit timestamps kept (2^64 - 1 is past 2^53).
    expect(read.messages.map((m) => json(m).value)).toEqual(
      Array.from({ length: 300 }, (_, i) => ({ ...sample(i), timestamp: String(sample(i).timestamp) })),
    );
    expect(json(read.messages[0]!).value.timestamp).toBe('18446744073709551615');
    // Log time is the receive time (wall clock, ns), never going backwards.
    const times = read.messages.map((m) => m.logTime);
    expect(times.every((t, i) => i === 0 || t >= times[i - 1]!)).toBe(true);
    const now = BigInt(Date.now()) * 1_000_000n;
    expect(now - times[0]!).toBeLessThan(120_000_000_000n);
    expect(now - times[0]!).toBeGreaterThanOrEqual(0n);
  });

  it('records several channels into one file, each its own MCAP channel, with priority and order', async () => {
    const a = await ring(Sample);
    const q = await queue();
    const path = file();
    const recording = record([a.rx, { channel: q.rx, topic: 'queue' }], { path, count: 40, compression: 'lz4' });
    for (let i = 0; i < 20; i++) {
      await a.tx.send(sample(i));
      await q.tx.send(sample(100 + i), { priority: i % 5 });
    }
    const summary = await recording;
    expect(summary.channels.map((c) => [c.topic, c.messages])).toEqual([
      [a.url, 20],
      ['queue', 20],
    ]);
    const read = await readIndexed(path);
    const topicOf = new Map(read.channels.map((c) => [c.id, c.topic]));
    const byTopic = (topic: string) => read.messages.filter((m) => topicOf.get(m.channelId) === topic).map(json);
    expect(byTopic(a.url).map((m) => m.value.value)).toEqual(Array.from({ length: 20 }, (_, i) => i / 3));
    // The queue's messages with the priority each was sent with.
    expect(byTopic('queue').map((m) => [m.value.value, m.priority])).toEqual(
      expect.arrayContaining(Array.from({ length: 20 }, (_, i) => [(100 + i) / 3, i % 5])),
    );
    expect(byTopic('queue')).toHaveLength(20);
  });

  it('never takes more than --count from a channel: the rest stays for the next reader', async () => {
    const { rx, tx } = await ring(Sample);
    for (let i = 0; i < 50; i++) await tx.send(sample(i));
    await record(rx, { path: file(), count: 20 });
    const rest = await rx.receiveMany(100);
    expect(rest.map((m) => m.value.value)).toEqual(Array.from({ length: 30 }, (_, i) => (20 + i) / 3));
  });

  it('stops on an AbortSignal or a duration with a whole file', async () => {
    const { rx, tx } = await ring(Sample);
    const controller = new AbortController();
    const path = file();
    const recording = record(rx, { path, signal: controller.signal, compression: 'none' });
    for (let i = 0; i < 10; i++) await tx.send(sample(i));
    while ((tx.info().pending ?? 0) > 0) await new Promise((r) => setTimeout(r, 5));
    controller.abort();
    expect(await recording).toMatchObject({ messages: 10, stoppedBy: 'signal' });
    expect((await readIndexed(path)).messages).toHaveLength(10);
    const timed = await record(rx, { path: file(), durationMs: 50 });
    expect(timed).toMatchObject({ messages: 0, stoppedBy: 'duration' });
  });

  it('refuses an existing file, bad options and a topic used twice, before touching anything', async () => {
    const { rx } = await ring(Sample);
    const path = file();
    await record(rx, { path, durationMs: 1 });
    await expect(record(rx, { path, durationMs: 1 })).rejects.toThrow(/exists: choose another name/);
    await expect(record(rx, { path, durationMs: 1 })).rejects.toBeInstanceOf(RecordingError);
    await expect(record(rx, { path: file(), count: 0 })).rejects.toThrow(/count: expected a positive integer, got 0/);
    await expect(record([rx, rx], { path: file(), count: 1 })).rejects.toThrow(/is given to two channels/);
    await expect(record([], { path: file() })).rejects.toThrow(/at least one channel/);
    const overwritten = await record(rx, { path, durationMs: 1, overwrite: true });
    expect(overwritten.stoppedBy).toBe('duration');
  });
});

describe('replay', () => {
  it('reproduces the messages, priorities and order of a recording (rate max)', async () => {
    const source = await queue();
    const path = file();
    const recording = record(source.rx, { path, count: 60 });
    for (let i = 0; i < 60; i++) await source.tx.send(sample(i), { priority: (i * 7) % 10 });
    await recording;
    const recorded = (await readIndexed(path)).messages.map(json);

    // Into a queue: the receiver drains it as replay fills it; priorities come back with each value.
    const target = await queue();
    const received: { value: number; priority: number }[] = [];
    const draining = (async () => {
      while (received.length < 60) {
        const m = await target.rx.receive({ timeoutMs: 60_000 });
        received.push({ value: m.value.value, priority: m.priority });
      }
    })();
    const summary = await replay(path, target.tx, { rate: 'max' });
    await draining;
    expect(summary).toMatchObject({ messages: 60, passes: 1, complete: true, topic: source.url });
    const expected = recorded.map((m) => ({ value: m.value.value as number, priority: m.priority }));
    expect([...received].sort((x, y) => x.value - y.value)).toEqual([...expected].sort((x, y) => x.value - y.value));

    // Into a ring (first in, first out): the exact recorded order, values with every digit.
    const fifo = await ring(Sample);
    // A ring has no priorities: replay stops at the first message with one (those before it were sent).
    await expect(replay(path, fifo.tx, { rate: 'max' })).rejects.toThrow(/carry no priorities/);
    let sentBefore = 0;
    while (fifo.rx.tryReceive() !== undefined) sentBefore += 1;
    expect(sentBefore).toBe(recorded.findIndex((m) => m.priority !== 0));
    await replay(path, fifo.tx, { rate: 'max', dropPriorities: true });
    const back = await fifo.rx.receiveMany(100);
    expect(back.map((m) => m.value)).toEqual(
      recorded.map((m) => ({ ...m.value, timestamp: BigInt(m.value.timestamp as string) })),
    );
  });

  // Tolerance: replay keeps each message's offset from the first one (the schedule, so one late timer
  // does not delay everything after it). Measured at the receiver, an offset may come out up to 10 ms
  // short (1 ms timer steps, a message due within 1 ms is sent at once, and the receiver's own wake-up
  // jitter on the first message) and up to 300 ms long (a loaded machine delays timers). A replay that
  // ignored the spacing would be 60-240 ms short.
  it('keeps the recorded spacing at rate 1 and halves it at rate 2', async () => {
    const source = await ring(Sample);
    const path = file();
    const recording = record(source.rx, { path, count: 5, batch: 1 });
    for (let i = 0; i < 5; i++) {
      await source.tx.send(sample(i));
      await new Promise((r) => setTimeout(r, 60));
    }
    await recording;
    const logTimes = (await readIndexed(path)).messages.map((m) => Number(m.logTime) / 1e6);
    const recordedOffsets = logTimes.map((t) => t - logTimes[0]!);
    // The sender spaced them 60 ms apart; the recorder's wake-ups under load blur single gaps, not the span.
    expect(recordedOffsets[4]!).toBeGreaterThanOrEqual(150);
    for (const rate of [1, 2]) {
      const target = await ring(Sample);
      const arrivals: number[] = [];
      const receiving = (async () => {
        for (let i = 0; i < 5; i++) {
          await target.rx.receive({ timeoutMs: 60_000 });
          arrivals.push(performance.now());
        }
      })();
      const start = performance.now();
      await replay(path, target.tx, { rate });
      await receiving;
      for (const [i, arrival] of arrivals.entries()) {
        // Never early: message i cannot arrive before the replay started plus its offset. (Measured from
        // the first arrival instead, a late wake-up of the receiver for message 0 made the others look
        // early under load.) Never much late: measured from the first arrival, as a wake-up delay of the
        // receiver is not the replay's.
        expect(arrival - start).toBeGreaterThanOrEqual(recordedOffsets[i]! / rate - 10);
        expect(arrival - arrivals[0]!).toBeLessThanOrEqual(recordedOffsets[i]! / rate + 300);
      }
    }
  });

  it('loops until count', async () => {
    const source = await ring(Sample);
    const path = file();
    const recording = record(source.rx, { path, count: 3 });
    for (let i = 0; i < 3; i++) await source.tx.send(sample(i));
    await recording;
    const target = await ring(Sample);
    const summary = await replay(path, target.tx, { rate: 'max', loop: true, count: 8 });
    expect(summary).toMatchObject({ messages: 8, passes: 3 });
    expect((await target.rx.receiveMany(100)).map((m) => m.value.value)).toEqual(
      [0, 1, 2, 0, 1, 2, 0, 1].map((i) => i / 3),
    );
  });

  it('refuses a target of another schema before sending anything, naming both fingerprints', async () => {
    const source = await ring(Sample);
    const path = file();
    const recording = record(source.rx, { path, count: 2 });
    await source.tx.send(sample(1));
    await source.tx.send(sample(2));
    await recording;
    const Other = struct('other', { channel: u16, timestamp: i64, value: f64 });
    const target = await ring(Other);
    const error = await replay(path, target.tx as unknown as Channel<Sample>).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SchemaMismatchError);
    expect((error as SchemaMismatchError).message).toContain(
      `recorded with schema sample (fingerprint ${Sample.fingerprint}, 24 B)`,
    );
    expect((error as SchemaMismatchError).message).toContain(`uses other (fingerprint ${Other.fingerprint}, 24 B)`);
    expect(target.rx.tryReceive()).toBeUndefined();
  });

  it('asks which channel to replay when the file holds several, and names the topics it holds', async () => {
    const a = await ring(Sample);
    const b = await ring(Sample);
    const path = file();
    const recording = record([a.rx, b.rx], { path, count: 2 });
    await a.tx.send(sample(1));
    await b.tx.send(sample(2));
    await recording;
    const target = await ring(Sample);
    await expect(replay(path, target.tx)).rejects.toThrow(/several channels .*say which to replay/);
    await expect(replay(path, target.tx, { topic: 'nope' })).rejects.toThrow(/holds no channel "nope"/);
    expect((await replay(path, target.tx, { topic: b.url, rate: 'max' })).messages).toBe(1);
    expect((await target.rx.receive()).value.value).toBe(2 / 3);
  });

  it('reads a file that is not MCAP as a clear RecordingError', async () => {
    const { writeFileSync } = await import('node:fs');
    const path = file();
    writeFileSync(path, 'not an mcap file at all, just text');
    const target = await ring(Sample);
    const error = await replay(path, target.tx).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RecordingError);
    expect((error as Error).message).toMatch(/is not a readable MCAP recording/);
  });
});
