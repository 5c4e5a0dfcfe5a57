import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { open, unlink } from '../../src/channels/index.js';
import { ChannelClosedError, TimeoutError } from '../../src/errors.js';
import { FdWatch, libc } from '../../src/native/index.js';
import { Sample } from '../channels/sample.js';
import { Cleanup, finished, repoRoot, spawnTs, uniqueName } from '../helpers.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

function pipe(): [number, number] {
  const fds = new Int32Array(2);
  expect(libc.pipe2(fds, libc.O_NONBLOCK | libc.O_CLOEXEC)).toBe(0);
  const [r, w] = [fds[0]!, fds[1]!];
  cleanup.add(() => libc.close(r));
  cleanup.add(() => libc.close(w));
  return [r, w];
}

/** Whether `fd` is in one of this process's epoll sets (the `tfd:` lines of /proc/self/fdinfo/<epoll fd>). */
function watchedByEpoll(fd: number): boolean {
  for (const entry of readdirSync('/proc/self/fd')) {
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${entry}`);
    } catch {
      continue; // closed meanwhile (the directory's own descriptor)
    }
    if (target !== 'anon_inode:[eventpoll]') continue;
    const info = readFileSync(`/proc/self/fdinfo/${entry}`, 'utf8');
    if (new RegExp(`^tfd:\\s+${fd}\\s`, 'm').test(info)) return true;
  }
  return false;
}

describe('FdWatch', () => {
  it('resolves readable when data arrives, without blocking the event loop', async () => {
    const [r, w] = pipe();
    const watch = new FdWatch(r);
    cleanup.add(() => watch.close());
    // The data comes from a timer after a few other timer turns: the wait must let the loop run them
    // (a wait that blocked the loop would never see the data), and must not resolve before the data.
    let turns = 0;
    let resolved = false;
    const interval = setInterval(() => {
      turns += 1;
      if (turns === 5) {
        expect(resolved).toBe(false);
        libc.write(w, new Uint8Array([1]), 1);
      }
    }, 1);
    cleanup.add(() => clearInterval(interval));
    await watch.readable().then(() => {
      resolved = true;
    });
    clearInterval(interval);
    expect(turns).toBeGreaterThanOrEqual(5);
    const buf = new Uint8Array(1);
    expect(libc.read(r, buf, 1)).toBe(1);
  });

  it('keeps the descriptor in the epoll set only while someone waits on it', async () => {
    const [r, w] = pipe();
    const watch = new FdWatch(r);
    cleanup.add(() => watch.close());
    // libuv applies epoll changes in its poll phase, which a timer waits past.
    const turn = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 5));
    const byte = new Uint8Array(1);
    expect(watchedByEpoll(r)).toBe(false);
    for (let round = 0; round < 2; round++) {
      const waiting = watch.readable();
      await turn();
      expect(watchedByEpoll(r)).toBe(true);
      libc.write(w, byte, 1);
      await waiting;
      // Drained and nobody waits: nothing would wake the handle to stop it later, so it must be gone
      // now, and a peer's writes must not run epoll's wake-up callback for us.
      expect(libc.read(r, byte, 1)).toBe(1);
      await turn();
      expect(watchedByEpoll(r)).toBe(false);
    }
  });

  it('times out with TimeoutError and rejects pending waits on close', async () => {
    const [r] = pipe();
    const watch = new FdWatch(r);
    await expect(watch.readable({ deadline: performance.now() + 20, timeoutMs: 20 })).rejects.toBeInstanceOf(
      TimeoutError,
    );
    const pending = watch.readable();
    watch.close();
    await expect(pending).rejects.toBeInstanceOf(ChannelClosedError);
  });
});

describe('waiting on the event loop (child processes)', () => {
  const peers = join(repoRoot, 'test', 'native', 'peers');

  it('keeps 200 channels waiting in receive with no pool thread held, timers and fs.readFile prompt', async () => {
    const prefix = uniqueName('many');
    const count = 200;
    cleanup.add(async () => {
      for (let i = 0; i < count; i++) await unlink(`mq:/${prefix}-${i}`).catch(() => undefined);
    });
    // One pool thread: a wait that parked it would leave fs.readFile none, and it would never finish.
    const child = spawnTs(join(peers, 'many-receivers.ts'), [prefix, String(count)], {
      env: { ...process.env, UV_THREADPOOL_SIZE: '1' },
    });
    const { code, stdout, stderr } = await finished(child, 60_000);
    expect(code, stderr).toBe(0);
    const report = JSON.parse(stdout) as Record<string, number | string>;
    expect(report.threadpool).toBe('1');
    expect(report.settledBeforeSend).toBe(0);
    expect(report.readBytes).toBeGreaterThan(0);
    // Generous bounds: these catch a stalled loop or a missing pool thread, not a slow machine.
    expect(report.readMs).toBeLessThan(5_000);
    expect(report.timerLagMs).toBeLessThan(5_000);
    expect(report.received).toBe(count);
    expect(report.wrong).toBe(0);
  });

  it('(control) a wait that parks the one pool thread does stop fs.readFile: the test above can fail', async () => {
    const url = `mq:/${uniqueName('parked')}`;
    const queue = await open(url, Sample, { create: true, capacity: 1 });
    cleanup.add(() => unlink(url));
    cleanup.add(() => queue.close());
    const child = spawnTs(join(peers, 'parked-pool.ts'), [url], { env: { ...process.env, UV_THREADPOOL_SIZE: '1' } });
    const { code, stdout, stderr } = await finished(child, 60_000);
    expect(code, stderr).toBe(0);
    expect(JSON.parse(stdout)).toEqual({ whileParked: 'timeout', received: 24, afterRelease: 'read', threadpool: '1' });
  });

  async function startPeer(mode: string, capacity = 2) {
    const url = `mq:/${uniqueName(mode)}`;
    const queue = await open(url, Sample, { create: true, capacity });
    cleanup.add(() => unlink(url));
    cleanup.add(() => queue.close());
    const child = spawnTs(join(peers, 'ref.ts'), [mode, url]);
    cleanup.add(() => child.kill('SIGKILL'));
    const lines: string[] = [];
    let onLine = (): void => undefined;
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      lines.push(...chunk.split('\n').filter(Boolean));
      onLine();
    });
    const result = finished(child, 120_000);
    /** Resolves once the peer printed a line starting with `prefix`. */
    const waitFor = (prefix: string) =>
      new Promise<void>((resolve, reject) => {
        onLine = () => lines.some((line) => line.startsWith(prefix)) && resolve();
        onLine();
        void result.then(() => reject(new Error(`peer ended before printing ${prefix}: ${lines.join(' | ')}`)));
      });
    return { queue, child, lines, result, waitFor };
  }

  /** The loop utilisation a peer printed (`busy <u> cpu <ms>`). */
  const busy = (lines: readonly string[]): number => {
    const line = lines.find((l) => l.startsWith('busy '));
    if (line === undefined) throw new Error(`no busy line in ${lines.join(' | ')}`);
    return Number(line.split(' ')[1]);
  };

  const exited = (child: ChildProcess) => child.exitCode !== null || child.signalCode !== null;

  it('lets a process with an idle channel end by itself', async () => {
    const { result, lines } = await startPeer('idle');
    const { code, stderr } = await result;
    expect(code, stderr).toBe(0);
    expect(lines).toEqual(['exit']);
  });

  it('lets a process end after a receive completed, even with a message left in the queue', async () => {
    const { queue, result, lines, waitFor } = await startPeer('idle-after-wait');
    await waitFor('waiting');
    await queue.send({ channel: 5, timestamp: 0n, value: 0 });
    const { code, stderr } = await result;
    expect(code, stderr).toBe(0);
    expect(lines).toEqual(['waiting', 'got 5', 'exit']);
    expect(queue.tryReceive()?.value.channel).toBe(99);
  });

  it('keeps a process alive while it awaits a receive, until the message arrives', async () => {
    for (const mode of ['await', 'ref-again']) {
      const { queue, child, result, lines, waitFor } = await startPeer(mode);
      await waitFor('waiting');
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(exited(child), mode).toBe(false);
      await queue.send({ channel: 6, timestamp: 0n, value: 0 });
      const { code, stderr } = await result;
      expect(code, stderr).toBe(0);
      expect(lines, mode).toEqual(['waiting', 'got 6', 'exit']);
    }
  });

  it('lets a process end while an unref()ed channel waits, with or without a timeout', async () => {
    const { result, lines } = await startPeer('unref');
    const { code, stderr } = await result;
    expect(code, stderr).toBe(0);
    expect(lines).toEqual(['waiting', 'exit']);
  });

  it('waits in send on a full queue without spinning, and keeps the process alive until there is room', async () => {
    const { queue, child, result, lines, waitFor } = await startPeer('send-full');
    await waitFor('waiting');
    await waitFor('busy ');
    expect(busy(lines)).toBeLessThan(0.5);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(exited(child)).toBe(false);
    expect(queue.tryReceive()?.value.channel).toBe(1);
    const { code, stderr } = await result;
    expect(code, stderr).toBe(0);
    expect(lines).toEqual(['waiting', lines[1], 'sent', 'exit']);
    expect(queue.tryReceive()?.value.channel).toBe(1);
    expect(queue.tryReceive()?.value.channel).toBe(2);
  });

  /** Runs a peer that receives one message, then reports how busy its loop was for 500 ms. */
  async function busyAfterReceive(mode: 'no-spin' | 'spin'): Promise<number> {
    const { queue, result, lines, waitFor } = await startPeer(mode);
    await waitFor('waiting');
    await queue.send({ channel: 7, timestamp: 0n, value: 0 });
    const { code, stderr } = await result;
    expect(code, stderr).toBe(0);
    return busy(lines);
  }

  it('does not spin when the queue is readable and nobody waits', async () => {
    // A level-triggered poll left running keeps the loop from ever idling (utilisation near 1);
    // an idle loop is near 0.
    expect(await busyAfterReceive('no-spin')).toBeLessThan(0.5);
  });

  it('(control) a loop that never idles shows as busy: the two checks above can fail', async () => {
    expect(await busyAfterReceive('spin')).toBeGreaterThan(0.9);
  });
});
