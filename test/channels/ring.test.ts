import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { readRingHeader } from '../../src/cli/ring-header.js';
import {
  AbortError,
  ChannelClosedError,
  DecodeError,
  SystemError,
  TimeoutError,
  UnsupportedError,
  ValidationError,
} from '../../src/errors.js';
import { type Channel, enumOf, type MessageCodec, open, struct, u8, unlink } from '../../src/index.js';
import { Cleanup, compileC, finished, repoRoot, spawnTs, uniqueName } from '../helpers.js';
import { Sample, Small, sample, Wide } from './ring-fixtures.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const peer = (): string => compileC('ring_peer', [`${repoRoot}/test/c/ring_peer.c`]);

/** A fresh ring URL, unlinked after the test. */
function ringUrl(tag = 'ring'): string {
  const url = `shm:/${uniqueName(tag)}`;
  cleanup.add(() => unlink(url));
  return url;
}

async function openRing<T>(url: string, codec: Parameters<typeof open<T>>[1], options = {}): Promise<Channel<T>> {
  const channel = await open(url, codec, options);
  cleanup.add(() => channel.close());
  return channel;
}

describe('shm ring: one process', () => {
  it('carries messages in order, reports capacity and pending, and refuses when empty or full', async () => {
    const url = ringUrl();
    const tx = await openRing(url, Sample, { create: true, capacity: 4 });
    const rx = await openRing(url, Sample);
    expect(rx.tryReceive()).toBeUndefined();
    for (let i = 0; i < 4; i++) expect(tx.trySend(sample(7, i))).toBe(true);
    expect(tx.trySend(sample(7, 4))).toBe(false);
    expect(tx.info()).toMatchObject({ transport: 'shm', capacity: 4, pending: 4, messageSize: 24 });
    for (let i = 0; i < 4; i++) expect(rx.tryReceive()).toEqual({ value: sample(7, i), priority: 0 });
    expect(rx.tryReceive()).toBeUndefined();
    expect(rx.info().pending).toBe(0);
  });

  it('holds exactly `capacity` messages when it is not a power of two', async () => {
    const url = ringUrl();
    const tx = await openRing(url, Sample, { create: true, capacity: 5 });
    const rx = await openRing(url, Sample);
    expect(tx.info()).toMatchObject({ capacity: 5, slots: 8 });
    // `typed-ipc ls` reads the same header fields without joining the ring.
    expect(readRingHeader(`/dev/shm${url.slice(4)}`)).toMatchObject({ capacity: 5, messageSize: 24, pending: 0 });
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 5; i++) expect(tx.trySend(sample(round, i))).toBe(true);
      expect(tx.trySend(sample(round, 5))).toBe(false);
      expect((await rx.receiveMany(3)).length).toBe(3);
      expect(tx.trySend(sample(round, 6))).toBe(true);
      expect((await rx.receiveMany(10)).length).toBe(3);
    }
  });

  it('sends and receives batches across the wrap-around, more than the capacity at once', async () => {
    const url = ringUrl();
    const tx = await openRing(url, Sample, { create: true, capacity: 8 });
    const rx = await openRing(url, Sample);
    const values = Array.from({ length: 1000 }, (_, i) => sample(3, i));
    const sending = tx.sendMany(values);
    const received: Sample[] = [];
    while (received.length < values.length) {
      const batch = await rx.receiveMany(5, { timeoutMs: 5000 });
      expect(batch.length).toBeGreaterThan(0);
      expect(batch.length).toBeLessThanOrEqual(5);
      received.push(...batch.map((m) => m.value));
    }
    await sending;
    expect(received).toEqual(values);
  });

  it('a batch larger than the kept encode buffer (over 1 MiB) arrives whole and in order', async () => {
    const url = ringUrl();
    const tx = await openRing(url, Sample, { create: true, capacity: 1024 });
    const rx = await openRing(url, Sample);
    const values = Array.from({ length: 50_000 }, (_, i) => sample(8, i));
    const sending = tx.sendMany(values);
    let next = 0;
    while (next < values.length) {
      for (const { value } of await rx.receiveMany(4096, { timeoutMs: 10_000 })) {
        expect(value.timestamp).toBe(BigInt(next++));
      }
    }
    await sending;
    expect(rx.tryReceive()).toBeUndefined();
  });

  it('sends nothing from a batch that holds an invalid value', async () => {
    const url = ringUrl();
    const tx = await openRing(url, Sample, { create: true, capacity: 8 });
    const bad = { channel: 70000, timestamp: 1n, value: 1 };
    await expect(tx.sendMany([sample(1, 0), bad, sample(1, 2)])).rejects.toBeInstanceOf(ValidationError);
    expect(tx.info().pending).toBe(0);
    expect(tx.tryReceive()).toBeUndefined();
  });

  it('waits on the event loop, wakes on a send from another process, times out and aborts', async () => {
    const url = ringUrl();
    const rx = await openRing(url, Sample, { create: true, capacity: 16 });
    await expect(rx.receive({ timeoutMs: 30 })).rejects.toBeInstanceOf(TimeoutError);
    const controller = new AbortController();
    const aborted = rx.receive({ signal: controller.signal });
    controller.abort();
    await expect(aborted).rejects.toBeInstanceOf(AbortError);

    let ticks = 0;
    const interval = setInterval(() => ticks++, 1);
    const waiting = rx.receive({ timeoutMs: 20_000 });
    const child = finished(spawnTs('test/channels/ring-peer.ts', ['produce', url, '9', '1', '1']));
    const message = await waiting;
    clearInterval(interval);
    expect(message.value).toEqual(sample(9, 0));
    expect(ticks).toBeGreaterThan(3);
    expect((await child).code).toBe(0);
  });

  it('concurrent waits on one channel: one ending does not leave the other without its wake-up', async () => {
    const url = ringUrl();
    const rx = await openRing(url, Sample, { create: true, capacity: 16 });
    const tx = await openRing(url, Sample);
    const patient = rx.receive({ timeoutMs: 10_000 });
    await expect(rx.receive({ timeoutMs: 30 })).rejects.toBeInstanceOf(TimeoutError);
    expect(tx.trySend(sample(6, 0))).toBe(true);
    expect((await patient).value).toEqual(sample(6, 0));
  });

  it('a producer waiting for room is woken by a consumer', async () => {
    const url = ringUrl();
    const tx = await openRing(url, Sample, { create: true, capacity: 2 });
    const rx = await openRing(url, Sample);
    await tx.sendMany([sample(1, 0), sample(1, 1)]);
    await expect(tx.send(sample(1, 2), { timeoutMs: 30 })).rejects.toBeInstanceOf(TimeoutError);
    const blocked = tx.send(sample(1, 2), { timeoutMs: 10_000 });
    setTimeout(() => rx.tryReceive(), 20);
    await blocked;
    expect((await rx.receiveMany(10)).map((m) => m.value.timestamp)).toEqual([1n, 2n]);
  });

  it('a waiting receive keeps its process alive, unless the channel is unref()ed', async () => {
    const url = ringUrl();
    await openRing(url, Sample, { create: true, capacity: 4 });
    const unrefd = finished(spawnTs('test/channels/ring-peer.ts', ['idle', url, 'unref']));
    expect(await unrefd).toMatchObject({ code: 0, stdout: 'waiting\n' });
    const held = spawnTs('test/channels/ring-peer.ts', ['idle', url, 'ref']);
    const heldDone = finished(held);
    cleanup.add(() => held.kill('SIGKILL'));
    await new Promise((resolve) => held.stdout!.once('data', resolve));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(held.exitCode).toBeNull();
    held.kill('SIGTERM');
    expect((await heldDone).signal).toBe('SIGTERM');
  });

  it('rejects pending waits on close, is idempotent, and refuses use after close', async () => {
    const url = ringUrl();
    const rx = await open(url, Sample, { create: true, capacity: 4 });
    const pending = rx.receive();
    await rx.close();
    await rx.close();
    expect(rx.closed).toBe(true);
    await expect(pending).rejects.toBeInstanceOf(ChannelClosedError);
    expect(() => rx.tryReceive()).toThrow(ChannelClosedError);
    await expect(rx.send(sample(1, 1))).rejects.toBeInstanceOf(ChannelClosedError);
  });

  it('async iteration yields messages and ends when the channel closes', async () => {
    const url = ringUrl();
    const rx = await openRing(url, Sample, { create: true, capacity: 4 });
    const tx = await openRing(url, Sample);
    await tx.sendMany([sample(2, 0), sample(2, 1)]);
    const seen: bigint[] = [];
    for await (const { value } of rx) {
      seen.push(value.timestamp);
      if (seen.length === 2) setTimeout(() => rx.close(), 10);
    }
    expect(seen).toEqual([0n, 1n]);
  });
});

describe('shm ring: decoding', () => {
  it('a message that does not decode is consumed and thrown after the good ones before it', async () => {
    const Kind = struct('kind', { kind: enumOf(u8, { A: 1, B: 2 }), x: u8 });
    // A writer that puts raw bytes on the same layout (as a C peer could).
    const raw: MessageCodec<Uint8Array> = {
      name: 'kind',
      fixedSize: true,
      size: Kind.size,
      fingerprint: Kind.fingerprint,
      encode: (value) => value.slice(),
      encodeInto(value, target, offset = 0) {
        target.set(value, offset);
        return value.length;
      },
      decode: (bytes, offset = 0) => bytes.slice(offset, offset + 2),
      validate: (value) => value as Uint8Array,
    };
    const url = ringUrl();
    const rx = await openRing(url, Kind, { create: true, capacity: 8 });
    const tx = await openRing(url, raw);
    await tx.sendMany([Uint8Array.of(1, 10), Uint8Array.of(9, 11), Uint8Array.of(2, 12)]);
    expect((await rx.receiveMany(8)).map((m) => m.value)).toEqual([{ kind: 'A', x: 10 }]);
    expect(() => rx.tryReceive()).toThrow(DecodeError);
    expect(rx.tryReceive()?.value).toEqual({ kind: 'B', x: 12 });
    expect(rx.tryReceive()).toBeUndefined();
  });
});

describe('shm ring: options and errors', () => {
  it('creates the segment with mode 0600 by default, or the mode asked for', async () => {
    const a = ringUrl();
    await openRing(a, Sample, { create: true, capacity: 4 });
    expect(statSync(`/dev/shm${a.slice(4)}`).mode & 0o777).toBe(0o600);
    const b = ringUrl();
    await openRing(b, Sample, { create: true, capacity: 4, mode: 0o640 });
    expect(statSync(`/dev/shm${b.slice(4)}`).mode & 0o777).toBe(0o640);
  });

  it('refuses a codec whose size or fingerprint differs, naming both', async () => {
    const url = ringUrl();
    await openRing(url, Sample, { create: true, capacity: 4 });
    const small = open(url, Small);
    await expect(small).rejects.toBeInstanceOf(ValidationError);
    await expect(small).rejects.toThrow(/holds 24-byte messages .*codec 'small' is 16 bytes/);
    const wide = open(url, Wide, { create: true });
    await expect(wide).rejects.toThrow(
      new RegExp(`fingerprint ${Sample.fingerprint}.*fingerprint ${Wide.fingerprint}.*in use by a live process`),
    );
  });

  it('refuses priorities, a capacity that is not a power of two, and variable-size codecs', async () => {
    const url = ringUrl();
    await expect(open(url, Sample, { create: true, capacity: 0 })).rejects.toThrow(
      /capacity: expected an integer in \[1, 16777216\] \(messages\), got 0/,
    );
    const tx = await openRing(url, Sample, { create: true, capacity: 4 });
    await expect(tx.send(sample(1, 1), { priority: 3 })).rejects.toThrow(UnsupportedError);
    await expect(tx.send(sample(1, 1), { priority: 3 })).rejects.toThrow(/priority must be 0 \(got 3\)/);
    const variable = { ...Sample, name: 'doc', fixedSize: false, size: 100 } as unknown as typeof Sample;
    await expect(open(ringUrl(), variable, { create: true })).rejects.toThrow(/fixed-size messages/);
  });

  it('opening a missing ring without create, or an existing one exclusively, is a SystemError', async () => {
    const url = ringUrl();
    const missing = open(url, Sample);
    await expect(missing).rejects.toBeInstanceOf(SystemError);
    await expect(missing).rejects.toMatchObject({ code: 'ENOENT', syscall: 'shm_open' });
    await openRing(url, Sample, { create: true, capacity: 4 });
    await expect(open(url, Sample, { create: true, exclusive: true })).rejects.toMatchObject({ code: 'EEXIST' });
    const claimed = await openRing(ringUrl(), Sample, { create: true, exclusive: true, capacity: 4 });
    expect(claimed.trySend(sample(1, 0))).toBe(true);
  });

  it('unlink removes the name; open handles keep working; unlinking again is ENOENT', async () => {
    const url = `shm:/${uniqueName('unlink')}`;
    const channel = await openRing(url, Sample, { create: true, capacity: 4 });
    await unlink(url);
    expect(existsSync(`/dev/shm${url.slice(4)}`)).toBe(false);
    expect(channel.trySend(sample(1, 0))).toBe(true);
    expect(channel.tryReceive()?.value).toEqual(sample(1, 0));
    await expect(unlink(url)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses, and never replaces, a segment that is not a ring', async () => {
    const url = ringUrl();
    const file = `/dev/shm${url.slice(4)}`;
    writeFileSync(file, '');
    await expect(open(url, Sample, { create: true })).rejects.toThrow(/is not a typed-ipc ring \(0 bytes/);
    writeFileSync(file, new Uint8Array(8192).fill(7));
    await expect(open(url, Sample, { create: true })).rejects.toThrow(/is not a typed-ipc ring of protocol version 2/);
    expect(statSync(file).size).toBe(8192);
  });

  it('a C program and Node agree on the fingerprint check', async () => {
    const url = ringUrl();
    const name = url.slice(4);
    await openRing(url, Sample, { create: true, capacity: 4 });
    const wrong = await finished(spawnC(peer(), ['consume', name, '1', '1'], { TIPC_FINGERPRINT: 'other' }));
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/open: Invalid argument/);
  });
});

describe('shm ring: stale segments', () => {
  it('replaces an incompatible ring whose processes are all dead, and keeps a compatible one with its messages', async () => {
    const url = ringUrl();
    const name = url.slice(4);
    // A C creator that sent two messages and exited: its ring stays, compatible, with the messages.
    expect((await finished(spawnC(peer(), ['create', name, '8'], { TIPC_FINGERPRINT: Sample.fingerprint }))).code).toBe(
      0,
    );
    expect((await finished(spawnC(peer(), ['produce', name, '4', '2', '2']))).code).toBe(0);
    const kept = await open(url, Sample, { create: true, capacity: 64 });
    expect(kept.info().capacity).toBe(8);
    expect((await kept.receiveMany(10)).map((m) => m.value)).toEqual([sample(4, 0), sample(4, 1)]);
    await kept.close();
    // Reopened by a program with another schema: nobody uses the old ring, so it is replaced.
    const replaced = await openRing(url, Wide, { create: true, capacity: 16 });
    expect(replaced.info()).toMatchObject({ capacity: 16, fingerprint: Wide.fingerprint, pending: 0 });
  });

  it('sweeps temporary segments of creators that died before publishing them', async () => {
    const dead = spawn('true');
    await new Promise((resolve) => dead.on('exit', resolve));
    const leftover = `/dev/shm/.tipc-ring.${dead.pid}.deadbeef`;
    writeFileSync(leftover, '');
    cleanup.add(() => rmSync(leftover, { force: true }));
    await openRing(ringUrl(), Sample, { create: true, capacity: 4 });
    expect(readdirSync('/dev/shm')).not.toContain(leftover.slice(9));
  });

  it('a consumer skips a slot claimed by a producer killed before publishing it', async () => {
    const url = ringUrl();
    const rx = await openRing(url, Sample, { create: true, capacity: 8 });
    const tx = await openRing(url, Sample);
    tx.trySend(sample(1, 0));
    const died = await finished(spawnC(peer(), ['claim-and-die', url.slice(4)]));
    expect(died.signal).toBe('SIGKILL');
    expect(died.stdout).toBe('claimed 1\n');
    tx.trySend(sample(1, 1));
    expect(rx.tryReceive()?.value).toEqual(sample(1, 0));
    // The dead producer's slot blocks the head until a waiting receiver finds its owner dead.
    expect(rx.tryReceive()).toBeUndefined();
    expect((await rx.receive({ timeoutMs: 5000 })).value).toEqual(sample(1, 1));
    expect(rx.info()).toMatchObject({ recovered: 1, pending: 0 });
  });

  it('never recovers the slot of a producer that is alive (here: stopped), only once it died', async () => {
    const url = ringUrl();
    const rx = await openRing(url, Sample, { create: true, capacity: 8 });
    const stopped = spawnC(peer(), ['claim-and-stop', url.slice(4)]);
    const done = finished(stopped);
    cleanup.add(() => stopped.kill('SIGKILL'));
    await new Promise((resolve) => stopped.stdout!.once('data', resolve));
    const tx = await openRing(url, Sample);
    tx.trySend(sample(5, 0));
    // The C producer's registry entry (pid, /proc start time) must read as alive from Node.
    await expect(rx.receive({ timeoutMs: 300 })).rejects.toBeInstanceOf(TimeoutError);
    expect(rx.info()).toMatchObject({ recovered: 0, pending: 2 });
    stopped.kill('SIGKILL');
    expect((await done).signal).toBe('SIGKILL');
    expect((await rx.receive({ timeoutMs: 5000 })).value).toEqual(sample(5, 0));
    expect(rx.info().recovered).toBe(1);
  });

  it('a producer reclaims a slot taken by a consumer killed before releasing it', async () => {
    const url = ringUrl();
    const tx = await openRing(url, Sample, { create: true, capacity: 2 });
    await tx.sendMany([sample(1, 0), sample(1, 1)]);
    const died = await finished(spawnC(peer(), ['take-and-die', url.slice(4)]));
    expect(died.signal).toBe('SIGKILL');
    expect(tx.trySend(sample(1, 2))).toBe(false);
    await tx.send(sample(1, 2), { timeoutMs: 5000 });
    expect(tx.info()).toMatchObject({ abandoned: 1, pending: 2 });
    expect((await tx.receiveMany(4)).map((m) => m.value)).toEqual([sample(1, 1), sample(1, 2)]);
  });
});

function spawnC(binary: string, args: string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
}
