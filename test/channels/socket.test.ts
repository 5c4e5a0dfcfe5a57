import { existsSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { bind, type Channel, connect, type DatagramChannel, listen, unlink } from '../../src/channels/index.js';
import {
  ChannelClosedError,
  DecodeError,
  MessageSizeError,
  SystemError,
  TimeoutError,
  UnsupportedError,
  ValidationError,
} from '../../src/errors.js';
import { Cleanup, finished, rawCodec, spawnTs, uniqueName } from '../helpers.js';
import { Sample } from './sample.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

function socketPath(tag: string): string {
  const path = join(tmpdir(), `${uniqueName(tag)}.sock`);
  cleanup.add(() => unlink(`unix+dgram:${path}`));
  return path;
}

function track<C extends { close(): Promise<void> }>(channel: C): C {
  cleanup.add(() => channel.close());
  return channel;
}

/** A datagram sender's own address (what the receiver sees as `from`). */
function localUrl(channel: Channel<unknown>): string | undefined {
  return (channel as DatagramChannel<unknown>).localUrl;
}

const sample = (i: number) => ({ channel: i % 65536, timestamp: BigInt(i), value: i / 2 });

describe('allow on UDP sockets', () => {
  it.each([
    ['bind', 'udp://127.0.0.1:0'],
    ['connect', 'udp://127.0.0.1:9'],
  ] as const)('%s %s refuses allow (no sender credentials to check), opening nothing', async (operation, url) => {
    const open = operation === 'bind' ? bind : connect;
    const error = await open(url, Sample, { allow: [0] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnsupportedError);
    expect((error as Error).message).toMatch(/carry no sender credentials, so `allow` cannot be enforced/);
  });
});

describe('unix+dgram', () => {
  it('delivers from a connected sender to a bound receiver, with from, and replies to from', async () => {
    const url = `unix+dgram:${socketPath('dg')}`;
    const rx = track(await bind(url, Sample));
    const tx = track(await connect(url, Sample));
    await tx.send(sample(1));
    const message = await rx.receive({ timeoutMs: 2000 });
    expect(message.value).toEqual(sample(1));
    expect(message.priority).toBe(0);
    expect(message.from).toMatch(/^unix\+dgram:@[0-9a-f]{5}$/);
    await rx.sendTo(message.from as string, sample(2));
    const reply = await tx.receive({ timeoutMs: 2000 });
    expect(reply.value).toEqual(sample(2));
    expect(reply.from).toBe(url);
  });

  it('creates the socket file with mode 0600 (or the given mode) and removes it on close', async () => {
    const path = socketPath('mode');
    const rx = track(await bind(`unix+dgram:${path}`, Sample));
    expect(statSync(path).isSocket()).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    await rx.close();
    expect(existsSync(path)).toBe(false);
    const other = socketPath('mode2');
    const rx2 = track(await bind(`unix+dgram:${other}`, Sample, { mode: 0o640 }));
    expect(statSync(other).mode & 0o777).toBe(0o640);
    await rx2.close();
  });

  it('works in the abstract namespace', async () => {
    const url = `unix+dgram:@${uniqueName('abs')}`;
    const rx = track(await bind(url, Sample));
    const tx = track(await connect(url, Sample));
    await tx.send(sample(7));
    expect((await rx.receive({ timeoutMs: 2000 })).value).toEqual(sample(7));
    await expect(bind(url, Sample)).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });

  it('never takes over a live address, but replaces a stale socket file', async () => {
    const path = socketPath('stale');
    const url = `unix+dgram:${path}`;
    const live = track(await bind(url, Sample));
    const error = await bind(url, Sample).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SystemError);
    expect(error).toMatchObject({ code: 'EADDRINUSE', syscall: 'bind' });
    expect((error as Error).message).toMatch(/live process/);
    // The live receiver still gets messages sent to the address.
    const tx = track(await connect(url, Sample));
    await tx.send(sample(3));
    expect((await live.receive({ timeoutMs: 2000 })).value).toEqual(sample(3));

    // A process that dies without closing leaves its socket file behind.
    const child = spawnTs('test/channels/peers/bind-and-die.ts', [url]);
    const result = await finished(child);
    expect(result.code).toBe(3);
    expect(result.stdout).toMatch(/EADDRINUSE.*live process/);
    await live.close();
    const orphan = socketPath('orphan');
    const orphanUrl = `unix+dgram:${orphan}`;
    const dead = await finished(spawnTs('test/channels/peers/bind-and-die.ts', [orphanUrl]));
    expect(dead.code).toBe(0);
    expect(statSync(orphan).isSocket()).toBe(true);
    const rebound = track(await bind(orphanUrl, Sample));
    const tx2 = track(await connect(orphanUrl, Sample));
    await tx2.send(sample(4));
    expect((await rebound.receive({ timeoutMs: 2000 })).value).toEqual(sample(4));
  });

  it('refuses to replace a path that is not a socket', async () => {
    const path = socketPath('file');
    // unlink() of a socket URL leaves a regular file alone (that is the point), so remove it directly.
    cleanup.add(() => rmSync(path, { force: true }));
    writeFileSync(path, 'not a socket');
    await expect(bind(`unix+dgram:${path}`, Sample)).rejects.toMatchObject({ code: 'EADDRINUSE' });
    expect(statSync(path).isFile()).toBe(true);
  });

  it('reports oversized (MSG_TRUNC) and short datagrams as DecodeError and keeps going', async () => {
    const url = `unix+dgram:@${uniqueName('trunc')}`;
    const rx = track(await bind(url, Sample));
    const big = track(await connect(url, rawCodec(40)));
    const small = track(await connect(url, rawCodec(8)));
    const good = track(await connect(url, Sample));
    await big.send(new Uint8Array(40).fill(1));
    await small.send(new Uint8Array(8).fill(2));
    await good.send(sample(5));
    const oversized = await rx.receive({ timeoutMs: 2000 }).catch((e: unknown) => e);
    expect(oversized).toBeInstanceOf(DecodeError);
    expect((oversized as Error).message).toMatch(
      /40-byte datagram.*larger than the 24-byte sample message \(MSG_TRUNC\)/,
    );
    const short = await rx.receive({ timeoutMs: 2000 }).catch((e: unknown) => e);
    expect(short).toBeInstanceOf(DecodeError);
    expect((short as Error).message).toMatch(/8-byte datagram.*expected exactly 24 bytes/);
    expect((await rx.receive({ timeoutMs: 2000 })).value).toEqual(sample(5));
  });

  it('does not lose the good datagrams around a bad one in receiveMany', async () => {
    const url = `unix+dgram:@${uniqueName('batchbad')}`;
    const rx = track(await bind(url, Sample));
    const good = track(await connect(url, Sample));
    const bad = track(await connect(url, rawCodec(4)));
    await good.sendMany([sample(1), sample(2)]);
    await bad.send(new Uint8Array(4));
    await good.sendMany([sample(3), sample(4)]);
    expect((await rx.receiveMany(10, { timeoutMs: 2000 })).map((m) => m.value)).toEqual([sample(1), sample(2)]);
    await expect(rx.receiveMany(10, { timeoutMs: 2000 })).rejects.toBeInstanceOf(DecodeError);
    const rest = await rx.receiveMany(10, { timeoutMs: 2000 });
    expect(rest.map((m) => m.value)).toEqual([sample(3), sample(4)]);
    expect(rest[0]?.from).toBe(localUrl(good));
  });

  it('waits when the receiver is full (backpressure) and loses nothing', async () => {
    const url = `unix+dgram:@${uniqueName('bp')}`;
    const rx = track(await bind(url, Sample));
    const tx = track(await connect(url, Sample));
    let filled = 0;
    while (tx.trySend(sample(filled))) filled++;
    expect(filled).toBeGreaterThan(0);
    let done = false;
    const pending = tx.send(sample(filled)).then(() => {
      done = true;
    });
    await new Promise((r) => setTimeout(r, 50));
    expect(done).toBe(false);
    const first = await rx.receive();
    expect(first.value).toEqual(sample(0));
    await pending;
    const rest = [];
    for (let i = 1; i <= filled; i++) rest.push((await rx.receive({ timeoutMs: 2000 })).value);
    expect(rest).toEqual(Array.from({ length: filled }, (_, i) => sample(i + 1)));
    await expect(tx.send(sample(0), { timeoutMs: 10 })).resolves.toBeUndefined();
    while (tx.trySend(sample(0))) {}
    await expect(tx.send(sample(0), { timeoutMs: 30 })).rejects.toBeInstanceOf(TimeoutError);
  });

  it('refuses priorities, sends with no peer and bad values before sending anything', async () => {
    const url = `unix+dgram:@${uniqueName('prio')}`;
    const rx = track(await bind(url, Sample));
    const tx = track(await connect(url, Sample));
    await expect(tx.send(sample(1), { priority: 1 })).rejects.toBeInstanceOf(UnsupportedError);
    await expect(tx.send(sample(1), { priority: 1 })).rejects.toThrow(/priority must be 0/);
    await expect(tx.sendMany([sample(1)], { priority: 2 })).rejects.toBeInstanceOf(UnsupportedError);
    await expect(rx.send(sample(1))).rejects.toThrow(/sendTo\(message.from/);
    await expect(tx.sendMany([sample(1), { ...sample(2), channel: 70000 }])).rejects.toBeInstanceOf(ValidationError);
    expect(rx.tryReceive()).toBeUndefined();
    await tx.send(sample(9), { priority: 0 });
    expect((await rx.receive({ timeoutMs: 2000 })).value).toEqual(sample(9));
  });

  it('gives ChannelClosedError when the bound receiver is gone', async () => {
    const url = `unix+dgram:@${uniqueName('gone')}`;
    const rx = track(await bind(url, Sample));
    const tx = track(await connect(url, Sample));
    await rx.close();
    await expect(tx.send(sample(1))).rejects.toBeInstanceOf(ChannelClosedError);
    await expect(connect(url, Sample)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await expect(rx.receive()).rejects.toBeInstanceOf(ChannelClosedError);
  });

  it('sends and receives batches with sendMany/receiveMany', async () => {
    const url = `unix+dgram:@${uniqueName('many')}`;
    const rx = track(await bind(url, Sample));
    const tx = track(await connect(url, Sample));
    const values = Array.from({ length: 1000 }, (_, i) => sample(i));
    const sending = tx.sendMany(values);
    const received: unknown[] = [];
    while (received.length < values.length) {
      for (const message of await rx.receiveMany(300, { timeoutMs: 5000 })) {
        expect(message.from).toBe(localUrl(tx));
        received.push(message.value);
      }
    }
    await sending;
    expect(received).toEqual(values);
  });
});

describe('unix+seqpacket', () => {
  it('listens, accepts connections with peer credentials, and ends iteration at EOF', async () => {
    const path = socketPath('seq');
    const url = `unix+seqpacket:${path}`;
    const listener = track(await listen(url, Sample));
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const client = track(await connect(url, Sample));
    const server = track(await listener.accept({ timeoutMs: 2000 }));
    expect(server.peer).toEqual({ pid: process.pid, uid: process.getuid?.(), gid: process.getgid?.() });
    expect(client.peer?.pid).toBe(process.pid);
    await client.sendMany([sample(1), sample(2)]);
    await client.send(sample(3));
    await server.send(sample(4));
    expect((await client.receive({ timeoutMs: 2000 })).value).toEqual(sample(4));
    await client.close();
    const seen = [];
    for await (const message of server) {
      expect(message.from).toBeUndefined();
      seen.push(message.value);
    }
    expect(seen).toEqual([sample(1), sample(2), sample(3)]);
    await expect(server.receive()).rejects.toBeInstanceOf(ChannelClosedError);
    await listener.close();
    expect(existsSync(path)).toBe(false);
  });

  it('gives ChannelClosedError (not SIGPIPE) when sending to a dead peer', async () => {
    const url = `unix+seqpacket:@${uniqueName('epipe')}`;
    const listener = track(await listen(url, Sample));
    const client = track(await connect(url, Sample));
    const server = track(await listener.accept({ timeoutMs: 2000 }));
    await server.close();
    const error = await client.send(sample(1)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ChannelClosedError);
    expect((error as Error).message).toMatch(/EPIPE|ECONNRESET/);
    await expect(client.sendMany([sample(1), sample(2)])).rejects.toBeInstanceOf(ChannelClosedError);
  });

  it('replaces a stale socket file but never a live listener', async () => {
    const path = socketPath('seqstale');
    const url = `unix+seqpacket:${path}`;
    const dead = await finished(spawnTs('test/channels/peers/bind-and-die.ts', [url]));
    expect(dead.code).toBe(0);
    expect(statSync(path).isSocket()).toBe(true);
    const listener = track(await listen(url, Sample));
    const live = await finished(spawnTs('test/channels/peers/bind-and-die.ts', [url]));
    expect(live.code).toBe(3);
    expect(live.stdout).toMatch(/EADDRINUSE.*live process/);
    // The probe's connection reaches the live listener as a connection that ends at once.
    const probe = track(await listener.accept({ timeoutMs: 2000 }));
    await expect(probe.receive({ timeoutMs: 2000 })).rejects.toBeInstanceOf(ChannelClosedError);
    const client = track(await connect(url, Sample));
    const server = track(await listener.accept({ timeoutMs: 2000 }));
    await client.send(sample(8));
    expect((await server.receive({ timeoutMs: 2000 })).value).toEqual(sample(8));
  });

  it('iterates over connections and stops when the listener closes', async () => {
    const url = `unix+seqpacket:@${uniqueName('iter')}`;
    const listener = track(await listen(url, Sample));
    const clients: Channel<Sample>[] = [];
    for (let i = 0; i < 3; i++) clients.push(track(await connect(url, Sample)));
    const accepted = [];
    for await (const connection of listener) {
      track(connection);
      accepted.push(connection);
      if (accepted.length === 3) setTimeout(() => listener.close(), 10);
    }
    expect(accepted).toHaveLength(3);
    await expect(listener.accept()).rejects.toBeInstanceOf(ChannelClosedError);
  });

  it('refuses peers that allow rejects, on both sides', async () => {
    const url = `unix+seqpacket:@${uniqueName('allow')}`;
    const listener = track(await listen(url, Sample, { allow: [12345] }));
    const refused = track(await connect(url, Sample));
    const accepting = listener.accept({ timeoutMs: 300 });
    await expect(accepting).rejects.toBeInstanceOf(TimeoutError);
    // The refused peer sees its connection closed.
    await expect(refused.receive({ timeoutMs: 2000 })).rejects.toBeInstanceOf(ChannelClosedError);
    await expect(connect(url, Sample, { allow: (peer) => peer.uid === 12345 })).rejects.toMatchObject({
      code: 'EACCES',
    });
  });

  it('refuses an allow option that is neither uids nor a function', async () => {
    const bad = { allow: 'root' as unknown as number[] };
    await expect(listen(`unix+seqpacket:@${uniqueName('badallow')}`, Sample, bad)).rejects.toBeInstanceOf(
      ValidationError,
    );
    await expect(connect(`unix+seqpacket:@${uniqueName('badallow')}`, Sample, bad)).rejects.toThrow(/allow/);
  });

  it('says nobody listens when connecting to nothing', async () => {
    const error = await connect(`unix+seqpacket:@${uniqueName('none')}`, Sample).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SystemError);
    expect(error).toMatchObject({ code: 'ECONNREFUSED', syscall: 'connect' });
    expect((error as Error).message).toMatch(/start the listening side first/);
  });
});

describe('udp', () => {
  for (const host of ['127.0.0.1', '[::1]']) {
    it(`carries samples over ${host} with from, and replies`, async () => {
      const rx = track(await bind(`udp://${host}:0`, Sample));
      expect(rx.localUrl).toMatch(/^udp:\/\/.*:\d+$/);
      const tx = track(await connect(rx.localUrl as string, Sample));
      await tx.sendMany([sample(1), sample(2)]);
      await tx.send(sample(3));
      const got = [];
      while (got.length < 3) got.push(...(await rx.receiveMany(3, { timeoutMs: 2000 })));
      expect(got.map((m) => m.value)).toEqual([sample(1), sample(2), sample(3)]);
      expect(got[0]?.from).toBe(localUrl(tx));
      await rx.sendTo(got[0]?.from as string, sample(4));
      expect((await tx.receive({ timeoutMs: 2000 })).value).toEqual(sample(4));
    });
  }

  it('refuses codecs over the 65 507-byte payload limit up front', async () => {
    const error = await bind('udp://127.0.0.1:0', rawCodec(65_508)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MessageSizeError);
    expect(error).toMatchObject({ size: 65_508, limit: 65_507 });
    expect((error as Error).message).toMatch(/largest UDP payload over IPv4 \(65507 bytes\)/);
    const ok = track(await bind('udp://127.0.0.1:0', rawCodec(65_507)));
    const tx = track(await connect(ok.localUrl as string, rawCodec(65_507)));
    await tx.send(new Uint8Array(65_507).fill(7));
    const got = await ok.receive({ timeoutMs: 2000 });
    expect(got.value.length).toBe(65_507);
    expect(got.value.every((b) => b === 7)).toBe(true);
  });
});

describe('socket channel edges', () => {
  it('refuses operations a transport does not have, with what it offers', async () => {
    await expect((async () => listen('udp://127.0.0.1:0', Sample))()).rejects.toThrow(
      /udp: channels do not support listen\(\); use connect, bind/,
    );
    await expect((async () => bind(`unix+seqpacket:@${uniqueName('nb')}`, Sample))()).rejects.toBeInstanceOf(
      UnsupportedError,
    );
    const url = `unix+seqpacket:@${uniqueName('st')}`;
    const listener = track(await listen(url, Sample));
    const client = track(await connect(url, Sample));
    await expect((client as DatagramChannel<Sample>).sendTo(url, sample(1))).rejects.toThrow(
      /use send\(\), not sendTo/,
    );
    await listener.close();
  });

  it('refuses a codec larger than a UNIX socket can carry, before anything is sent', async () => {
    const huge = rawCodec(9 * 1024 * 1024);
    const error = await bind(`unix+dgram:@${uniqueName('huge')}`, huge).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MessageSizeError);
    expect((error as Error).message).toMatch(/SO_SNDBUF .* \/proc\/sys\/net\/core\/wmem_max/);
    // A large message that fits once SO_SNDBUF is raised goes through whole.
    const url = `unix+dgram:@${uniqueName('large')}`;
    const large = rawCodec(300_000);
    const rx = track(await bind(url, large));
    const tx = track(await connect(url, large));
    await tx.send(new Uint8Array(300_000).fill(9));
    const got = await rx.receive({ timeoutMs: 2000 });
    expect(got.value.length).toBe(300_000);
    expect(got.value[299_999]).toBe(9);
  });

  it('refuses a UDP codec over the IPv6 payload limit (65 527 bytes)', async () => {
    await expect(bind('udp://[::1]:0', rawCodec(65_528))).rejects.toMatchObject({ limit: 65_527 });
  });

  it('seqpacket send waits while the peer does not read, then delivers everything', async () => {
    const url = `unix+seqpacket:@${uniqueName('bpseq')}`;
    const listener = track(await listen(url, Sample));
    const tx = track(await connect(url, Sample));
    const rx = track(await listener.accept({ timeoutMs: 2000 }));
    const values = Array.from({ length: 5000 }, (_, i) => sample(i));
    let sent = false;
    const sending = tx.sendMany(values).then(() => {
      sent = true;
    });
    await new Promise((r) => setTimeout(r, 50));
    expect(sent).toBe(false); // 5000 messages do not fit in the socket buffer
    const got = [];
    while (got.length < values.length) got.push(...(await rx.receiveMany(1000, { timeoutMs: 5000 })));
    await sending;
    expect(got.map((m) => m.value)).toEqual(values);
  });

  it('sendTo backs off while the peer is full, and honours timeoutMs', async () => {
    const url = `unix+dgram:@${uniqueName('bpto')}`;
    const rx = track(await bind(url, Sample));
    const tx = track(await connect(url, Sample));
    await tx.send(sample(0));
    const { from } = await rx.receive({ timeoutMs: 2000 });
    let sent = 0;
    for (;;) {
      const result = await rx.sendTo(from as string, sample(sent), { timeoutMs: 20 }).then(
        () => true,
        (e: unknown) => e,
      );
      if (result !== true) {
        expect(result).toBeInstanceOf(TimeoutError);
        break;
      }
      sent++;
    }
    expect(sent).toBeGreaterThan(0);
    // The receiver's queue is full; this one waits (on a timer: polling cannot see the peer's queue).
    const late = rx.sendTo(from as string, sample(sent), { timeoutMs: 5000 });
    const got = [];
    for (let i = 0; i < sent; i++) got.push((await tx.receive({ timeoutMs: 2000 })).value);
    await late;
    got.push((await tx.receive({ timeoutMs: 2000 })).value);
    expect(got).toEqual(Array.from({ length: sent + 1 }, (_, i) => sample(i)));
  });

  it('reports addresses and buffer sizes in info(), and use after close fails', async () => {
    const url = `unix+dgram:@${uniqueName('info')}`;
    const rx = track(await bind(url, Sample));
    const tx = track(await connect(url, Sample));
    expect(rx.info()).toMatchObject({ url, transport: 'unix+dgram', messageSize: 24, localUrl: url });
    expect(tx.info()).toMatchObject({ peerUrl: url, localUrl: localUrl(tx) });
    expect(tx.info().sendBufferBytes).toBeGreaterThan(24);
    await tx.close();
    await tx.close();
    expect(tx.closed).toBe(true);
    await expect(tx.send(sample(1))).rejects.toBeInstanceOf(ChannelClosedError);
    await expect(tx.sendMany([sample(1)])).rejects.toBeInstanceOf(ChannelClosedError);
    await expect(tx.receiveMany(5)).rejects.toBeInstanceOf(ChannelClosedError);
    await rx.close();
  });

  it('rejects bad URLs and unknown reply addresses with ValidationError', async () => {
    await expect(bind(`unix+dgram:/tmp/${'x'.repeat(120)}`, Sample)).rejects.toBeInstanceOf(ValidationError);
    const rx = track(await bind(`unix+dgram:@${uniqueName('badto')}`, Sample));
    await expect(rx.sendTo('udp://127.0.0.1:9', sample(1))).rejects.toBeInstanceOf(ValidationError);
    await expect(rx.sendTo(`unix+dgram:@${uniqueName('nobody')}`, sample(1))).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    });
  });
});

describe('socket errors', () => {
  it('says what to do when the socket directory does not exist', async () => {
    const error = await bind(`unix+dgram:/nonexistent-${uniqueName('dir')}/s.sock`, Sample).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SystemError);
    expect(error).toMatchObject({ code: 'ENOENT', syscall: 'bind' });
    expect((error as Error).message).toMatch(/directory .* does not exist: create it first/);
  });
});
