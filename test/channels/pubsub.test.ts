/**
 * shm+pubsub within one process (real segments, doorbells and waits): fan-out to several subscribers,
 * both policies, history, a full subscriber table, options and crafted headers. Processes, C peers and
 * SIGKILL rounds are in pubsub-interop.test.ts and pubsub-kill.test.ts.
 */
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { type Channel, open, type PubSubMessage, type PubSubOptions, unlink } from '../../src/channels/index.js';
import { pubsubLayout as L } from '../../src/channels/pubsub/index.js';
import { bellDirectory } from '../../src/channels/ring/doorbell.js';
import { struct, u16, u32, u64 } from '../../src/codecs/index.js';
import { SystemError, UnsupportedError, ValidationError } from '../../src/errors.js';
import { Cleanup, uniqueName } from '../helpers.js';

const Tick = struct('tick', { source: u16, seq: u32, stamp: u64 });
type Tick = ReturnType<typeof Tick.decode>;
const tick = (source: number, seq: number): Tick => ({ source, seq, stamp: BigInt(seq) * 3n + BigInt(source) });

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

type PsUrl = `shm+pubsub:${string}`;

function psUrl(): PsUrl {
  const url: PsUrl = `shm+pubsub:/${uniqueName('ps')}`;
  cleanup.add(() => unlink(url));
  return url;
}

async function openPs(url: PsUrl, options: PubSubOptions): Promise<Channel<Tick>> {
  const channel = await open(url, Tick, options);
  cleanup.add(() => channel.destroy());
  return channel;
}

/** Receives `n` messages, checking each is whole and in order per source; returns them. */
async function take(channel: Channel<Tick>, n: number): Promise<Tick[]> {
  const out: Tick[] = [];
  const last = new Map<number, number>();
  while (out.length < n) {
    for (const { value } of await channel.receiveMany(n - out.length, { timeoutMs: 20_000 })) {
      expect(value.stamp).toBe(BigInt(value.seq) * 3n + BigInt(value.source));
      const previous = last.get(value.source) ?? -1;
      expect(value.seq).toBeGreaterThan(previous);
      last.set(value.source, value.seq);
      out.push(value);
    }
  }
  return out;
}

describe('shm+pubsub: fan-out', () => {
  it('every subscriber sees every message of two publishers, in order per publisher (block)', async () => {
    const url = psUrl();
    const subs = [];
    subs.push(await openPs(url, { create: true, capacity: 16 }));
    for (let i = 0; i < 2; i++) subs.push(await openPs(url, {}));
    const pubs = [await openPs(url, { access: 'send' }), await openPs(url, { access: 'send' })];
    const n = 3000;
    const sending = pubs.map(async (pub, p) => {
      for (let i = 0; i < n; i += 10) {
        if (i % 20 === 0) await pub.sendMany(Array.from({ length: 10 }, (_, j) => tick(p, i + j)));
        else for (let j = 0; j < 10; j++) await pub.send(tick(p, i + j));
      }
    });
    const received = await Promise.all(subs.map((sub) => take(sub, 2 * n)));
    await Promise.all(sending);
    for (const messages of received) {
      for (const p of [0, 1]) {
        expect(messages.filter((m) => m.source === p).map((m) => m.seq)).toEqual(
          Array.from({ length: n }, (_, i) => i),
        );
      }
    }
    for (const sub of subs) {
      expect(sub.tryReceive()).toBeUndefined();
      expect(sub.info()).toMatchObject({ missed: 0, delivered: 2 * n, role: 'subscriber', policy: 'block' });
    }
    expect(pubs[0]!.info()).toMatchObject({ role: 'publisher', subscribers: 3, tail: 2 * n });
  });

  it('block: a publisher waits for the slowest subscriber, and goes on when it reads or closes', async () => {
    const url = psUrl();
    const fast = await openPs(url, { create: true, capacity: 4 });
    const slow = await openPs(url, {});
    const pub = await openPs(url, { access: 'send' });
    for (let i = 0; i < 4; i++) expect(pub.trySend(tick(0, i))).toBe(true);
    expect(pub.trySend(tick(0, 4))).toBe(false);
    await take(fast, 4);
    // The fast one read everything; the slow one holds the publisher back.
    expect(pub.trySend(tick(0, 4))).toBe(false);
    const waiting = pub.send(tick(0, 4), { timeoutMs: 20_000 });
    expect((await take(slow, 1))[0]!.seq).toBe(0);
    await waiting;
    const more = pub.sendMany([tick(0, 5), tick(0, 6), tick(0, 7)], { timeoutMs: 20_000 });
    await slow.close();
    await more;
    expect((await take(fast, 4)).map((m) => m.seq)).toEqual([4, 5, 6, 7]);
  });

  it('receive reads ahead: info() counts what waits in the inbox as pending, not delivered; it arrives in order', async () => {
    const url = psUrl();
    const sub = await openPs(url, { create: true, capacity: 1024 });
    const pub = await openPs(url, { access: 'send' });
    await pub.sendMany(Array.from({ length: 100 }, (_, i) => tick(0, i)));
    expect((await sub.receive({ timeoutMs: 20_000 })).value.seq).toBe(0);
    // 64 read from the segment at once (an eighth of 1024 is more): one handed out, 63 in the inbox.
    expect(sub.info()).toMatchObject({ position: 64, delivered: 1, pending: 99 });
    const rest: number[] = [];
    for (let i = 1; i < 100; i++) rest.push(sub.tryReceive()!.value.seq);
    expect(rest).toEqual(Array.from({ length: 99 }, (_, i) => i + 1));
    expect(sub.tryReceive()).toBeUndefined();
    expect(sub.info()).toMatchObject({ position: 100, delivered: 100, pending: 0 });
  });

  it('a small block-mode buffer is not widened by read-ahead: with capacity 4 each receive reads one', async () => {
    const url = psUrl();
    const sub = await openPs(url, { create: true, capacity: 4 });
    const pub = await openPs(url, { access: 'send' });
    for (let i = 0; i < 4; i++) expect(pub.trySend(tick(0, i))).toBe(true);
    expect((await sub.receive({ timeoutMs: 20_000 })).value.seq).toBe(0);
    expect(sub.info()).toMatchObject({ position: 1, delivered: 1, pending: 3 });
    // One position freed, not four.
    expect(pub.trySend(tick(0, 4))).toBe(true);
    expect(pub.trySend(tick(0, 5))).toBe(false);
  });

  it('overwrite: the publisher never waits; the subscriber gets the newest messages and the exact count it missed', async () => {
    const url = psUrl();
    const sub = await openPs(url, { create: true, capacity: 8, policy: 'overwrite' });
    const pub = await openPs(url, { access: 'send' });
    for (let i = 0; i < 100; i++) expect(pub.trySend(tick(0, i))).toBe(true);
    const messages = (await sub.receiveMany(100, { timeoutMs: 20_000 })) as PubSubMessage<Tick>[];
    const first = messages[0]!;
    expect(first.missed).toBe(first.value.seq);
    expect(messages.slice(1).every((m, i) => m.missed === 0 && m.value.seq === first.value.seq + i + 1)).toBe(true);
    expect(messages.at(-1)!.value.seq).toBe(99);
    expect(sub.info()).toMatchObject({ missed: first.value.seq, delivered: messages.length, policy: 'overwrite' });
    // Keeping up loses nothing more.
    await pub.send(tick(0, 100));
    expect(((await sub.receive({ timeoutMs: 20_000 })) as PubSubMessage<Tick>).missed).toBe(0);
  });

  it('a subscriber joins at the tail; with history: n it gets the last n messages still in the buffer', async () => {
    const url = psUrl();
    const pub = await openPs(url, { create: true, access: 'send', capacity: 8, policy: 'overwrite' });
    for (let i = 0; i < 20; i++) await pub.send(tick(1, i));
    const fresh = await openPs(url, {});
    const three = await openPs(url, { history: 3 });
    const all = await openPs(url, { history: 8 });
    expect(fresh.tryReceive()).toBeUndefined();
    expect((await take(three, 3)).map((m) => m.seq)).toEqual([17, 18, 19]);
    expect((await take(all, 8)).map((m) => m.seq)).toEqual([12, 13, 14, 15, 16, 17, 18, 19]);
    await pub.send(tick(1, 20));
    for (const sub of [fresh, three, all]) expect((await take(sub, 1))[0]!.seq).toBe(20);
    expect(all.info().missed).toBe(0);
  });

  it('a full subscriber table is refused clearly, and a closed subscriber frees its entry', async () => {
    const url = psUrl();
    const first = await openPs(url, { create: true, subscribers: 2 });
    await openPs(url, {});
    const error = await open(url, Tick).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SystemError);
    expect((error as SystemError).code).toBe('EUSERS');
    expect(String(error)).toMatch(/subscriber table is full.*subscribers: 2/);
    // Publishers have a table of their own.
    await openPs(url, { access: 'send' });
    await first.close();
    await expect(openPs(url, {})).resolves.toBeDefined();
  });
});

describe('shm+pubsub: options and refusals', () => {
  it('refuses bad options with a ValidationError naming the option, before anything is created', async () => {
    const url = psUrl();
    const cases: [PubSubOptions, string][] = [
      [{ policy: 'drop' as 'block' }, 'policy'],
      [{ subscribers: 0 }, 'subscribers'],
      [{ subscribers: 1025 }, 'subscribers'],
      [{ publishers: 1.5 }, 'publishers'],
      [{ history: -1 }, 'history'],
      [{ access: 'send', history: 2 }, 'history'],
      [{ access: 'both' as 'send' }, 'access'],
      [{ capacity: 0 }, 'capacity'],
      [{ mode: 0o4600 }, 'mode'],
    ];
    for (const [options, path] of cases) {
      const error = await open(url, Tick, { create: true, ...options }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).path).toBe(path);
    }
    expect(() => statSync(`/dev/shm${url.slice('shm+pubsub:'.length)}`)).toThrow(/ENOENT/);
  });

  it('a subscriber cannot send, a publisher cannot receive (UnsupportedError); another policy is refused', async () => {
    const url = psUrl();
    const sub = await openPs(url, { create: true, policy: 'block' });
    const pub = await openPs(url, { access: 'send' });
    await expect(sub.send(tick(0, 0))).rejects.toBeInstanceOf(UnsupportedError);
    await expect(pub.receive()).rejects.toBeInstanceOf(UnsupportedError);
    const error = await open(url, Tick, { policy: 'overwrite' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).path).toBe('policy');
    expect(statSync(`/dev/shm${url.slice('shm+pubsub:'.length)}`).mode & 0o777).toBe(0o600);
  });

  it('a crafted header is a ValidationError naming the field, and a foreign file is not a segment', async () => {
    const url = psUrl();
    const path = `/dev/shm${url.slice('shm+pubsub:'.length)}`;
    const made = await openPs(url, { create: true, capacity: 8 });
    await made.close();
    const original = readFileSync(path);
    // The crafted files below are not segments: unlink() cannot find the doorbell directory through them.
    const bells = bellDirectory(original.readBigUInt64LE(L.header.bell_id));
    cleanup.add(() => rmSync(bells, { recursive: true, force: true }));
    const fields: [number, number, string][] = [
      [L.header.policy, 7, 'header.policy'],
      [L.header.msg_size, 0, 'header.msg_size'],
      [L.header.slots, 6, 'header.slots'],
      [L.header.slots, 1 << 20, 'header.data_offset'],
      [L.header.capacity, 9, 'header.capacity'],
      [L.header.subscribers, 5000, 'header.subscribers'],
      [L.header.publishers, 0, 'header.publishers'],
      [L.header.mask_words, 100, 'header.mask_words'],
      [L.header.registry_offset, 0, 'header.registry_offset'],
      [L.header.seq_offset, 0xffffff00, 'header.seq_offset'],
      [L.header.data_offset, 64, 'header.data_offset'],
      [L.header.total_size, 1, 'header.total_size'],
    ];
    for (const [offset, value, field] of fields) {
      const crafted = Buffer.from(original);
      crafted.writeUInt32LE(value >>> 0, offset);
      writeFileSync(path, crafted);
      const error = await open(url, Tick).catch((e: unknown) => e);
      expect(error, field).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).path).toBe(field);
    }
    // A shorter file than its header says.
    writeFileSync(path, original.subarray(0, original.length - 8));
    expect(await open(url, Tick).catch((e: unknown) => (e as ValidationError).path)).toBe('header.file size');
    for (const bytes of [Buffer.alloc(8), Buffer.alloc(4096, 0x41)]) {
      writeFileSync(path, bytes);
      const error = await open(url, Tick).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).path).toBe('url');
      expect(String(error)).toMatch(/not a typed-ipc pub\/sub segment/);
    }
    // Nothing was replaced or repaired: the foreign file is still there, as it was.
    expect(readFileSync(path)).toEqual(Buffer.alloc(4096, 0x41));
  });
});
