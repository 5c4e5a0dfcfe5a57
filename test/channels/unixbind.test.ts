/**
 * The socket files of every UNIX socket kind (unixbind.ts, shared by socket.ts and stream.ts): exact
 * mode whatever the umask, stale files replaced, live addresses never taken over, and close removing
 * only this socket's own file.
 */
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { bind, type Channel, connect, listen, unlink } from '../../src/channels/index.js';
import { ChannelClosedError, SystemError, ValidationError } from '../../src/errors.js';
import { Cleanup, finished, spawnTs, uniqueName } from '../helpers.js';
import { Sample } from './sample.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

type Kind = 'unix+dgram' | 'unix+seqpacket' | 'unix+stream';
const kinds: Kind[] = ['unix+dgram', 'unix+seqpacket', 'unix+stream'];

function socketPath(tag: string): string {
  const path = join(tmpdir(), `${uniqueName(tag)}.sock`);
  cleanup.add(() => rmSync(path, { force: true }));
  return path;
}

/** Binds (unix+dgram) or listens (the connection kinds) at `url`, closed after the test. */
async function claim(kind: Kind, url: string, mode?: number): Promise<{ close(): Promise<void> }> {
  const options = mode === undefined ? {} : { mode };
  const claimed = kind === 'unix+dgram' ? await bind(url, Sample, options) : await listen(url, Sample, options);
  cleanup.add(() => claimed.close());
  return claimed;
}

function track<C extends { close(): Promise<void> }>(channel: C): C {
  cleanup.add(() => channel.close());
  return channel;
}

const sample = (i: number) => ({ channel: i, timestamp: BigInt(i), value: i / 4 });

/** Runs `body` with the process umask set to `mask` (the test pool runs each file in its own process). */
async function withUmask<R>(mask: number, body: () => Promise<R>): Promise<R> {
  const previous = process.umask(mask);
  try {
    return await body();
  } finally {
    process.umask(previous);
  }
}

describe('socket file mode', () => {
  it.each(kinds.flatMap((kind) => [0o660, 0o666, 0o640].map((mode) => [kind, mode.toString(8), mode] as const)))(
    '%s: mode 0%s is exact under umask 077',
    async (kind, _octal, mode) => {
      const path = socketPath('mode');
      await withUmask(0o077, () => claim(kind, `${kind}:${path}`, mode));
      const stat = statSync(path);
      expect(stat.isSocket()).toBe(true);
      expect((stat.mode & 0o7777).toString(8)).toBe(mode.toString(8));
    },
  );

  it.each(kinds)('%s: the default mode is 0600 even under umask 0', async (kind) => {
    const path = socketPath('default');
    await withUmask(0, () => claim(kind, `${kind}:${path}`));
    expect((statSync(path).mode & 0o7777).toString(8)).toBe('600');
  });

  it.each(kinds)('%s: a mode that is not permission bits is a ValidationError and binds nothing', async (kind) => {
    const path = socketPath('badmode');
    for (const mode of [-1, 0o10000, 1.5]) {
      const error = await claim(kind, `${kind}:${path}`, mode).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as Error).message).toMatch(/0o7777/);
      expect(existsSync(path)).toBe(false);
    }
  });
});

describe('stale socket files', () => {
  it.each(kinds)('%s: a socket file left by a dead process is replaced', async (kind) => {
    const path = socketPath('stale');
    const url = `${kind}:${path}`;
    const dead = await finished(spawnTs('test/channels/peers/bind-and-die.ts', [url]));
    expect(dead.code).toBe(0);
    const orphan = statSync(path);
    expect(orphan.isSocket()).toBe(true);
    const claimed = await claim(kind, url);
    // The new socket is the one reachable at the path (inode numbers prove nothing: the orphan's freed
    // inode number is often handed straight to the new file).
    const sender = track(await connect(url, Sample));
    if (kind === 'unix+dgram') {
      await sender.send(sample(1));
      expect((await (claimed as Channel<Sample>).receive({ timeoutMs: 2000 })).value).toEqual(sample(1));
    } else {
      const listener = claimed as Awaited<ReturnType<typeof listen<Sample>>>;
      const server = track(await listener.accept({ timeoutMs: 2000 }));
      await sender.send(sample(2));
      expect((await server.receive({ timeoutMs: 2000 })).value).toEqual(sample(2));
    }
  });

  it('unix+stream: a live listener is never taken over, by another process or this one', async () => {
    const path = socketPath('live');
    const url = `unix+stream:${path}`;
    const listener = track(await listen(url, Sample));
    const inode = statSync(path).ino;
    const other = await finished(spawnTs('test/channels/peers/bind-and-die.ts', [url]));
    expect(other.code).toBe(3);
    expect(other.stdout).toMatch(/EADDRINUSE.*live process/);
    const error = await listen(url, Sample).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SystemError);
    expect(error).toMatchObject({ code: 'EADDRINUSE', syscall: 'bind' });
    expect((error as Error).message).toMatch(/live process/);
    expect(statSync(path).ino).toBe(inode);
    // Each probe reaches the live listener as a connection that ends at once; then real clients get in.
    for (let i = 0; i < 2; i++) {
      const probe = track(await listener.accept({ timeoutMs: 2000 }));
      await expect(probe.receive({ timeoutMs: 2000 })).rejects.toBeInstanceOf(ChannelClosedError);
    }
    const client = track(await connect(url, Sample));
    const server = track(await listener.accept({ timeoutMs: 2000 }));
    await client.send(sample(3));
    expect((await server.receive({ timeoutMs: 2000 })).value).toEqual(sample(3));
  });

  it('unix+stream: a live socket of another type at the path is not taken over either', async () => {
    const path = socketPath('othertype');
    const receiver = track(await bind(`unix+dgram:${path}`, Sample));
    const error = await listen(`unix+stream:${path}`, Sample).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'EADDRINUSE', syscall: 'bind' });
    const sender = track(await connect(`unix+dgram:${path}`, Sample));
    await sender.send(sample(4));
    expect((await receiver.receive({ timeoutMs: 2000 })).value).toEqual(sample(4));
  });

  it('unix+stream: a path that is not a socket is neither replaced nor unlinked', async () => {
    const path = socketPath('file');
    writeFileSync(path, 'keep me');
    const url = `unix+stream:${path}`;
    const error = await listen(url, Sample).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'EADDRINUSE', syscall: 'bind' });
    expect((error as Error).message).toMatch(/not a socket/);
    await expect(unlink(url)).rejects.toMatchObject({ code: 'ENOTSOCK', syscall: 'unlink' });
    expect(readFileSync(path, 'utf8')).toBe('keep me');
    rmSync(path);
    await expect(unlink(url)).rejects.toMatchObject({ code: 'ENOENT', syscall: 'unlink' });
  });
});

describe('removal on close', () => {
  it.each(kinds)('%s: close removes its own file, but not a newer socket file at the same path', async (kind) => {
    const path = socketPath('own');
    const url = `${kind}:${path}`;
    const first = await claim(kind, url);
    await first.close();
    expect(existsSync(path)).toBe(false);
    const older = await claim(kind, url);
    await unlink(url);
    await claim(kind, url);
    const newer = statSync(path).ino;
    await older.close();
    expect(statSync(path).ino).toBe(newer);
    // The newer socket still answers at the path.
    const sender = track(await connect(url, Sample));
    if (kind === 'unix+dgram') await sender.send(sample(5));
  });
});
