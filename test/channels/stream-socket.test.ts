import { existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { Channel, Listener } from '../../src/channels/channel.js';
import { connect, listen } from '../../src/channels/index.js';
import type { StreamChannel, StreamListener } from '../../src/channels/stream.js';
import type { SocketOptions } from '../../src/channels/transport.js';
import type { MessageCodec } from '../../src/codecs/codec.js';
import { msgpack } from '../../src/codecs/index.js';
import {
  ChannelClosedError,
  MessageSizeError,
  SystemError,
  TimeoutError,
  UnsupportedError,
  ValidationError,
} from '../../src/errors.js';
import { libc } from '../../src/native/index.js';
import { Cleanup, uniqueName } from '../helpers.js';
import { intact, jsonCodec, type Rec, rec, recordCodec } from './stream-records.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

function unixUrl(tag: string): string {
  const path = join(tmpdir(), uniqueName(tag));
  cleanup.add(() => libc.unlink(path));
  return `unix+stream:${path}`;
}

async function listening<T = Rec>(
  url: string,
  codec: MessageCodec<T> = recordCodec() as unknown as MessageCodec<T>,
  options: SocketOptions = {},
): Promise<Listener<T>> {
  const listener = await listen(url, codec, options);
  cleanup.add(() => listener.close());
  return listener;
}

async function connected<T = Rec>(
  listener: Listener<T>,
  codec: MessageCodec<T> = recordCodec() as unknown as MessageCodec<T>,
): Promise<[StreamChannel<T>, StreamChannel<T>]> {
  const [client, server] = await Promise.all([connect(listener.url, codec), listener.accept()]);
  cleanup.add(() => client.close());
  cleanup.add(() => server.close());
  return [client as StreamChannel<T>, server as StreamChannel<T>];
}

/** Shrinks the kernel buffers of both ends so that writes and reads are taken in small parts. */
function tinyBuffers(bytes: number, ...channels: StreamChannel<unknown>[]): void {
  const small = new Uint8Array(new Int32Array([bytes]).buffer);
  for (const channel of channels) {
    expect(libc.setsockopt(channel.fd, libc.SOL_SOCKET, libc.SO_SNDBUF, small, 4)).toBe(0);
    expect(libc.setsockopt(channel.fd, libc.SOL_SOCKET, libc.SO_RCVBUF, small, 4)).toBe(0);
  }
}

async function exchange(client: Channel<Rec>, server: Channel<Rec>, total: number, size: number): Promise<void> {
  const values = Array.from({ length: total }, (_, i) => rec(i, 0, size));
  const sending = (async () => {
    await client.sendMany(values.slice(0, total / 2));
    for (const value of values.slice(total / 2, (3 * total) / 4)) await client.send(value);
    await Promise.all(values.slice((3 * total) / 4).map((value) => client.send(value)));
    await client.close();
  })();
  const got: Rec[] = [];
  for await (const { value } of server) got.push(value);
  await sending;
  expect(got.length).toBe(total);
  expect(got.every((value, i) => value.seq === i && intact(value))).toBe(true);
}

describe('unix+stream: channels', () => {
  it('listens with mode 0600, connects, carries records both ways and knows its peer', async () => {
    const url = unixUrl('basic');
    const listener = await listening(url);
    const path = url.slice('unix+stream:'.length);
    expect(statSync(path).isSocket()).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const [client, server] = await connected(listener);
    expect(server.peer).toEqual({ pid: process.pid, uid: libc.geteuid(), gid: libc.getegid() });
    expect(client.peer?.pid).toBe(process.pid);
    expect(server.info()).toMatchObject({ transport: 'unix+stream', peer: { pid: process.pid } });
    await client.sendMany([rec(1), rec(2)]);
    await server.send(rec(3));
    expect((await server.receiveMany(5)).map((m) => m.value)).toEqual([rec(1), rec(2)]);
    expect((await client.receive()).value).toEqual(rec(3));
    await expect(client.send(rec(1), { priority: 3 })).rejects.toThrow(UnsupportedError);
    await listener.close();
    expect(existsSync(path)).toBe(false);
  });

  it('works in the abstract namespace', async () => {
    const listener = await listening(`unix+stream:@${uniqueName('abstract')}`);
    const [client, server] = await connected(listener);
    await client.send(rec(4));
    expect((await server.receive()).value).toEqual(rec(4));
  });

  it('accepts only peers that pass `allow`, on either side', async () => {
    const url = unixUrl('allow');
    const seen: number[] = [];
    const listener = (await listening(url, recordCodec(), {
      allow: (peer: { pid: number }) => {
        seen.push(peer.pid);
        return seen.length > 1;
      },
    })) as unknown as StreamListener<Rec>;
    const refused = await connect(url, recordCodec());
    cleanup.add(() => refused.close());
    const admitted = await connect(url, recordCodec());
    cleanup.add(() => admitted.close());
    const server = await listener.accept();
    cleanup.add(() => server.close());
    expect(seen).toEqual([process.pid, process.pid]);
    expect(listener.refusedPeers).toBe(1);
    // The refused connection was closed by the listener: its client sees the end of the stream.
    await expect(refused.receive({ timeoutMs: 2000 })).rejects.toThrow(ChannelClosedError);
    await admitted.send(rec(1));
    expect((await server.receive()).value).toEqual(rec(1));

    await expect(connect(url, recordCodec(), { allow: [libc.geteuid() + 1] })).rejects.toThrow(
      /is not allowed by the allow option/,
    );
    await expect(listen(unixUrl('bad'), recordCodec(), { allow: 'root' as never })).rejects.toThrow(ValidationError);
  });

  it('reassembles records through tiny socket buffers (partial sends and reads)', async () => {
    for (const size of [24, 5000, 100_000]) {
      const listener = await listening(unixUrl(`tiny${size}`), recordCodec(size));
      const [client, server] = await connected(listener, recordCodec(size));
      tinyBuffers(2048, client, server);
      await exchange(client, server, size > 10_000 ? 40 : 2000, size);
    }
  });

  it('frames variable-size messages with a length prefix over a socket', async () => {
    const codec = jsonCodec(1000);
    const listener = await listening(unixUrl('json'), codec);
    const [client, server] = await connected(listener, codec);
    tinyBuffers(2048, client, server);
    const values = Array.from({ length: 300 }, (_, i) => ({ i, text: 'z'.repeat(i * 3) }));
    const sending = client.sendMany(values);
    const got: unknown[] = [];
    while (got.length < values.length) got.push(...(await server.receiveMany(500)).map((m) => m.value));
    await sending;
    expect(got).toEqual(values);
  });

  it('carries msgpack messages (variable size) through tiny buffers, and refuses oversized ones', async () => {
    const codec = msgpack(z.object({ id: z.number().int(), tags: z.array(z.string()) }), { maxSize: 600 });
    const listener = await listening(unixUrl('msgpack'), codec);
    const [client, server] = await connected(listener, codec);
    tinyBuffers(2048, client, server);
    const values = Array.from({ length: 500 }, (_, id) => ({ id, tags: Array.from({ length: id % 40 }, () => 'tag') }));
    const sending = client.sendMany(values);
    const got: unknown[] = [];
    while (got.length < values.length) got.push(...(await server.receiveMany(100)).map((m) => m.value));
    await sending;
    expect(got).toEqual(values);
    await expect(client.send({ id: 1, tags: Array.from({ length: 200 }, () => 'long tag') })).rejects.toThrow(
      MessageSizeError,
    );
    await client.send({ id: 2, tags: [] });
    expect((await server.receive()).value).toEqual({ id: 2, tags: [] });
  });

  it('fails to connect where nobody listens, and times out accept', async () => {
    const url = unixUrl('nobody');
    await expect(connect(url, recordCodec())).rejects.toThrow(/ENOENT/);
    const listener = await listening(url);
    await expect(listener.accept({ timeoutMs: 30 })).rejects.toThrow(TimeoutError);
    await expect(listen(url, recordCodec())).rejects.toThrow(/EADDRINUSE/);
  });

  it('sending to a closed peer is ChannelClosedError; the iterator ends when the peer closes', async () => {
    const listener = await listening(unixUrl('peerclose'));
    const [client, server] = await connected(listener);
    await server.close();
    await expect(client.send(rec(1))).rejects.toThrow(ChannelClosedError);
    const [client2, server2] = await connected(listener);
    await client2.send(rec(1));
    await client2.close();
    const got: Rec[] = [];
    for await (const { value } of server2) got.push(value);
    expect(got).toEqual([rec(1)]);
  });

  it('the listener iterates over connections and ends when closed', async () => {
    const listener = await listening(unixUrl('iter'));
    const clients = await Promise.all([1, 2, 3].map(() => connect(listener.url, recordCodec())));
    for (const client of clients) cleanup.add(() => client.close());
    const accepted: Channel<Rec>[] = [];
    for await (const channel of listener) {
      accepted.push(channel);
      cleanup.add(() => channel.close());
      if (accepted.length === 3) break;
    }
    expect(accepted.length).toBe(3);
    const pending = listener.accept();
    await listener.close();
    await expect(pending).rejects.toThrow(ChannelClosedError);
  });
});

describe('tcp: channels', () => {
  it('listens on port 0, reports the port, and carries records both ways', async () => {
    const listener = await listening('tcp://127.0.0.1:0');
    expect(listener.url).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    expect(listener.url).not.toBe('tcp://127.0.0.1:0');
    const [client, server] = await connected(listener);
    await client.send(rec(1));
    await server.sendMany([rec(2), rec(3)]);
    expect((await server.receive()).value).toEqual(rec(1));
    expect((await client.receiveMany(2)).map((m) => m.value)).toEqual([rec(2), rec(3)]);
  });

  it('works over IPv6 and with host names', async () => {
    const listener = await listening('tcp://[::1]:0');
    expect(listener.url).toMatch(/^tcp:\/\/\[::1\]:\d+$/);
    const [client, server] = await connected(listener);
    await client.send(rec(9));
    expect((await server.receive()).value).toEqual(rec(9));
    const named = await listening('tcp://localhost:0');
    const [a, b] = await connected(named);
    await b.send(rec(8));
    expect((await a.receive()).value).toEqual(rec(8));
  });

  it('reassembles records through tiny socket buffers', async () => {
    const listener = await listening('tcp://127.0.0.1:0', recordCodec(5000));
    const [client, server] = await connected(listener, recordCodec(5000));
    // Below ~16 KiB, loopback TCP's receive window collapses and data moves at the pace of the persist
    // timer (a few segments a second); 16 KiB still splits every 5000-byte record across reads and writes.
    tinyBuffers(16_384, client, server);
    await exchange(client, server, 1000, 5000);
  });

  it('refuses a connection nobody listens for, and a peer gone is ChannelClosedError', async () => {
    const listener = await listening('tcp://127.0.0.1:0');
    const port = Number(listener.url.split(':').pop());
    const [client, server] = await connected(listener);
    await listener.close();
    await expect(connect(`tcp://127.0.0.1:${port}`, recordCodec())).rejects.toThrow(SystemError);
    await expect(connect(`tcp://127.0.0.1:${port}`, recordCodec())).rejects.toThrow(/ECONNREFUSED/);
    await server.close();
    // The first send may still be accepted by the kernel; the reset then fails the next ones.
    const outcome = await (async () => {
      for (let i = 0; i < 100; i++) {
        await client.send(rec(i));
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    })().catch((error: unknown) => error);
    expect(outcome).toBeInstanceOf(ChannelClosedError);
  });
});
