/**
 * SIGKILL rounds on shm+pubsub with real processes, in both policies: subscribers killed while they
 * hold block-mode publishers back (the publisher retires them and goes on), publishers killed in the
 * middle of sending (their claims become skips). A surviving subscriber checks every message it gets
 * (whole, in order per publisher) and accounts for every position: delivered + skipped + missed =
 * the tail, with the exact loss count in overwrite mode.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { type Channel, open, unlink } from '../../src/index.js';
import { Cleanup, spawnTs, uniqueName } from '../helpers.js';
import { cPeerBinary, Lines, PsSample, parseReport, psSample, STOP } from './pubsub-fixtures.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const ROUNDS = 5;

interface Peer {
  readonly child: ChildProcess;
  readonly lines: Lines;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** A Node peer (pubsub-peer.ts) or, with `c`, the C one (test/c/pubsub_peer.c: it takes the name, not the URL). */
function peer(...args: string[]): Peer {
  const c = args[0] === 'c';
  const rest = c ? args.slice(1).map((a) => a.replace(/^shm\+pubsub:/, '')) : args;
  const child = c
    ? spawn(cPeerBinary(), rest, { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawnTs('test/channels/pubsub-peer.ts', rest);
  const lines = new Lines(child);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    // 'close' (after 'exit'): every line of stdout is read by then, the report included.
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  cleanup.add(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  return { child, lines, exited };
}

/** Kills a peer with SIGKILL and waits until it is reaped (a zombie would still look alive). */
async function kill(target: Peer): Promise<void> {
  target.child.kill('SIGKILL');
  expect((await target.exited).signal).toBe('SIGKILL');
}

/** Waits for a peer's normal end and returns its lines. */
async function ended(target: Peer): Promise<readonly string[]> {
  const { code } = await target.exited;
  expect(target.lines.stderr).toBe('');
  expect(code).toBe(0);
  return target.lines.all;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function setup(policy: 'block' | 'overwrite'): Promise<{ url: string; control: Channel<PsSample> }> {
  const url = `shm+pubsub:/${uniqueName('kill')}`;
  cleanup.add(() => unlink(url));
  // The test's own publisher: it creates the segment and sends the STOP message at the end.
  const control = await open(url as `shm+pubsub:${string}`, PsSample, {
    create: true,
    access: 'send',
    capacity: 32,
    policy,
    subscribers: 8,
  });
  cleanup.add(() => control.destroy());
  return { url, control };
}

describe.each(['block', 'overwrite'] as const)('shm+pubsub %s: SIGKILL rounds', (policy) => {
  it('of subscribers: the publisher is never held back by a dead one, the survivor accounts for every message', async () => {
    const { url, control } = await setup(policy);
    // The survivor is a Node subscriber in block mode and a C one in overwrite mode; victims alternate.
    const survivor = policy === 'block' ? peer('subscribe', url, '1') : peer('c', 'subscribe', url, '1');
    await survivor.lines.next('ready');
    const publisher = peer('publish', url, '1', '-1', '8');
    await publisher.lines.next('ready');
    for (let round = 0; round < ROUNDS; round++) {
      // A subscriber that reads one message and then nothing: in block mode it holds the publisher back.
      const victim = round % 2 === 0 ? peer('c', 'stall', url) : peer('stall', url);
      await victim.lines.next('stalled');
      await kill(victim);
    }
    if (policy === 'block') {
      // Each round's victim stalled only because the publisher got past the one before (retired, or its
      // entry taken over by the next victim). The last one is retired by the publisher it holds back: wait
      // for the segment to show the survivor as its only active subscriber (a state, not a time).
      while ((control.info().subscribers as number) > 1) await sleep(20);
      expect(control.info().retired).toBeGreaterThanOrEqual(1);
    }
    publisher.child.kill('SIGTERM');
    const sent = Number((await ended(publisher)).find((l) => l.startsWith('sent '))!.split(' ')[1]);
    await control.send(psSample(STOP, 0));
    const report = parseReport(await ended(survivor));
    const ones = report.sources.get(1)!;
    // Every position of the publisher was delivered or counted as missed, exactly.
    expect(ones.count + report.missed).toBe(sent);
    expect(report.delivered).toBe(ones.count + 1);
    expect(report.position).toBe(sent + 1);
    expect(report.skipped).toBe(0);
    if (policy === 'block') {
      expect(report.missed).toBe(0);
      expect(ones).toEqual({ count: sent, first: 0, last: sent - 1 });
    } else {
      expect(control.info().retired).toBe(0);
    }
  }, 180_000);

  it('of publishers: their unfinished claims are recovered, the survivor accounts for every position', async () => {
    const { url, control } = await setup(policy);
    const survivor = policy === 'block' ? peer('c', 'subscribe', url, '0') : peer('subscribe', url, '0');
    await survivor.lines.next('ready');
    for (let round = 0; round < ROUNDS; round++) {
      const source = String(10 + round);
      const victim =
        round % 2 === 0 ? peer('c', 'publish', url, source, '-1', '16') : peer('publish', url, source, '-1', '16');
      await survivor.lines.next(`from ${10 + round}`);
      await kill(victim);
    }
    const last = peer('publish', url, '2', '5000', '16');
    expect(await ended(last)).toContain('sent 5000');
    await control.send(psSample(STOP, 0));
    const report = parseReport(await ended(survivor));
    const tail = control.info().tail as number;
    expect(report.position).toBe(tail);
    expect(report.delivered + report.skipped + report.missed).toBe(tail);
    const twos = report.sources.get(2)!;
    expect(twos.last).toBe(4999);
    for (let round = 0; round < ROUNDS; round++) expect(report.sources.get(10 + round)?.count).toBeGreaterThan(0);
    if (policy === 'block') {
      expect(report.missed).toBe(0);
      expect(twos).toEqual({ count: 5000, first: 0, last: 4999 });
    }
    expect(control.info().recovered).toBeGreaterThanOrEqual(report.skipped);
  }, 180_000);
});
