import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect, listen, open } from '../../src/channels/index.js';
import type { StreamChannel } from '../../src/channels/stream.js';
import { ChannelClosedError, SystemError } from '../../src/errors.js';
import { libc } from '../../src/native/index.js';
import { Cleanup, compileC, finished, repoRoot, spawnTs, uniqueName } from '../helpers.js';
import { intact, type Rec, rec, recordCodec } from './stream-records.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const COUNT = 100_000;
const child = join(repoRoot, 'test', 'channels', 'stream-child.ts');
let peer = '';
beforeAll(() => {
  peer = compileC('stream_peer', [join(repoRoot, 'test', 'c', 'stream_peer.c')]);
});

function tempPath(tag: string): string {
  const path = join(tmpdir(), uniqueName(tag));
  cleanup.add(() => libc.unlink(path));
  return path;
}

function run(command: string, args: string[]) {
  const process = command === 'node' ? spawnTs(child, args) : spawn(peer, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  cleanup.add(() => process.kill('SIGKILL'));
  return process;
}

/** Receives until the stream ends; checks that every writer's records are whole and in order. */
async function drain(channel: StreamChannel<Rec>, writers: number): Promise<number[]> {
  const next = new Array<number>(writers).fill(0);
  for (;;) {
    let batch: { value: Rec }[];
    try {
      batch = await channel.receiveMany(4096, { timeoutMs: 30_000 });
    } catch (error) {
      if (error instanceof ChannelClosedError) return next;
      throw error;
    }
    for (const { value } of batch) {
      if (!intact(value) || value.seq !== next[value.writer]) {
        throw new Error(`record seq ${value.seq} writer ${value.writer}: expected seq ${next[value.writer]}, intact`);
      }
      next[value.writer] = value.seq + 1;
    }
  }
}

describe('byte streams across processes (100 000 records, none lost)', () => {
  it('Node writer → Node reader over a FIFO', async () => {
    const path = tempPath('n2n');
    const rx = (await open(`fifo:${path}`, recordCodec(), { create: true, access: 'receive' })) as StreamChannel<Rec>;
    cleanup.add(() => rx.close());
    const writer = run('node', ['write', `fifo:${path}`, String(COUNT), '24', '0', '256']);
    const [counts, result] = await Promise.all([drain(rx, 1), finished(writer)]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(counts).toEqual([COUNT]);
  });

  it('two Node writers sharing one FIFO (shared: true, one-page pipe): records never interleave', async () => {
    const path = tempPath('shared');
    const rx = (await open(`fifo:${path}`, recordCodec(40), { create: true, access: 'receive' })) as StreamChannel<Rec>;
    cleanup.add(() => rx.close());
    expect(libc.fcntl(rx.fd, libc.F_SETPIPE_SZ, 4096)).toBe(4096);
    // The test holds a write end of its own until both writers are done: otherwise a writer that
    // finishes before the other one opens would bring the end of the stream (no writer left) early.
    const keeper = libc.open(path, libc.O_WRONLY | libc.O_NONBLOCK, 0);
    expect(keeper).toBeGreaterThan(0);
    const half = COUNT / 2;
    const writers = [0, 1].map((w) =>
      run('node', ['write', `fifo:${path}`, String(half), '40', String(w), w === 0 ? '300' : '-300', 'shared']),
    );
    const draining = drain(rx, 2);
    const results = await Promise.all(writers.map((w) => finished(w)));
    libc.close(keeper);
    for (const result of results) expect(result.code).toBe(0);
    expect(await draining).toEqual([half, half]);
  });

  it('C writer → Node reader over a FIFO, and Node writer → C reader', async () => {
    const path = tempPath('c2n');
    const rx = (await open(`fifo:${path}`, recordCodec(), { create: true, access: 'receive' })) as StreamChannel<Rec>;
    cleanup.add(() => rx.close());
    const writer = run('c', ['write', `fifo:${path}`, String(COUNT), '24', '0', '7']);
    const [counts, result] = await Promise.all([drain(rx, 1), finished(writer)]);
    expect(result.code).toBe(0);
    expect(counts).toEqual([COUNT]);

    const path2 = tempPath('n2c');
    const { mkfifo } = libc;
    expect(mkfifo(path2, 0o600)).toBe(0);
    const reader = run('c', ['read', `fifo:${path2}`, String(COUNT), '5000']);
    const tx = await open(`fifo:${path2}`, recordCodec(5000), { access: 'send', timeoutMs: 10_000 });
    cleanup.add(() => tx.close());
    for (let seq = 0; seq < 2000; seq += 100) {
      await tx.sendMany(Array.from({ length: 100 }, (_, i) => rec(seq + i, 0, 5000)));
    }
    await tx.close();
    const done = await finished(reader);
    expect(done.stderr).toBe('');
    expect(done.stdout.trim()).toBe('2000');
  });

  it('Node ↔ Node and Node ↔ C over unix+stream and tcp', async () => {
    const path = tempPath('sock');
    const listener = await listen(`unix+stream:${path}`, recordCodec());
    cleanup.add(() => listener.close());
    const reader = run('node', ['read', `unix+stream:${path}`, String(COUNT), '24']);
    const server = await listener.accept({ timeoutMs: 30_000 });
    cleanup.add(() => server.close());
    for (let seq = 0; seq < COUNT; seq += 1000) {
      await server.sendMany(Array.from({ length: 1000 }, (_, i) => rec(seq + i)));
    }
    const result = await finished(reader);
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe(String(COUNT));
    await server.close();

    const cReader = run('c', ['read', `unix:${path}`, String(COUNT), '24']);
    const cServer = await listener.accept({ timeoutMs: 30_000 });
    cleanup.add(() => cServer.close());
    expect((cServer as StreamChannel<Rec>).peer?.pid).toBe(cReader.pid);
    for (let seq = 0; seq < COUNT; seq++) await cServer.send(rec(seq));
    const cResult = await finished(cReader);
    expect(cResult.stdout.trim()).toBe(String(COUNT));

    const tcp = await listen('tcp://127.0.0.1:0', recordCodec());
    cleanup.add(() => tcp.close());
    const cWriter = run('c', ['write', `tcp:${tcp.url.split(':').pop()}`, String(COUNT), '24', '0', '33']);
    const tcpServer = (await tcp.accept({ timeoutMs: 30_000 })) as StreamChannel<Rec>;
    cleanup.add(() => tcpServer.close());
    const [counts, wResult] = await Promise.all([drain(tcpServer, 1), finished(cWriter)]);
    expect(wResult.code).toBe(0);
    expect(counts).toEqual([COUNT]);
  });

  it('a reader killed mid-stream makes the writer fail with ChannelClosedError, not die of SIGPIPE', async () => {
    const path = tempPath('kill');
    expect(libc.mkfifo(path, 0o600)).toBe(0);
    const reader = run('c', ['read', `fifo:${path}`, String(COUNT * 10), '24']);
    const tx = await open(`fifo:${path}`, recordCodec(), { access: 'send', timeoutMs: 10_000 });
    cleanup.add(() => tx.close());
    await tx.sendMany(Array.from({ length: 1000 }, (_, i) => rec(i)));
    reader.kill('SIGKILL');
    await finished(reader);
    const outcome = await (async () => {
      for (let seq = 1000; ; seq += 1000) await tx.sendMany(Array.from({ length: 1000 }, (_, i) => rec(seq + i)));
    })().catch((error: unknown) => error);
    expect(outcome).toBeInstanceOf(ChannelClosedError);
  });
});

describe('connect() over TCP to an unknown host name', () => {
  it('fails with a system error, not a crash', async () => {
    const failed = connect('tcp://no-such-host.invalid:1', recordCodec());
    await expect(failed).rejects.toBeInstanceOf(SystemError);
    await expect(failed).rejects.toMatchObject({ syscall: 'getaddrinfo', path: 'no-such-host.invalid' });
  });
});
