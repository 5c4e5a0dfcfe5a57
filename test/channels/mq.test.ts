import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type Channel, open, readQueueAttributes, unlink } from '../../src/channels/index.js';
import type { OpenOptions } from '../../src/channels/transport.js';
import type { MessageCodec } from '../../src/codecs/codec.js';
import { msgpack } from '../../src/codecs/index.js';
import {
  AbortError,
  ChannelClosedError,
  DecodeError,
  MessageSizeError,
  SystemError,
  TimeoutError,
  UnsupportedError,
  ValidationError,
} from '../../src/errors.js';
import { libc, mqueue } from '../../src/native/index.js';
import { Cleanup, uniqueName } from '../helpers.js';
import { blob, Sample } from './sample.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const limits = mqueue.mqueueLimits();
const PRIO_MAX = libc.sysconf(libc._SC_MQ_PRIO_MAX);

/** A fresh queue URL, unlinked after the test. */
function queueUrl(tag = 'mq'): string {
  const url = `mq:/${uniqueName(tag)}`;
  cleanup.add(() => unlink(url));
  return url;
}

/** Opens a channel that is closed after the test. */
async function openChannel<T>(url: string, codec: MessageCodec<T>, options: OpenOptions = {}): Promise<Channel<T>> {
  const channel = await open(url, codec, options);
  cleanup.add(() => channel.close());
  return channel;
}

const sample = (n: number): Sample => ({ channel: n % 65536, timestamp: BigInt(n) * 1000n, value: n / 4 });

/** Sends raw bytes to the queue as another program would (a descriptor of our own, not a channel). */
function foreignSend(url: string, bytes: Uint8Array, priority = 0): void {
  const mqd = libc.mqOpen(url.slice('mq:'.length), libc.O_WRONLY | libc.O_NONBLOCK);
  expect(mqd).toBeGreaterThanOrEqual(0);
  try {
    expect(libc.mqSend(mqd, bytes, bytes.length, priority)).toBe(0);
  } finally {
    libc.mqClose(mqd);
  }
}

/** Permission bits of an existing queue, read with fstat on a descriptor of our own. */
function queueMode(url: string): number {
  const mqd = libc.mqOpen(url.slice('mq:'.length), libc.O_RDONLY | libc.O_NONBLOCK);
  expect(mqd).toBeGreaterThanOrEqual(0);
  try {
    const stat = new Uint8Array(libc.STAT_SIZE);
    expect(libc.fstat(mqd, stat)).toBe(0);
    return new DataView(stat.buffer).getUint32(libc.ST_MODE_OFFSET, true) & 0o777;
  } finally {
    libc.mqClose(mqd);
  }
}

async function drain<T>(channel: Channel<T>): Promise<T[]> {
  const values: T[] = [];
  for (let message = channel.tryReceive(); message !== undefined; message = channel.tryReceive()) {
    values.push(message.value);
  }
  return values;
}

describe('mq: open', () => {
  it('creates a queue whose mq_msgsize is the codec size and moves values both ways', async () => {
    const url = queueUrl();
    const tx = await openChannel(url, Sample, { create: true, capacity: 4, access: 'send' });
    const rx = await openChannel(url, Sample, { access: 'receive' });
    await tx.send(sample(1), { priority: 3 });
    expect(rx.info()).toEqual({
      url,
      transport: 'mq',
      name: url.slice(3),
      access: 'receive',
      capacity: 4,
      messageSize: 24,
      pending: 1,
    });
    expect(await rx.receive()).toEqual({ value: sample(1), priority: 3 });
    expect(rx.info().pending).toBe(0);
  });

  it('gives a new queue mode 0600 by default and exactly the mode asked for, whatever the umask', async () => {
    const first = queueUrl();
    await openChannel(first, Sample, { create: true });
    expect(queueMode(first)).toBe(0o600);
    const shared = queueUrl();
    const umask = process.umask(0o077);
    try {
      await openChannel(shared, Sample, { create: true, mode: 0o660 });
    } finally {
      process.umask(umask);
    }
    expect(queueMode(shared)).toBe(0o660);
  });

  it('uses msg_default as the capacity unless told, and the capacity asked for otherwise', async () => {
    const url = queueUrl();
    const channel = await openChannel(url, Sample, { create: true });
    expect(channel.info().capacity).toBe(Math.min(limits.msgDefault!, limits.msgMax!));
    const two = await openChannel(queueUrl(), Sample, { create: true, capacity: 2 });
    expect(two.info().capacity).toBe(2);
  });

  it('opens an existing queue with create (no EEXIST) and refuses it with exclusive', async () => {
    const url = queueUrl();
    const owner = await openChannel(url, Sample, { create: true, exclusive: true, capacity: 3 });
    const again = await openChannel(url, Sample, { create: true, capacity: 5 });
    expect(again.info().capacity).toBe(3);
    await owner.send(sample(7));
    expect((await again.receive()).value).toEqual(sample(7));
    const error = await open(url, Sample, { create: true, exclusive: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SystemError);
    expect(error).toMatchObject({ code: 'EEXIST', errno: 17, syscall: 'mq_open', path: url.slice(3) });
    expect((error as SystemError).message).toMatch(/without `exclusive`/);
  });

  it('refuses to open a missing queue without create, saying how to create it', async () => {
    const url = queueUrl();
    const error = await open(url, Sample).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SystemError);
    expect(error).toMatchObject({ code: 'ENOENT', syscall: 'mq_open', path: url.slice(3) });
    expect((error as SystemError).message).toMatch(/create: true/);
  });

  it('readQueueAttributes tells the shape of a queue without a schema and consumes nothing', async () => {
    const url = queueUrl();
    const tx = await openChannel(url, Sample, { create: true, capacity: 3 });
    await tx.sendMany([sample(1), sample(2)]);
    expect(readQueueAttributes(url.slice(3))).toEqual({ capacity: 3, messageSize: 24, pending: 2 });
    expect(await drain(tx)).toEqual([sample(1), sample(2)]);
    const missing = (() => {
      try {
        return readQueueAttributes(`/${uniqueName('none')}`);
      } catch (error) {
        return error;
      }
    })();
    expect(missing).toBeInstanceOf(SystemError);
    expect(missing).toMatchObject({ code: 'ENOENT', syscall: 'mq_open' });
    expect(() => readQueueAttributes('no-slash')).toThrow(ValidationError);
  });

  it('refuses a queue whose mq_msgsize differs from the codec size, naming both sizes', async () => {
    const url = queueUrl();
    await openChannel(url, Sample, { create: true });
    for (const options of [{}, { create: true }] as const) {
      const error = await open(url, blob(32), options).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MessageSizeError);
      expect(error).toMatchObject({ code: 'ERR_IPC_MESSAGE_SIZE', size: 32, limit: 24 });
      expect((error as Error).message).toContain('24 bytes (its mq_msgsize)');
      expect((error as Error).message).toContain('blob32 messages are 32 bytes');
    }
  });

  it('explains an EINVAL from mq_open with the mqueue limit that was exceeded', async () => {
    const tooMany = limits.msgMax! + 1;
    const error = await open(queueUrl(), Sample, { create: true, capacity: tooMany }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SystemError);
    expect(error).toMatchObject({ code: 'EINVAL', syscall: 'mq_open' });
    expect((error as SystemError).hint).toContain(
      `capacity ${tooMany} exceeds /proc/sys/fs/mqueue/msg_max (${limits.msgMax})`,
    );
    expect((error as SystemError).hint).toContain(`sysctl -w fs.mqueue.msg_max=${tooMany}`);

    const big = limits.msgsizeMax! + 8;
    const sizeError = await open(queueUrl(), blob(big), { create: true, capacity: 1 }).catch((e: unknown) => e);
    expect(sizeError).toMatchObject({ code: 'EINVAL', syscall: 'mq_open' });
    expect((sizeError as SystemError).hint).toContain(
      `message size ${big} exceeds /proc/sys/fs/mqueue/msgsize_max (${limits.msgsizeMax})`,
    );
    expect((sizeError as SystemError).hint).not.toContain('msg_max (');
  });

  it('validates names: a leading slash, no other slash, at most NAME_MAX bytes', async () => {
    const longest = `/${'q'.repeat(255)}`;
    const channel = await openChannel(`mq:${longest}`, Sample, { create: true, capacity: 1 });
    cleanup.add(() => unlink(`mq:${longest}`));
    expect(channel.info().name).toBe(longest);
    const bad: [string, RegExp][] = [
      ['mq:/', /names no queue/],
      ['mq:/a/b', /holds a "\/" after the first character/],
      [`mq:/${'q'.repeat(256)}`, /256 bytes long after the "\/", more than NAME_MAX \(255\)/],
      [`mq:/${'é'.repeat(128)}`, /256 bytes long/],
      ['mq:/..', /names no queue/],
      ['mq:/a\0b', /NUL/],
    ];
    for (const [url, reason] of bad) {
      const error = await open(url, Sample, { create: true }).catch((e: unknown) => e);
      expect(error, url).toBeInstanceOf(ValidationError);
      // parseUrl refuses a NUL anywhere in a URL before the queue name is looked at.
      expect((error as ValidationError).path).toBe(url.includes('\0') ? 'url' : 'name');
      expect((error as Error).message).toMatch(reason);
      await expect(unlink(url)).rejects.toBeInstanceOf(ValidationError);
    }
    await expect(open('mq:samples', Sample)).rejects.toBeInstanceOf(ValidationError);
  });

  it('validates the options', async () => {
    const url = queueUrl();
    const cases: [OpenOptions, string][] = [
      [{ create: true, capacity: 0 }, 'capacity'],
      [{ create: true, capacity: 1.5 }, 'capacity'],
      [{ create: true, mode: 0o1777 }, 'mode'],
      [{ create: true, mode: -1 }, 'mode'],
      [{ exclusive: true }, 'exclusive'],
      [{ create: true, access: 'write' as 'send' }, 'access'],
    ];
    for (const [options, path] of cases) {
      const error = await open(url, Sample, options).catch((e: unknown) => e);
      expect(error, JSON.stringify(options)).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).path).toBe(path);
    }
    await expect(open(url, Sample)).rejects.toMatchObject({ code: 'ENOENT' }); // nothing was created
  });

  it('unlinks: the name goes at once, a second unlink says there is nothing to remove', async () => {
    const url = `mq:/${uniqueName('unlink')}`;
    const channel = await openChannel(url, Sample, { create: true, capacity: 2 });
    await unlink(url);
    await expect(open(url, Sample)).rejects.toMatchObject({ code: 'ENOENT' });
    await channel.send(sample(1)); // the open descriptor still works until closed
    expect((await channel.receive()).value).toEqual(sample(1));
    const error = await unlink(url).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ENOENT', syscall: 'mq_unlink', path: url.slice(3) });
    expect((error as Error).message).toContain('no queue has this name');
  });
});

describe('mq: send and receive', () => {
  it('delivers the highest priority first and keeps FIFO order within a priority', async () => {
    const url = queueUrl();
    const channel = await openChannel(url, Sample, { create: true, capacity: 10 });
    const priorities = [1, 5, 1, 0, 5, 3, PRIO_MAX - 1, 0, 3, 1];
    for (const [i, priority] of priorities.entries()) await channel.send(sample(i), { priority });
    const received: [number, number][] = [];
    for (let i = 0; i < priorities.length; i++) {
      const { value, priority } = await channel.receive();
      received.push([priority, value.channel]);
    }
    const expected = priorities
      .map((priority, i): [number, number] => [priority, i])
      .sort((a, b) => b[0] - a[0] || a[1] - b[1]);
    expect(received).toEqual(expected);
  });

  it('accepts priorities in [0, sysconf(_SC_MQ_PRIO_MAX)) and refuses the rest before sending', async () => {
    const channel = await openChannel(queueUrl(), Sample, { create: true, capacity: 10 });
    for (const priority of [-1, 1.5, Number.NaN, PRIO_MAX, 2 ** 32, '1' as unknown as number]) {
      const error = await channel.send(sample(1), { priority }).catch((e: unknown) => e);
      expect(error, String(priority)).toBeInstanceOf(ValidationError);
      expect((error as Error).message).toContain(`an integer in [0, ${PRIO_MAX}), sysconf(_SC_MQ_PRIO_MAX)`);
      expect(() => channel.trySend(sample(1), { priority })).toThrow(ValidationError);
    }
    expect(channel.info().pending).toBe(0);
    expect(channel.trySend(sample(2), { priority: PRIO_MAX - 1 })).toBe(true);
    expect(await channel.receive()).toEqual({ value: sample(2), priority: PRIO_MAX - 1 });
  });

  it('refuses an invalid value with ValidationError and sends nothing', async () => {
    const channel = await openChannel(queueUrl(), Sample, { create: true, capacity: 4 });
    await expect(channel.send({ channel: 70000, timestamp: 1n, value: 0 })).rejects.toBeInstanceOf(ValidationError);
    await expect(channel.sendMany([sample(1), { channel: -1, timestamp: 0n, value: 0 }])).rejects.toBeInstanceOf(
      ValidationError,
    );
    expect(channel.info().pending).toBe(0);
  });

  it('trySend reports a full queue; send waits for room and loses nothing (backpressure)', async () => {
    const url = queueUrl();
    const tx = await openChannel(url, Sample, { create: true, capacity: 2, access: 'send' });
    const rx = await openChannel(url, Sample, { access: 'receive' });
    expect(tx.trySend(sample(0))).toBe(true);
    expect(tx.trySend(sample(1))).toBe(true);
    expect(tx.trySend(sample(2))).toBe(false);
    let sent = 0;
    const waiting = [3, 4, 5].map((n) => tx.send(sample(n)).then(() => sent++));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(sent).toBe(0);
    expect(rx.info().pending).toBe(2);
    const values: Sample[] = [];
    while (values.length < 5) values.push((await rx.receive()).value);
    await Promise.all(waiting);
    expect(values).toEqual([0, 1, 3, 4, 5].map(sample));
    expect(rx.tryReceive()).toBeUndefined();
  });

  it('sendMany waits for room as needed and keeps the order', async () => {
    const url = queueUrl();
    const tx = await openChannel(url, Sample, { create: true, capacity: 3 });
    const rx = await openChannel(url, Sample, { access: 'receive' });
    const values = Array.from({ length: 40 }, (_, i) => sample(i));
    const sending = tx.sendMany(values, { priority: 2 });
    const received: Sample[] = [];
    while (received.length < values.length) {
      for (const message of await rx.receiveMany(8)) {
        expect(message.priority).toBe(2);
        received.push(message.value);
      }
    }
    await sending;
    expect(received).toEqual(values);
  });

  it('times out a receive on an empty queue and a send on a full one, sending nothing', async () => {
    const channel = await openChannel(queueUrl(), Sample, { create: true, capacity: 1 });
    const receiveError = await channel.receive({ timeoutMs: 30 }).catch((e: unknown) => e);
    expect(receiveError).toBeInstanceOf(TimeoutError);
    expect((receiveError as Error).message).toMatch(/^receive on mq:\/.* timed out after 30 ms$/);
    await channel.send(sample(1));
    const sendError = await channel.send(sample(2), { timeoutMs: 30 }).catch((e: unknown) => e);
    expect(sendError).toBeInstanceOf(TimeoutError);
    expect(await drain(channel)).toEqual([sample(1)]);
  });

  it('a sendMany withdrawn by its timeout names how many of the call were sent, and exactly those arrive', async () => {
    const channel = await openChannel(queueUrl(), Sample, { create: true, capacity: 4 });
    const values = Array.from({ length: 7 }, (_, i) => sample(i));
    const error = await channel.sendMany(values, { timeoutMs: 30 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    // Counted over the whole call: the 4 that went out before it had to wait, of its 7.
    expect((error as Error).message).toMatch(/: 4 of the 7 messages of this call were sent, the rest withdrawn$/);
    expect(await drain(channel)).toEqual(values.slice(0, 4));
  });

  it('aborts a waiting receive or send through its AbortSignal, with the reason as cause', async () => {
    const channel = await openChannel(queueUrl(), Sample, { create: true, capacity: 1 });
    const controller = new AbortController();
    const receiving = channel.receive({ signal: controller.signal });
    controller.abort(new Error('shutting down'));
    const error = await receiving.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AbortError);
    expect((error as AbortError).cause).toEqual(new Error('shutting down'));
    await expect(channel.receive({ signal: controller.signal })).rejects.toBeInstanceOf(AbortError);

    await channel.send(sample(1));
    const sendController = new AbortController();
    const sending = channel.send(sample(2), { signal: sendController.signal });
    setTimeout(() => sendController.abort(), 20);
    await expect(sending).rejects.toBeInstanceOf(AbortError);
    expect(await drain(channel)).toEqual([sample(1)]);
  });

  it('receives what arrives after the wait began, and only once per message', async () => {
    const url = queueUrl();
    const rx = await openChannel(url, Sample, { create: true, capacity: 10, access: 'receive' });
    const tx = await openChannel(url, Sample, { access: 'send' });
    const receivers = [rx.receive(), rx.receive(), rx.receive()];
    setTimeout(() => {
      for (let i = 0; i < 3; i++) tx.trySend(sample(i));
    }, 20);
    const values = (await Promise.all(receivers)).map((m) => m.value.channel).sort();
    expect(values).toEqual([0, 1, 2]);
  });

  it('refuses to send on a receive-only end and to receive on a send-only end', async () => {
    const url = queueUrl();
    const rx = await openChannel(url, Sample, { create: true, access: 'receive' });
    const tx = await openChannel(url, Sample, { access: 'send' });
    expect(() => rx.trySend(sample(1))).toThrow(UnsupportedError);
    await expect(rx.send(sample(1))).rejects.toThrow(/opened with access 'receive': it cannot send/);
    expect(rx.info().pending).toBe(0);
    await expect(tx.receive()).rejects.toThrow(/opened with access 'send': it cannot receive/);
    expect(() => tx.tryReceive()).toThrow(UnsupportedError);
  });

  it('turns a foreign message of the wrong size into a DecodeError and keeps working', async () => {
    const url = queueUrl();
    const channel = await openChannel(url, Sample, { create: true, capacity: 10 });
    foreignSend(url, new Uint8Array(10), 4);
    await channel.send(sample(1));
    const error = await channel.receive().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DecodeError);
    expect((error as Error).message).toContain('a message of 10 bytes (priority 4)');
    expect((error as Error).message).toContain('sample messages are 24 bytes');
    expect(await channel.receive()).toEqual({ value: sample(1), priority: 0 });

    // In a batch, the messages before the bad one are delivered and the error comes next.
    await channel.send(sample(2));
    foreignSend(url, new Uint8Array(0));
    await channel.send(sample(3));
    const batch = await channel.receiveMany(10);
    expect(batch.map((m) => m.value)).toEqual([sample(2)]);
    await expect(channel.receive()).rejects.toBeInstanceOf(DecodeError);
    expect((await channel.receive()).value).toEqual(sample(3));
  });
});

describe('mq: variable-size messages (msgpack)', () => {
  const Event = msgpack(z.object({ kind: z.string(), tags: z.array(z.number()) }), { maxSize: 64, name: 'event' });

  it('creates the queue with mq_msgsize = maxSize and moves messages of any size up to it', async () => {
    const url = queueUrl();
    const channel = await openChannel(url, Event, { create: true, capacity: 4 });
    expect(channel.info().messageSize).toBe(64);
    const events = [
      { kind: 'a', tags: [] },
      { kind: 'longer kind', tags: [1, 2, 3, 4, 5, 6, 7, 8] },
    ];
    for (const event of events) await channel.send(event, { priority: 1 });
    expect((await channel.receive()).value).toEqual(events[0]);
    expect((await channel.receive()).value).toEqual(events[1]);
  });

  it('refuses an encoding above maxSize before sending anything', async () => {
    const channel = await openChannel(queueUrl(), Event, { create: true, capacity: 4 });
    const error = await channel.send({ kind: 'x'.repeat(100), tags: [] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MessageSizeError);
    expect((error as Error).message).toContain('above maxSize 64');
    expect(channel.info().pending).toBe(0);
  });

  it('turns undecodable bytes from a foreign writer into a DecodeError and keeps working', async () => {
    const url = queueUrl();
    const channel = await openChannel(url, Event, { create: true, capacity: 4 });
    foreignSend(url, new Uint8Array([0xc1]));
    await channel.send({ kind: 'ok', tags: [1] });
    await expect(channel.receive()).rejects.toBeInstanceOf(DecodeError);
    expect((await channel.receive()).value).toEqual({ kind: 'ok', tags: [1] });
  });
});

describe('mq: lifecycle', () => {
  it('iterates until the channel is closed', async () => {
    const url = queueUrl();
    const rx = await openChannel(url, Sample, { create: true, capacity: 10 });
    const tx = await openChannel(url, Sample, { access: 'send' });
    const seen: number[] = [];
    const iterating = (async () => {
      for await (const { value } of rx) {
        seen.push(value.channel);
        if (seen.length === 5) setTimeout(() => rx.close(), 10);
      }
    })();
    for (let i = 0; i < 5; i++) await tx.send(sample(i));
    await iterating;
    expect(seen).toEqual([0, 1, 2, 3, 4]);
    expect(rx.closed).toBe(true);
  });

  it('closes idempotently; waits reject and later use throws ChannelClosedError', async () => {
    const url = queueUrl();
    const channel = await open(url, Sample, { create: true, capacity: 1 });
    const waiting = channel.receive();
    await channel.close();
    await channel.close();
    expect(channel.closed).toBe(true);
    await expect(waiting).rejects.toBeInstanceOf(ChannelClosedError);
    await expect(channel.send(sample(1))).rejects.toBeInstanceOf(ChannelClosedError);
    await expect(channel.receive()).rejects.toBeInstanceOf(ChannelClosedError);
    expect(() => channel.trySend(sample(1))).toThrow(ChannelClosedError);
    expect(() => channel.tryReceive()).toThrow(ChannelClosedError);
    expect(() => channel.info()).toThrow(ChannelClosedError);
  });

  it('closes with await using', async () => {
    const url = queueUrl();
    let kept: Channel<Sample> | undefined;
    {
      await using channel = await open(url, Sample, { create: true, capacity: 1 });
      kept = channel;
      await channel.send(sample(1));
    }
    expect(kept.closed).toBe(true);
    const reopened = await openChannel(url, Sample);
    expect((await reopened.receive()).value).toEqual(sample(1));
  });
});
