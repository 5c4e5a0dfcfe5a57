/**
 * sysv: channels on real System V queues: URLs, create/exclusive/mode, capacity in bytes, message
 * types (send validation, receive any / exact / lowest / except), info() from IPC_STAT, limits,
 * waiting (timeout, abort, close, ref/unref) and removal under a waiter. Every queue a test creates is
 * removed after it, even when the test fails (the cleanup is registered before the queue exists).
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AbortError,
  ChannelClosedError,
  DecodeError,
  type MessageCodec,
  type OpenOptions,
  open,
  parseUrl,
  sysvQueues,
  TimeoutError,
  unlink,
} from '../../src/index.js';
import { libc } from '../../src/native/index.js';
import { Cleanup, finished, spawnTs, uniqueName } from '../helpers.js';
import { blob, Sample } from './sample.js';
import { openSysv, type SysvChannel } from './sysv-queues.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const openQueue = <T>(url: string, codec: MessageCodec<T>, options: OpenOptions = {}): Promise<SysvChannel<T>> =>
  openSysv(cleanup, url, codec, options);

/** A fresh private queue of samples. */
function privateQueue(options: OpenOptions = {}): Promise<SysvChannel<Sample>> {
  return openQueue('sysv:private', Sample, { create: true, ...options });
}

let keyCounter = 0;
/** A key no other test uses: pid and a counter in the low bits, a tag byte on top. */
function freshKey(): string {
  keyCounter += 1;
  return `sysv:key=0x${(0x7a00_0000 + ((process.pid & 0xffff) << 8) + keyCounter).toString(16)}`;
}

const sample = (i: number): Sample => ({ channel: i, timestamp: BigInt(i) * 3n, value: i / 2 });

/**
 * The outcome of an operation that settles while the test awaits something else, with its handlers
 * attached when it is created: a rejection in the meantime is recorded, never an unhandled rejection
 * (which fails the run even when the test later expects it).
 */
function outcome<T>(promise: Promise<T>): Promise<PromiseSettledResult<T>> {
  return promise.then(
    (value) => ({ status: 'fulfilled', value }),
    (reason: unknown) => ({ status: 'rejected', reason }),
  );
}

/** The value of a fulfilled outcome (fails the test with the error of a rejected one). */
async function fulfilled<T>(settled: Promise<PromiseSettledResult<T>>): Promise<T> {
  const result = await settled;
  if (result.status === 'rejected') throw result.reason;
  return result.value;
}

/** The error of a rejected outcome, checked to be an instance of `kind`. */
async function rejected<E>(
  settled: Promise<PromiseSettledResult<unknown>>,
  kind: new (...args: never[]) => E,
): Promise<E> {
  const result = await settled;
  expect(result).toMatchObject({ status: 'rejected' });
  const reason = (result as PromiseRejectedResult).reason as unknown;
  expect(reason).toBeInstanceOf(kind);
  return reason as E;
}

describe('sysv: URLs', () => {
  it('parses keys, ftok paths with a project id, ids and private', () => {
    expect(parseUrl('sysv:key=0x1234')).toEqual({
      scheme: 'sysv',
      url: 'sysv:key=0x1234',
      target: { kind: 'key', key: 0x1234 },
    });
    expect(parseUrl('sysv:key=4660')).toMatchObject({ target: { kind: 'key', key: 0x1234 } });
    // Keys above 2^31 are negative key_t values, as C sees them.
    expect(parseUrl('sysv:key=0xffffffff')).toMatchObject({ target: { kind: 'key', key: -1 } });
    expect(parseUrl('sysv:/etc/hosts?proj=65')).toMatchObject({
      target: { kind: 'ftok', path: '/etc/hosts', proj: 65 },
    });
    expect(parseUrl('sysv:/etc/hosts?proj=A')).toMatchObject({
      target: { kind: 'ftok', path: '/etc/hosts', proj: 65 },
    });
    expect(parseUrl('sysv:id=32769')).toMatchObject({ target: { kind: 'id', id: 32769 } });
    expect(parseUrl('sysv:private')).toMatchObject({ target: { kind: 'private' } });
  });

  it.each([
    ['sysv:key=0', /0 is IPC_PRIVATE: use sysv:private/],
    ['sysv:key=0x100000000', /sysv:key=0x1234/],
    ['sysv:key=zz', /sysv:key=0x1234/],
    ['sysv:/etc/hosts', /proj=N/],
    ['sysv:/etc/hosts?proj=0', /proj=N/],
    ['sysv:/etc/hosts?proj=256', /proj=N/],
    ['sysv:id=-1', /sysv:id=N/],
    ['sysv:', /sysv:private/],
  ])('refuses %s', (url, message) => {
    expect(() => parseUrl(url)).toThrow(
      expect.objectContaining({ code: 'ERR_IPC_VALIDATION', message: expect.stringMatching(message) }),
    );
  });
});

describe('sysv: open', () => {
  it('creates a private queue with mode 0600, the default capacity and the caller as owner', async () => {
    const queue = await privateQueue();
    const info = queue.info();
    expect(queue.url).toBe(`sysv:id=${info.id}`);
    expect(info).toMatchObject({
      transport: 'sysv',
      key: 0,
      keyHex: '0x00000000',
      mode: 0o600,
      messageSize: Sample.size,
      capacityBytes: Number(readFileSync('/proc/sys/kernel/msgmnb', 'utf8')),
      pending: 0,
      bytes: 0,
      lastSendPid: 0,
      lastReceivePid: 0,
      uid: process.geteuid?.(),
      cuid: process.geteuid?.(),
      receiveType: 0,
      except: false,
    });
    expect(info.capacity).toBe(Math.floor(info.capacityBytes / Sample.size));
  });

  it('creates by key with the mode asked for, exactly (no umask), and reopens it by key and by id', async () => {
    const url = freshKey();
    const created = await openQueue(url, Sample, { create: true, exclusive: true, mode: 0o640 });
    expect(created.info().mode).toBe(0o640);
    const byKey = await openQueue(url, Sample);
    const byId = await openQueue(`sysv:id=${created.info().id}`, Sample);
    await created.send(sample(1));
    expect(byKey.info().pending).toBe(1);
    expect((await byId.receive()).value).toEqual(sample(1));
  });

  it('exclusive refuses an existing key; open without create refuses a missing one; id= cannot create', async () => {
    const url = freshKey();
    await openQueue(url, Sample, { create: true, exclusive: true });
    await expect(open(url, Sample, { create: true, exclusive: true })).rejects.toMatchObject({
      code: 'EEXIST',
      syscall: 'msgget',
      message: expect.stringMatching(/open it without `exclusive`/),
    });
    // create without exclusive opens the existing queue.
    await openQueue(url, Sample, { create: true });
    await expect(open(freshKey(), Sample)).rejects.toMatchObject({
      code: 'ENOENT',
      message: expect.stringMatching(/pass `create: true`/),
    });
    await expect(open('sysv:id=1', Sample, { create: true })).rejects.toMatchObject({ code: 'ERR_IPC_UNSUPPORTED' });
    const gone = await privateQueue();
    const goneUrl = gone.url;
    await unlink(goneUrl);
    await expect(open(goneUrl, Sample)).rejects.toMatchObject({
      code: 'EINVAL',
      message: expect.stringMatching(/no queue has this id \(removed, or never created\)/),
    });
    await expect(open('sysv:private', Sample, { create: true, access: 'toString' as 'send' })).rejects.toMatchObject({
      path: 'access',
    });
  });

  it('names queues by ftok of a file and project id, the same key C gets (checked against ipcs below)', async () => {
    const path = join(tmpdir(), uniqueName('ftok'));
    cleanup.add(() => rmSync(path, { force: true }));
    writeFileSync(path, '');
    cleanup.add(() => unlink(`sysv:${path}?proj=7`));
    const queue = (await open(`sysv:${path}?proj=7`, Sample, { create: true, exclusive: true })) as SysvChannel<Sample>;
    cleanup.add(() => queue.close());
    const other = await openQueue(`sysv:${path}?proj=8`, Sample, { create: true, exclusive: true });
    expect(queue.info().key).not.toBe(other.info().key);
    expect(sysvQueues().find((q) => q.id === queue.info().id)?.keyHex).toBe(queue.info().keyHex);
    await expect(open(`sysv:${path}-missing?proj=7`, Sample, { create: true })).rejects.toMatchObject({
      code: 'ENOENT',
      syscall: 'ftok',
      message: expect.stringMatching(/ftok needs an existing file/),
    });
  });

  it('sets the capacity in bytes (msg_qbytes) or in messages', async () => {
    expect((await privateQueue({ capacityBytes: 100 })).info()).toMatchObject({ capacityBytes: 100, capacity: 4 });
    expect((await privateQueue({ capacity: 3 })).info()).toMatchObject({ capacityBytes: 72, capacity: 3 });
    await expect(open('sysv:private', Sample, { create: true, capacity: 3, capacityBytes: 72 })).rejects.toMatchObject({
      code: 'ERR_IPC_VALIDATION',
      path: 'capacity',
    });
  });

  it('refuses a capacity above msgmnb without CAP_SYS_RESOURCE, naming the limit, and leaves no queue behind', async () => {
    const msgmnb = Number(readFileSync('/proc/sys/kernel/msgmnb', 'utf8'));
    const capEff = BigInt(`0x${/CapEff:\s*([0-9a-f]+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]}`);
    const before = sysvQueues().length;
    if ((capEff >> 24n) & 1n) {
      // With CAP_SYS_RESOURCE the kernel allows it: the queue gets the capacity asked for.
      expect((await privateQueue({ capacityBytes: msgmnb * 2 })).info().capacityBytes).toBe(msgmnb * 2);
      return;
    }
    await expect(open('sysv:private', Sample, { create: true, capacityBytes: msgmnb * 2 })).rejects.toMatchObject({
      code: 'EPERM',
      message: expect.stringContaining(`exceeds /proc/sys/kernel/msgmnb (${msgmnb})`),
    });
    expect(sysvQueues().length).toBe(before);
  });

  it('refuses a queue smaller than one message, and messages larger than msgmax, before anything is sent', async () => {
    await expect(open('sysv:private', Sample, { create: true, capacityBytes: 10 })).rejects.toMatchObject({
      code: 'ERR_IPC_MESSAGE_SIZE',
      message: expect.stringMatching(/msg_qbytes.*create the queue with capacityBytes >= 24/),
    });
    const msgmax = Number(readFileSync('/proc/sys/kernel/msgmax', 'utf8'));
    await expect(open('sysv:private', blob(msgmax + 1), { create: true })).rejects.toMatchObject({
      code: 'ERR_IPC_MESSAGE_SIZE',
      size: msgmax + 1,
      limit: msgmax,
      message: expect.stringContaining(`/proc/sys/kernel/msgmax (${msgmax})`),
    });
    // A message of exactly msgmax bytes goes through.
    const large = await openQueue('sysv:private', blob(msgmax), { create: true });
    const data = new Uint8Array(msgmax).map((_, i) => i & 0xff);
    await large.send({ data });
    expect((await large.receive()).value.data).toEqual(data);
  });

  it.each([
    [{ receiveType: 1.5 }, 'receiveType'],
    [{ except: true }, 'except'],
    [{ receiveType: -2, except: true }, 'except'],
    [{ pollMaxMs: 0 }, 'pollMaxMs'],
    [{ mode: 0o1000 }, 'mode'],
  ] as const)('refuses options %o', async (options, path) => {
    await expect(open('sysv:private', Sample, { create: true, ...options })).rejects.toMatchObject({
      code: 'ERR_IPC_VALIDATION',
      path,
    });
  });
});

describe('sysv: message types', () => {
  it('sends with type 1 by default and the priority as the type; Message.priority is the type', async () => {
    const queue = await privateQueue();
    await queue.send(sample(1));
    await queue.send(sample(2), { priority: 9 });
    expect(queue.trySend(sample(3), { priority: 2 ** 53 - 1 })).toBe(true);
    expect(await queue.receive()).toEqual({ value: sample(1), priority: 1 });
    expect(await queue.receive()).toEqual({ value: sample(2), priority: 9 });
    expect(queue.tryReceive()).toEqual({ value: sample(3), priority: 2 ** 53 - 1 });
    expect(queue.tryReceive()).toBeUndefined();
  });

  it.each([0, -1, 1.5, 2 ** 53, Number.NaN])('refuses type %d and sends nothing', async (type) => {
    const queue = await privateQueue();
    await expect(queue.send(sample(1), { priority: type })).rejects.toMatchObject({
      code: 'ERR_IPC_VALIDATION',
      path: 'priority',
      message: expect.stringMatching(/System V message type \(mtype\): an integer in \[1, 2\^53-1\]/),
    });
    expect(() => queue.trySend(sample(1), { priority: type })).toThrow(/mtype/);
    await expect(queue.sendMany([sample(1)], { priority: type })).rejects.toMatchObject({ path: 'priority' });
    expect(queue.info().pending).toBe(0);
  });

  it('receives any type in FIFO order, one type, the lowest type <= n, and every type but one', async () => {
    const writer = await privateQueue();
    const types = [5, 3, 7, 3, 1, 5];
    for (const [i, type] of types.entries()) await writer.send(sample(i), { priority: type });
    const at = (receiveType: number, except = false) =>
      openQueue(writer.url, Sample, { receiveType, except }) as Promise<SysvChannel<Sample>>;
    const three = await at(3);
    expect((await three.receiveMany(10)).map((m) => [m.priority, m.value.channel])).toEqual([
      [3, 1],
      [3, 3],
    ]);
    const notFive = await at(5, true);
    expect((await notFive.receive()).priority).toBe(7);
    const lowest = await at(-6);
    // Left: 5, 1, 5. msgrcv with a negative type takes the lowest type <= 6 first: 1, then a five.
    expect([(await lowest.receive()).priority, (await lowest.receive()).priority]).toEqual([1, 5]);
    expect(lowest.info()).toMatchObject({ receiveType: -6, pending: 1 });
    const any = await at(0);
    expect((await any.receiveMany(10)).map((m) => m.priority)).toEqual([5]);
    expect(lowest.tryReceive()).toBeUndefined();
  });

  it('drops a foreign message of another size with a DecodeError and goes on with the next', async () => {
    const queue = await privateQueue();
    const foreign = await openQueue(queue.url, blob(40));
    const short = await openQueue(queue.url, blob(8));
    await foreign.send({ data: new Uint8Array(40) }, { priority: 4 });
    await short.send({ data: new Uint8Array(8) });
    await queue.send(sample(1));
    await expect(queue.receive()).rejects.toMatchObject({
      code: 'ERR_IPC_DECODE',
      message: expect.stringMatching(/message of more than 24 bytes \(type 4\).*the message was dropped/),
    });
    await expect(queue.receive()).rejects.toMatchObject({
      message: expect.stringMatching(/message of 8 bytes \(type 1\)/),
    });
    expect((await queue.receive()).value).toEqual(sample(1));
  });
});

describe('sysv: info', () => {
  it('reports pending messages, bytes, the last sender and receiver and their times', async () => {
    const queue = await privateQueue();
    await queue.sendMany([sample(1), sample(2), sample(3)], { priority: 2 });
    const sent = queue.info();
    expect(sent).toMatchObject({ pending: 3, bytes: 72, lastSendPid: process.pid, lastReceivePid: 0 });
    expect(sent.lastSend?.getTime()).toBeGreaterThan(Date.now() - 60_000);
    expect(sent.lastReceive).toBeUndefined();
    await queue.receive();
    expect(queue.info()).toMatchObject({ pending: 2, bytes: 48, lastReceivePid: process.pid });
  });
});

describe('sysv: waiting', () => {
  it('a receive waits without blocking the event loop, and wakes when a message arrives', async () => {
    const queue = await privateQueue();
    const receiving = outcome(queue.receive({ timeoutMs: 10_000 }));
    let turns = 0;
    await new Promise<void>((resolve) => {
      const tick = (): void => {
        turns += 1;
        if (turns < 50) setTimeout(tick, 1);
        else resolve();
      };
      tick();
    });
    await queue.send(sample(7), { priority: 3 });
    expect(await fulfilled(receiving)).toEqual({ value: sample(7), priority: 3 });
    expect(turns).toBe(50);
  });

  it('a waiting receive of one type (or all but one) wakes only for its messages, which stay queued for others', async () => {
    const queue = await privateQueue();
    const two = await openQueue(queue.url, Sample, { receiveType: 2 });
    const notTwo = await openQueue(queue.url, Sample, { receiveType: 2, except: true });
    let twoDone = false;
    const receivingTwo = outcome(
      two.receive({ timeoutMs: 10_000 }).finally(() => {
        twoDone = true;
      }),
    );
    await queue.send(sample(1), { priority: 1 });
    await queue.send(sample(3), { priority: 3 });
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(twoDone).toBe(false);
    expect(queue.info().pending).toBe(2);
    await queue.send(sample(2), { priority: 2 });
    expect(await fulfilled(receivingTwo)).toEqual({ value: sample(2), priority: 2 });
    expect((await notTwo.receive({ timeoutMs: 10_000 })).priority).toBe(1);
    expect((await notTwo.receive({ timeoutMs: 10_000 })).priority).toBe(3);
  });

  it('a message of 0 bytes arriving under a waiting receive is a DecodeError, and the next message follows', async () => {
    const queue = await privateQueue();
    const receiving = outcome(queue.receive({ timeoutMs: 10_000 }));
    await new Promise((resolve) => setTimeout(resolve, 5));
    // What a foreign C writer does with msgsnd(id, &m, 0, 0): the mtype and no text.
    const empty = new Uint8Array(libc.MTYPE_SIZE);
    new DataView(empty.buffer).setUint32(0, 9, true);
    expect(libc.msgsnd(queue.info().id, empty, 0, libc.IPC_NOWAIT)).toBe(0);
    expect(await rejected(receiving, DecodeError)).toMatchObject({
      code: 'ERR_IPC_DECODE',
      message: expect.stringMatching(/message of 0 bytes \(type 9\).*the message was dropped/),
    });
    expect(queue.info().pending).toBe(0);
    const next = outcome(queue.receive({ timeoutMs: 10_000 }));
    await queue.send(sample(4));
    expect((await fulfilled(next)).value).toEqual(sample(4));
  });

  it('a send on a full queue waits for room, times out or is aborted; trySend says false', async () => {
    const queue = await privateQueue({ capacity: 2 });
    expect(queue.trySend(sample(1))).toBe(true);
    expect(queue.trySend(sample(2))).toBe(true);
    expect(queue.trySend(sample(3))).toBe(false);
    expect(await rejected(outcome(queue.send(sample(3), { timeoutMs: 30 })), TimeoutError)).toMatchObject({
      code: 'ERR_IPC_TIMEOUT',
    });
    const controller = new AbortController();
    const aborted = outcome(queue.send(sample(3), { signal: controller.signal }));
    setTimeout(() => controller.abort(new Error('enough')), 20);
    expect(await rejected(aborted, AbortError)).toMatchObject({ code: 'ABORT_ERR', cause: { message: 'enough' } });
    const waiting = outcome(queue.send(sample(3), { priority: 6 }));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect((await queue.receive()).value).toEqual(sample(1));
    await fulfilled(waiting);
    expect((await queue.receiveMany(5)).map((m) => [m.value.channel, m.priority])).toEqual([
      [2, 1],
      [3, 6],
    ]);
  });

  it('a receive times out, is aborted, and rejects when the channel closes; the iterator ends on close', async () => {
    const queue = await privateQueue();
    expect(await rejected(outcome(queue.receive({ timeoutMs: 25 })), TimeoutError)).toMatchObject({
      code: 'ERR_IPC_TIMEOUT',
      message: expect.stringContaining(`receive on ${queue.url} timed out after 25 ms`),
    });
    const controller = new AbortController();
    const aborted = outcome(queue.receive({ signal: controller.signal }));
    controller.abort();
    expect(await rejected(aborted, AbortError)).toMatchObject({ code: 'ABORT_ERR' });
    const other = await openQueue(queue.url, Sample);
    const seen: number[] = [];
    const iterating = outcome(
      (async () => {
        for await (const message of other) seen.push(message.value.channel);
      })(),
    );
    const waiting = outcome(other.receive());
    await queue.send(sample(1));
    await new Promise((resolve) => setTimeout(resolve, 30));
    await other.close();
    await fulfilled(iterating);
    // Whichever of the two waiters took the message (the loop, or the receive) has it, and the other
    // one ended with the close: the receive with ChannelClosedError, the loop without an error.
    const received = await waiting;
    if (received.status === 'fulfilled') {
      expect(received.value.value).toEqual(sample(1));
      expect(seen).toEqual([]);
    } else {
      expect(await rejected(waiting, ChannelClosedError)).toMatchObject({ code: 'ERR_IPC_CLOSED' });
      expect(seen).toEqual([1]);
    }
    expect(other.closed).toBe(true);
    // The queue itself outlives the closed channel.
    expect(queue.info().id).toBe(Number(other.url.slice('sysv:id='.length)));
  });

  it('removing the queue under waiting receives and sends rejects them with ChannelClosedError and ends iterators', async () => {
    const queue = await privateQueue({ capacity: 1 });
    const receiver = await openQueue(queue.url, Sample, { receiveType: 9 });
    const iterated: unknown[] = [];
    // Every operation's outcome is recorded from its creation on: the removal may reject them in any
    // order, and while the test awaits one, the others must not be unhandled rejections.
    const iterating = outcome(
      (async () => {
        for await (const message of receiver) iterated.push(message);
      })(),
    );
    const receiving = outcome(receiver.receive());
    await queue.send(sample(1));
    const sending = outcome(queue.send(sample(2)));
    await new Promise((resolve) => setTimeout(resolve, 30));
    await unlink(queue.url);
    for (const pending of [receiving, sending]) {
      expect(await rejected(pending, ChannelClosedError)).toMatchObject({
        code: 'ERR_IPC_CLOSED',
        message: expect.stringMatching(/was removed \(IPC_RMID/),
        cause: { code: expect.stringMatching(/^(EIDRM|EINVAL)$/) },
      });
    }
    await fulfilled(iterating);
    expect(iterated).toEqual([]);
    expect(receiver.closed).toBe(true);
    expect(queue.closed).toBe(true);
    await expect(unlink(queue.url)).rejects.toMatchObject({ message: expect.stringMatching(/no queue has this id/) });
  });

  it('an unref()ed waiting channel lets the process exit; a ref()ed one keeps it alive until its timeout', async () => {
    const script = join(tmpdir(), `${uniqueName('unref')}.mts`);
    cleanup.add(() => rmSync(script, { force: true }));
    const index = join(process.cwd(), 'src', 'index.ts');
    writeFileSync(
      script,
      `import { open, unlink, struct, u32 } from ${JSON.stringify(index)};
const codec = struct('m', { n: u32 });
const queue = await open('sysv:private', codec, { create: true, ref: process.argv[2] !== 'unref' });
console.log(queue.url);
process.on('exit', () => { void unlink(queue.url); console.log('exit'); });
const started = performance.now();
queue.receive({ timeoutMs: 400 }).catch((e) => console.log(e.code, Math.round(performance.now() - started) >= 350));
`,
    );
    const run = async (mode: string): Promise<string[]> => {
      const { stdout } = await finished(spawnTs(script, [mode]), 30_000);
      const [url = '', ...rest] = stdout.trim().split('\n');
      // The child removes its queue as it exits; should it die first, the queue goes here.
      if (url.startsWith('sysv:id=')) cleanup.add(() => unlink(url));
      return rest;
    };
    expect(await run('unref')).toEqual(['exit']);
    expect(await run('ref')).toEqual(['ERR_IPC_TIMEOUT true', 'exit']);
  });
});
