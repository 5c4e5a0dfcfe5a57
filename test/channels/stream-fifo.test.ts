import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  constants as fsConstants,
  lstatSync,
  mkdtempSync,
  openSync,
  readSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { open, unlink } from '../../src/channels/index.js';
import type { StreamChannel } from '../../src/channels/stream.js';
import type { MessageCodec } from '../../src/codecs/codec.js';
import {
  ChannelClosedError,
  DecodeError,
  MessageSizeError,
  TimeoutError,
  UnsupportedError,
  ValidationError,
} from '../../src/errors.js';
import { libc } from '../../src/native/index.js';
import { Cleanup, uniqueName } from '../helpers.js';
import { intact, jsonCodec, type Rec, rec, recordCodec } from './stream-records.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

function fifoUrl(tag: string): string {
  const path = join(tmpdir(), uniqueName(tag));
  cleanup.add(() => libc.unlink(path));
  return `fifo:${path}`;
}

async function pair<T = Rec>(
  url: string,
  codec: MessageCodec<T> = recordCodec() as unknown as MessageCodec<T>,
  shared = false,
): Promise<[StreamChannel<T>, StreamChannel<T>]> {
  const rx = (await open(url, codec, { create: true, access: 'receive' })) as StreamChannel<T>;
  cleanup.add(() => rx.close());
  const tx = (await open(url, codec, { access: 'send', shared })) as StreamChannel<T>;
  cleanup.add(() => tx.close());
  return [tx, rx];
}

/** Shrinks the pipe under a FIFO channel to one page, so that big writes are taken in part. */
function tinyPipe(channel: StreamChannel<unknown>): void {
  expect(libc.fcntl(channel.fd, libc.F_SETPIPE_SZ, 4096)).toBe(4096);
}

describe('fifo: channels', () => {
  it('creates the FIFO with mode 0600 and carries records in order', async () => {
    const url = fifoUrl('basic');
    const [tx, rx] = await pair(url);
    expect(statSync(url.slice(5)).isFIFO()).toBe(true);
    expect(statSync(url.slice(5)).mode & 0o777).toBe(0o600);
    await tx.send(rec(1));
    expect(tx.trySend(rec(2))).toBe(true);
    await tx.sendMany([rec(3), rec(4)]);
    const got = await rx.receiveMany(10);
    expect(got.map((m) => m.value)).toEqual([rec(1), rec(2), rec(3), rec(4)]);
    expect(got.every((m) => m.priority === 0)).toBe(true);
    expect(rx.info()).toMatchObject({ transport: 'fifo', messageSize: 24, pending: 0 });
    await unlink(url);
    expect(existsSync(url.slice(5))).toBe(false);
  });

  it('honours an explicit mode despite the umask', async () => {
    const url = fifoUrl('mode');
    const rx = await open(url, recordCodec(), { create: true, access: 'receive', mode: 0o640 });
    cleanup.add(() => rx.close());
    expect(statSync(url.slice(5)).mode & 0o777).toBe(0o640);
  });

  it('needs a direction, refuses priorities and non-FIFO paths', async () => {
    const url = fifoUrl('args');
    await expect(open(url, recordCodec(), { create: true })).rejects.toThrow(ValidationError);
    const [tx] = await pair(url);
    await expect(tx.send(rec(1), { priority: 1 })).rejects.toThrow(UnsupportedError);
    expect(() => tx.trySend(rec(1), { priority: 2 })).toThrow(/no priorities/);
    await expect(tx.receive()).rejects.toThrow(/access 'send'/);
    await expect(open(`fifo:${tmpdir()}`, recordCodec(), { access: 'receive' })).rejects.toThrow(ValidationError);
    await expect(open(`fifo:/proc/self/status`, recordCodec(), { access: 'receive' })).rejects.toThrow(/not a FIFO/);
    await expect(
      open(`fifo:${join(tmpdir(), uniqueName('none'))}`, recordCodec(), { access: 'receive' }),
    ).rejects.toThrow(/ENOENT/);
  });

  it('lets a writer wait for a reader without blocking the event loop, or time out', async () => {
    const url = fifoUrl('wait');
    await open(url, recordCodec(), { create: true, access: 'receive' }).then((rx) => rx.close());
    await expect(open(url, recordCodec(), { access: 'send', timeoutMs: 60 })).rejects.toThrow(TimeoutError);
    let opened = false;
    const writer = open(url, recordCodec(), { access: 'send' }).then((tx) => {
      opened = true;
      cleanup.add(() => tx.close());
      return tx;
    });
    // The loop keeps running while the writer waits: five timer turns come (a blocking open would
    // stall them), and the open is still waiting for its reader after them.
    let ticks = 0;
    await new Promise<void>((resolve) => {
      const interval = setInterval(() => {
        ticks += 1;
        if (ticks === 5) {
          clearInterval(interval);
          resolve();
        }
      }, 5);
      cleanup.add(() => clearInterval(interval));
    });
    expect(opened).toBe(false);
    const rx = await open(url, recordCodec(), { access: 'receive' });
    cleanup.add(() => rx.close());
    const tx = await writer;
    await tx.send(rec(7));
    expect((await rx.receive({ timeoutMs: 5000 })).value).toEqual(rec(7));
  });

  it('a reader waits for its first writer, then ends at EOF when the last writer closes', async () => {
    const url = fifoUrl('eof');
    const rx = await open(url, recordCodec(), { create: true, access: 'receive' });
    cleanup.add(() => rx.close());
    // No writer yet: read() gives 0, but that is not the end of the stream.
    expect(rx.tryReceive()).toBeUndefined();
    await expect(rx.receive({ timeoutMs: 50 })).rejects.toThrow(TimeoutError);
    const first = await open(url, recordCodec(), { access: 'send' });
    const second = await open(url, recordCodec(), { access: 'send' });
    await first.sendMany([rec(0), rec(1)]);
    await first.close();
    await second.send(rec(2));
    const records = rx[Symbol.asyncIterator]();
    const seen: Rec[] = [];
    for (let i = 0; i < 3; i++) {
      const next = await records.next();
      if (next.done === true) break;
      seen.push(next.value.value);
    }
    // The first writer's close ended nothing: all three records came, and with the second writer
    // still open there is nothing to read and no end of stream (read() gives EAGAIN, not 0).
    expect(seen).toEqual([rec(0), rec(1), rec(2)]);
    expect(rx.tryReceive()).toBeUndefined();
    await second.close();
    expect((await records.next()).done).toBe(true);
    expect(rx.closed).toBe(false);
    await expect(rx.receive()).rejects.toThrow(ChannelClosedError);
  });

  it('writing with no reader left is ChannelClosedError (EPIPE), never a SIGPIPE death', async () => {
    const ignored = BigInt(
      `0x${/SigIgn:\s*([0-9a-f]+)/.exec(await import('node:fs').then((fs) => fs.readFileSync('/proc/self/status', 'utf8')))?.[1]}`,
    );
    expect(ignored & (1n << 12n)).not.toBe(0n); // SIGPIPE (13) ignored: Node does it at startup
    const url = fifoUrl('epipe');
    const [tx, rx] = await pair(url);
    await tx.send(rec(1));
    await rx.close();
    await expect(tx.send(rec(2))).rejects.toThrow(ChannelClosedError);
    expect(() => tx.trySend(rec(3))).toThrow(/receiving end is gone \(EPIPE\)/);
  });

  it('wakes a writer blocked on a full pipe with ChannelClosedError when the reader leaves', async () => {
    const url = fifoUrl('full');
    const [tx, rx] = await pair(url);
    tinyPipe(tx);
    let sent = 0;
    while (tx.trySend(rec(sent))) sent++;
    expect(sent).toBe(Math.floor(4096 / 24));
    const blocked = tx.send(rec(sent));
    await new Promise((resolve) => setTimeout(resolve, 20));
    await rx.close();
    await expect(blocked).rejects.toThrow(ChannelClosedError);
  });

  it('reassembles records split by partial writes and reads (tiny pipe, records above PIPE_BUF)', async () => {
    for (const size of [24, 5000, 70_008]) {
      const url = fifoUrl(`big${size}`);
      const codec = recordCodec(size);
      const [tx, rx] = await pair(url, codec);
      tinyPipe(tx);
      const total = size > 10_000 ? 60 : 2000;
      const values = Array.from({ length: total }, (_, i) => rec(i, 0, size));
      const sending = (async () => {
        await tx.sendMany(values.slice(0, total / 2));
        for (const value of values.slice(total / 2, (3 * total) / 4)) await tx.send(value);
        await Promise.all(values.slice((3 * total) / 4).map((value) => tx.send(value)));
        await tx.close();
      })();
      const got: Rec[] = [];
      for await (const { value } of rx) got.push(value);
      await sending;
      expect(got.length).toBe(total);
      expect(got.every((value, i) => value.seq === i && intact(value))).toBe(true);
    }
  });

  it('withdraws a queued record whose timeout expires before any of it was written', async () => {
    const url = fifoUrl('withdraw');
    const [tx, rx] = await pair(url);
    tinyPipe(tx);
    let sent = 0;
    while (tx.trySend(rec(sent))) sent++;
    const controller = new AbortController();
    const timedOut = tx.send(rec(9999), { timeoutMs: 30 });
    const aborted = tx.send(rec(9998), { signal: controller.signal });
    const kept = tx.send(rec(sent));
    const abortedCheck = expect(aborted).rejects.toThrow(/aborted/);
    controller.abort();
    await expect(timedOut).rejects.toThrow(TimeoutError);
    await abortedCheck;
    const got = await rx.receiveMany(1000);
    await kept;
    await tx.close();
    for await (const { value } of rx) got.push({ value, priority: 0 });
    expect(got.map((m) => m.value.seq)).toEqual(Array.from({ length: sent + 1 }, (_, i) => i));
  });

  it('keeps a record whose first bytes are in the kernel: its timeout no longer withdraws it', async () => {
    const url = fifoUrl('committed');
    const codec = recordCodec(5000);
    const [tx, rx] = await pair(url, codec);
    tinyPipe(tx);
    let settled: string | undefined;
    // The pipe takes 4096 of the 5000 bytes at once: the record is committed, the rest waits for room.
    const sending = tx.send(rec(1, 0, 5000), { timeoutMs: 30 }).then(
      () => (settled = 'sent'),
      (error: unknown) => (settled = String(error)),
    );
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(settled).toBeUndefined();
    expect(tx.info().queuedRecords).toBe(1);
    const { value } = await rx.receive({ timeoutMs: 5000 });
    await sending;
    expect(settled).toBe('sent');
    expect(value.seq).toBe(1);
    expect(intact(value)).toBe(true);
  });

  it('destroy() rejects sends still waiting with ChannelClosedError at once; close() times out on a reader that never reads', async () => {
    const url = fifoUrl('closewait');
    const [tx] = await pair(url);
    tinyPipe(tx);
    while (tx.trySend(rec(0))) {}
    const waiting = tx.send(rec(1));
    const batch = tx.sendMany([rec(2), rec(3)]);
    tx.destroy();
    tx.destroy();
    await expect(waiting).rejects.toThrow(ChannelClosedError);
    await expect(batch).rejects.toThrow(/send on .*accepted but not delivered: the channel was destroyed/);
    await expect(tx.send(rec(4))).rejects.toThrow(/is closed/);
    await tx.close();

    const [tx2] = await pair(fifoUrl('closetimeout'));
    tinyPipe(tx2);
    while (tx2.trySend(rec(0))) {}
    const stuck = tx2.send(rec(1));
    await expect(tx2.close({ timeoutMs: 50 })).rejects.toThrow(
      /close of .* timed out after 50 ms: 1 accepted message was/,
    );
    await expect(stuck).rejects.toThrow(/close\(\) timed out after 50 ms/);
  });

  it('frames variable-size messages with a u32 little-endian length prefix', async () => {
    const url = fifoUrl('json');
    const codec = jsonCodec(64);
    const rx = await open(url, codec, { create: true, access: 'receive' });
    cleanup.add(() => rx.close());
    // A raw writer shows the bytes on the wire; a typed one sends through the same FIFO afterwards.
    const raw = libc.open(url.slice(5), libc.O_WRONLY | libc.O_NONBLOCK, 0);
    expect(raw).toBeGreaterThan(0);
    const body = new TextEncoder().encode('{"a":1}');
    const frame = new Uint8Array(4 + body.length);
    new DataView(frame.buffer).setUint32(0, body.length, true);
    frame.set(body, 4);
    expect(libc.write(raw, frame, frame.length)).toBe(frame.length);
    const tx = await open(url, codec, { access: 'send' });
    await tx.sendMany([{ b: [1, 2] }, 'x'.repeat(60)]);
    await tx.send(null);
    // Too big for maxSize: refused by the open channel before anything is written.
    const big = tx.send('y'.repeat(80));
    await expect(big).rejects.toThrow(ValidationError);
    await expect(big).rejects.toThrow(/at most 64 bytes/);
    await tx.close();
    expect((await rx.receive()).value).toEqual({ a: 1 });
    expect((await rx.receiveMany(3)).map((m) => m.value)).toEqual([{ b: [1, 2] }, 'x'.repeat(60), null]);
    // A length prefix beyond maxSize means the stream is not framed as expected: DecodeError, every time.
    new DataView(frame.buffer).setUint32(0, 1000, true);
    expect(libc.write(raw, frame, frame.length)).toBe(frame.length);
    libc.close(raw);
    await expect(rx.receive()).rejects.toThrow(DecodeError);
    expect(() => rx.tryReceive()).toThrow(/length prefix 1000 exceeds/);
  });

  it('reports a record torn by the end of the stream as DecodeError, then ends', async () => {
    const url = fifoUrl('torn');
    const rx = await open(url, recordCodec(), { create: true, access: 'receive' });
    cleanup.add(() => rx.close());
    const raw = libc.open(url.slice(5), libc.O_WRONLY | libc.O_NONBLOCK, 0);
    const bytes = recordCodec().encode(rec(5));
    expect(libc.write(raw, bytes, 24)).toBe(24);
    expect(libc.write(raw, bytes, 24)).toBe(24);
    expect(libc.write(raw, bytes, 10)).toBe(10);
    libc.close(raw);
    // receiveMany returns the whole records and leaves the error for the next call.
    expect((await rx.receiveMany(10)).map((m) => m.value)).toEqual([rec(5), rec(5)]);
    await expect(rx.receive()).rejects.toThrow(/ended 10 bytes into a 24-byte record/);
    await expect(rx.receive()).rejects.toThrow(ChannelClosedError);
  });

  it('shares a FIFO between writers only when a record fits in PIPE_BUF', async () => {
    const url = fifoUrl('shared');
    await expect(open(url, recordCodec(4104), { create: true, access: 'send', shared: true })).rejects.toThrow(
      MessageSizeError,
    );
    await expect(open(url, jsonCodec(4093), { access: 'send', shared: true })).rejects.toThrow(
      /PIPE_BUF \(4096 bytes\)/,
    );
    const [tx, rx] = await pair(url, recordCodec(24), true);
    expect(tx.info().shared).toBe(true);
    const fits = await open(url, recordCodec(4096), { access: 'send', shared: true });
    await fits.close();
    tinyPipe(tx);
    const sending = tx.sendMany(Array.from({ length: 1000 }, (_, i) => rec(i)));
    const got = [];
    while (got.length < 1000) got.push(...(await rx.receiveMany(1000)));
    await sending;
    expect(got.map((m) => m.value.seq)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });
});

/**
 * Issue 12, item 9: another user plants a symlink where a FIFO is expected. The directory belongs to
 * uid 65534 and is not sticky, so fs.protected_symlinks (which only guards sticky world-writable
 * directories) never stops the follow: the old open followed it on any machine.
 */
describe('fifo: symlinks planted by another user are not followed', () => {
  const NOBODY = 65534;

  /** A directory of uid 65534 holding its FIFO `theirs` and its symlink `planted` to it. */
  function plantedLink(): { planted: string; theirs: string } {
    const dir = mkdtempSync(join(tmpdir(), 'tipc-planted-'));
    cleanup.add(() => rmSync(dir, { recursive: true, force: true }));
    chownSync(dir, NOBODY, NOBODY);
    chmodSync(dir, 0o755);
    const theirs = join(dir, 'theirs');
    const planted = join(dir, 'planted');
    // The other user makes both, in a process of its own.
    execFileSync('mkfifo', ['-m', '0666', theirs], { uid: NOBODY, gid: NOBODY });
    execFileSync('ln', ['-s', theirs, planted], { uid: NOBODY, gid: NOBODY });
    expect(lstatSync(planted).isSymbolicLink()).toBe(true);
    expect(lstatSync(planted).uid).toBe(NOBODY);
    return { planted, theirs };
  }

  it('a writer refuses the symlink; nothing reaches the FIFO it points at', async () => {
    const { planted, theirs } = plantedLink();
    // The other user's reader waits on its own FIFO (so that a followed open would succeed at once).
    const reader = openSync(theirs, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
    cleanup.add(() => closeSync(reader));
    const error = await open(`fifo:${planted}`, recordCodec(), { access: 'send', timeoutMs: 2_000 }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as Error).message).toMatch(/planted: a symbolic link \(FIFOs are opened without following one\)/);
    const buffer = Buffer.alloc(64);
    // No writer ever opened it: an empty FIFO without writers reads as end of file.
    expect(readSync(reader, buffer)).toBe(0);
  });

  it('a reader refuses it too, and create: true does not make it usable', async () => {
    const { planted } = plantedLink();
    for (const options of [
      { access: 'receive' },
      { access: 'receive', create: true },
      { access: 'send', create: true },
    ]) {
      await expect(
        open(`fifo:${planted}`, recordCodec(), { ...(options as { access: 'send' }), timeoutMs: 500 }),
      ).rejects.toThrow(/symbolic link/);
    }
  });

  it('the target FIFO itself still opens', async () => {
    const { theirs } = plantedLink();
    const rx = await open(`fifo:${theirs}`, recordCodec(), { access: 'receive' });
    cleanup.add(() => rx.close());
    const tx = await open(`fifo:${theirs}`, recordCodec(), { access: 'send' });
    cleanup.add(() => tx.close());
    await tx.send(rec(1));
    expect((await rx.receive({ timeoutMs: 5_000 })).value).toEqual(rec(1));
  });
});
