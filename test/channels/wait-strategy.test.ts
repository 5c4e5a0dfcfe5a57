/**
 * The `wait` option (src/channels/wait-strategy.ts): validation at every entry point before anything
 * is created, declared refusals, a reply from another process taken by the spin itself, deadlines and
 * signals that bound a spin, and the conformance rows' backpressure with a spin on both ends.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { objects, pingpongBinary, readyLine, type Transport, transports } from '../../bench/latency.bench.js';
import { ends } from '../../bench/peers/latency-ends.js';
import { bind, connect, listen, open } from '../../src/channels/index.js';
import { MAX_SPIN_US, Spin, spinOf } from '../../src/channels/wait-strategy.js';
import { AbortError, SystemError, TimeoutError, UnsupportedError, ValidationError } from '../../src/errors.js';
import { defer as deferConformance } from '../conformance/setup.js';
import { Rec, rec, refused, rows } from '../conformance/transports.js';
import { Cleanup, finished, uniqueName } from '../helpers.js';
import { Sample } from './sample.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());
const defer = (action: () => unknown): void => cleanup.add(action);

describe('the wait option: validation', () => {
  const bad: [unknown, string][] = [
    [{ spinUs: -1 }, 'wait.spinUs'],
    [{ spinUs: MAX_SPIN_US + 1 }, 'wait.spinUs'],
    [{ spinUs: Number.NaN }, 'wait.spinUs'],
    [{ spinUs: Number.POSITIVE_INFINITY }, 'wait.spinUs'],
    [{ spinUs: '50' }, 'wait.spinUs'],
    [{ spinUs: 50, yield: 'no' }, 'wait.yield'],
    [{ spinMs: 1 }, 'wait'],
    [50, 'wait'],
    [null, 'wait'],
    [[50], 'wait'],
  ];

  it.each(bad)('%j is a ValidationError naming %s, with the range and what to do', (wait, path) => {
    const error = (() => {
      try {
        spinOf(wait);
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).path).toBe(path);
    expect((error as ValidationError).code).toBe('ERR_IPC_VALIDATION');
    if (path === 'wait.spinUs') expect((error as Error).message).toMatch(/\[0, 1000000\].*blocks the event loop/);
    if (path === 'wait') expect((error as Error).message).toMatch(/spinUs/);
  });

  it('no option and spinUs 0 sleep at once; a spin keeps its length and yields unless told not to', () => {
    expect(spinOf(undefined)).toBeUndefined();
    expect(spinOf({})).toBeUndefined();
    expect(spinOf({ spinUs: 0 })).toBeUndefined();
    expect(spinOf({ spinUs: 2.5 })).toMatchObject({ spinUs: 2.5, yields: true });
    expect(spinOf({ spinUs: MAX_SPIN_US, yield: false })).toMatchObject({ spinUs: MAX_SPIN_US, yields: false });
  });

  it('a bad wait option at open, bind, listen and connect creates nothing', async () => {
    const wait = { spinUs: -5 } as never;
    const mq = `mq:/${uniqueName('wait')}`;
    await expect(open(mq, Sample, { create: true, wait })).rejects.toBeInstanceOf(ValidationError);
    // Nothing was created: opening it without create finds no queue.
    await expect(open(mq, Sample)).rejects.toMatchObject({ code: 'ENOENT' });
    const shm = `shm:/${uniqueName('wait')}`;
    await expect(open(shm, Sample, { create: true, wait })).rejects.toBeInstanceOf(ValidationError);
    expect(existsSync(`/dev/shm${shm.slice(4)}`)).toBe(false);
    for (const [entry, scheme] of [
      [bind, 'unix+dgram'],
      [listen, 'unix+seqpacket'],
      [listen, 'unix+stream'],
    ] as const) {
      const path = join(tmpdir(), `${uniqueName('wait')}.sock`);
      await expect(entry(`${scheme}:${path}`, Sample, { wait })).rejects.toBeInstanceOf(ValidationError);
      expect(existsSync(path)).toBe(false);
    }
    await expect(connect('tcp://127.0.0.1:9', Sample, { wait })).rejects.toBeInstanceOf(ValidationError);
  });

  it('a spin on nats:// and sysv: is refused (UnsupportedError saying why); no spin there is fine', async () => {
    const spin = { wait: { spinUs: 10 } };
    await expect(open('nats://127.0.0.1:9/subject', Sample, spin)).rejects.toThrow(UnsupportedError);
    await expect(open('nats://127.0.0.1:9/subject', Sample, spin)).rejects.toThrow(/event loop/);
    await expect(open('sysv:private', Sample, { create: true, ...spin })).rejects.toThrow(UnsupportedError);
    await expect(open('sysv:private', Sample, { create: true, ...spin })).rejects.toThrow(/back-off/);
    // spinUs 0 is no spin: these go on to their own errors (no server, no such queue), not the refusal.
    const zero = { wait: { spinUs: 0 } };
    await expect(open('sysv:key=0x7ffffffe', Sample, zero)).rejects.toBeInstanceOf(SystemError);
  });
});

describe('Spin.until', () => {
  it('returns true as soon as ready holds, false once the spin or the deadline has passed', () => {
    let calls = 0;
    expect(new Spin(1_000_000).until(() => ++calls === 3)).toBe(true);
    expect(calls).toBe(3);
    for (const yields of [true, false]) {
      calls = 0;
      const never = (): boolean => {
        calls += 1;
        return false;
      };
      expect(new Spin(200, yields).until(never)).toBe(false);
      expect(calls).toBeGreaterThan(1);
      // A deadline already past: one look, no spin.
      calls = 0;
      expect(new Spin(1_000_000, yields).until(never, { deadline: performance.now() - 1 })).toBe(false);
      expect(calls).toBe(1);
      // An aborted signal: one look, no spin.
      calls = 0;
      expect(new Spin(1_000_000, yields).until(never, { signal: AbortSignal.abort() })).toBe(false);
      expect(calls).toBe(1);
    }
  });
});

const names = Object.keys(transports) as Transport[];

/**
 * Opens a Node end with `wait` against a C pong end that echoes once after `delayUs`; returns the
 * Node end (the ping side) and the pong's completion.
 */
async function againstC(transport: Transport, wait: object, delayUs: number) {
  const made = await objects(transport);
  defer(() => made.remove());
  const pong = spawn(pingpongBinary(), [transports[transport], 'pong', made.cA, made.cB, '1'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TIPC_FINGERPRINT: Sample.fingerprint, PINGPONG_DELAY_US: String(delayUs) },
  });
  defer(() => pong.kill('SIGKILL'));
  const done = finished(pong, 60_000);
  let a = made.a;
  if (made.ready) {
    const address = await readyLine(pong);
    if (transport === 'tcp') a = `tcp://127.0.0.1:${address}`;
  }
  const end = await ends(transport, false, a, made.b, { wait });
  defer(() => end.close());
  return { end, done };
}

/**
 * One round trip against a C pong end that answers after 30 ms, with `wait` on the Node end. Returns
 * whether the event loop turned (a 5 ms timer ran) before the reply was received: the spin blocks
 * the loop, so with a spin longer than the reply it must not have.
 */
async function roundTrip(transport: Transport, wait: object, timestamp: bigint): Promise<boolean> {
  const { end, done } = await againstC(transport, wait, 30_000);
  let turned = false;
  const timer = setTimeout(() => {
    turned = true;
  }, 5);
  defer(() => clearTimeout(timer));
  await end.tx.send({ channel: 1, timestamp, value: 0.5 });
  const reply = await end.rx.receive({ timeoutMs: 30_000 });
  const turnedBefore = turned;
  expect(reply.value).toEqual({ channel: 1, timestamp, value: 0.5 });
  expect((await done).code).toBe(0);
  return turnedBefore;
}

describe.each(names)('%s: a spinning receive against a C peer', (transport) => {
  it('takes a reply that comes during the spin without a turn of the event loop', async () => {
    expect(await roundTrip(transport, { spinUs: MAX_SPIN_US }, 42n)).toBe(false);
  });
});

describe('the spin check above tells the two paths apart', () => {
  it.each([
    ['shm', undefined],
    ['unix+dgram', undefined],
    ['shm', { spinUs: 1000 }],
  ] as const)(
    '%s with wait %j (no spin, or one shorter than the reply): the loop turns first',
    async (transport, wait) => {
      expect(await roundTrip(transport, wait ?? {}, 7n)).toBe(true);
    },
  );

  it('a busy spin (yield: false) takes the reply too', async () => {
    expect(await roundTrip('shm', { spinUs: MAX_SPIN_US, yield: false }, 8n)).toBe(false);
  });
});

/** Rows whose scheme refuses a spin (their messages come through the event loop, or they have a back-off of their own). */
const noSpin = new Set(['sysv', 'nats']);

describe.each(rows.filter((row) => noSpin.has(row.name)))('$name: wait: { spinUs } refused', (row) => {
  it('is an UnsupportedError at open, before anything is created', async () => {
    await expect(row.pair(Rec, deferConformance, { wait: { spinUs: 100 } })).rejects.toBeInstanceOf(UnsupportedError);
  });
});

describe.each(rows.filter((row) => !noSpin.has(row.name)))('$name with wait: { spinUs }', (row) => {
  const spin = { wait: { spinUs: 100 } };

  it('a receive timeout or an aborted signal shorter than the spin still ends the wait', async () => {
    const { rx } = await row.pair(Rec, deferConformance, { wait: { spinUs: MAX_SPIN_US } });
    const started = performance.now();
    await expect(rx.receive({ timeoutMs: 10 })).rejects.toBeInstanceOf(TimeoutError);
    // The deadline ends the spin: far sooner than the one-second spin (a loose bound, not a speed figure).
    expect(performance.now() - started).toBeLessThan(900);
    const aborted = performance.now();
    await expect(rx.receive({ signal: AbortSignal.abort() })).rejects.toBeInstanceOf(AbortError);
    expect(performance.now() - aborted).toBeLessThan(900);
  });

  it('backpressure with a spin on both ends: every record arrives once, in order', async () => {
    const { tx, rx } = await row.pair(Rec, deferConformance, spin);
    const count = 500;
    if (refused(row.backpressure)) {
      for (let i = 0; i < count; i += 1) expect(tx.trySend(rec(i))).toBe(true);
      return;
    }
    const sending = (async () => {
      for (let i = 0; i < count; i += 1) await tx.send(rec(i), { timeoutMs: 30_000 });
    })();
    const seen: number[] = [];
    while (seen.length < count) {
      for (const message of await rx.receiveMany(7, { timeoutMs: 30_000 })) seen.push(message.value.seq);
    }
    await sending;
    expect(seen).toEqual(Array.from({ length: count }, (_, i) => i));
  });
});
