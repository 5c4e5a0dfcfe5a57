import { afterEach, describe, expect, it } from 'vitest';
import { ChannelClosedError, TimeoutError } from '../../src/errors.js';
import { FdWatch, libc } from '../../src/native/index.js';
import { Cleanup } from '../helpers.js';

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

describe('FdWatch', () => {
  it('resolves readable when data arrives, without blocking the event loop', async () => {
    const [r, w] = pipe();
    const watch = new FdWatch(r);
    cleanup.add(() => watch.close());
    let ticks = 0;
    const interval = setInterval(() => ticks++, 1);
    setTimeout(() => libc.write(w, new Uint8Array([1]), 1), 30);
    await watch.readable();
    clearInterval(interval);
    expect(ticks).toBeGreaterThan(3);
    const buf = new Uint8Array(1);
    expect(libc.read(r, buf, 1)).toBe(1);
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
