/**
 * shm+pubsub between Node and C (include/typed_ipc_pubsub.h) in real processes: a Node publisher to
 * several C and Node subscribers, C publishers to Node and C subscribers, both policies (exact loss
 * counts in overwrite mode), history with a C subscriber.
 */
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { type Channel, open, type PubSubOptions, unlink } from '../../src/index.js';
import { Cleanup, spawnTs, uniqueName } from '../helpers.js';
import { cPeerBinary, Lines, PsSample, parseReport, psSample, STOP } from './pubsub-fixtures.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

type Url = `shm+pubsub:${string}`;

interface Peer {
  readonly lines: Lines;
  readonly exited: Promise<number | null>;
}

function track(child: ReturnType<typeof spawn>): Peer {
  const lines = new Lines(child);
  // 'close', not 'exit': the exit can come before the last lines of stdout were read (the report).
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  cleanup.add(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  return { lines, exited };
}

const cPeer = (...args: string[]): Peer => track(spawn(cPeerBinary(), args, { stdio: ['ignore', 'pipe', 'pipe'] }));
const nodePeer = (...args: string[]): Peer => track(spawnTs('test/channels/pubsub-peer.ts', args));

async function ended(peer: Peer): Promise<readonly string[]> {
  const code = await peer.exited;
  expect(peer.lines.stderr).toBe('');
  expect(code).toBe(0);
  return peer.lines.all;
}

async function setup(options: PubSubOptions): Promise<{ url: Url; name: string; control: Channel<PsSample> }> {
  const name = `/${uniqueName('psx')}`;
  const url: Url = `shm+pubsub:${name}`;
  cleanup.add(() => unlink(url));
  const control = await open(url, PsSample, { create: true, access: 'send', ...options });
  cleanup.add(() => control.destroy());
  return { url, name, control };
}

describe('shm+pubsub: Node and C peers', () => {
  it('a Node publisher -> three C subscribers and a Node one: every message, in order (block)', async () => {
    const { url, name, control } = await setup({ capacity: 64 });
    const subscribers = [cPeer('subscribe', name, '1'), cPeer('subscribe', name, '1'), cPeer('subscribe', name, '1')];
    subscribers.push(nodePeer('subscribe', url, '1'));
    for (const peer of subscribers) await peer.lines.next('ready');
    // They opened at the same moment: each has an entry of its own (the claim is serialised by a lock).
    expect(control.info().subscribers).toBe(4);
    const n = 20_000;
    for (let i = 0; i < n; i += 50) {
      if (i % 100 === 0) await control.sendMany(Array.from({ length: 50 }, (_, j) => psSample(7, i + j)));
      else for (let j = 0; j < 50; j++) await control.send(psSample(7, i + j));
    }
    await control.send(psSample(STOP, 0));
    for (const peer of subscribers) {
      const report = parseReport(await ended(peer));
      expect(report.sources.get(7)).toEqual({ count: n, first: 0, last: n - 1 });
      expect(report).toMatchObject({ delivered: n + 1, missed: 0, skipped: 0, position: n + 1 });
    }
  }, 180_000);

  it('two C publishers -> C and Node subscribers: every message of each, in order (block)', async () => {
    const { url, name, control } = await setup({ capacity: 32 });
    const subscribers = [
      cPeer('subscribe', name, '0'),
      nodePeer('subscribe', url, '0'),
      nodePeer('subscribe', url, '0'),
    ];
    for (const peer of subscribers) await peer.lines.next('ready');
    const n = 10_000;
    const publishers = [cPeer('publish', name, '1', String(n), '1'), cPeer('publish', name, '2', String(n), '16')];
    for (const peer of publishers) expect(await ended(peer)).toContain(`sent ${n}`);
    await control.send(psSample(STOP, 0));
    for (const peer of subscribers) {
      const report = parseReport(await ended(peer));
      for (const source of [1, 2]) expect(report.sources.get(source)).toEqual({ count: n, first: 0, last: n - 1 });
      expect(report.missed).toBe(0);
    }
  }, 180_000);

  it('overwrite: a C publisher never waits; Node and C subscribers count exactly what they missed', async () => {
    const { url, name, control } = await setup({ capacity: 16, policy: 'overwrite' });
    const subscribers = [cPeer('subscribe', name, '1'), nodePeer('subscribe', url, '1')];
    for (const peer of subscribers) await peer.lines.next('ready');
    const n = 200_000;
    expect(await ended(cPeer('publish', name, '3', String(n), '8'))).toContain(`sent ${n}`);
    await control.send(psSample(STOP, 0));
    for (const peer of subscribers) {
      const report = parseReport(await ended(peer));
      const threes = report.sources.get(3)!;
      // The peers checked every message (seq = previous + 1 + missed); the totals add up exactly.
      expect(threes.count + report.missed).toBe(n);
      expect(report.position).toBe(n + 1);
      expect(report.delivered).toBe(threes.count + 1);
    }
  }, 180_000);

  it('overwrite: a Node publisher -> a C subscriber with exact loss counts', async () => {
    const { name, control } = await setup({ capacity: 8, policy: 'overwrite' });
    const subscriber = cPeer('subscribe', name, '1');
    await subscriber.lines.next('ready');
    const n = 50_000;
    for (let i = 0; i < n; i += 10) {
      expect(control.trySend(psSample(4, i))).toBe(true);
      await control.sendMany(Array.from({ length: 9 }, (_, j) => psSample(4, i + 1 + j)));
    }
    await control.send(psSample(STOP, 0));
    const report = parseReport(await ended(subscriber));
    expect(report.sources.get(4)!.count + report.missed).toBe(n);
    expect(report.position).toBe(n + 1);
  }, 180_000);

  it('a C subscriber with history: n gets the last n messages still in the buffer', async () => {
    const { name, control } = await setup({ capacity: 16 });
    for (let i = 0; i < 40; i++) await control.send(psSample(5, i));
    const late = cPeer('subscribe', name, '0', '6');
    await late.lines.next('ready');
    await control.send(psSample(5, 40));
    await control.send(psSample(STOP, 0));
    const report = parseReport(await ended(late));
    expect(report.sources.get(5)).toEqual({ count: 7, first: 34, last: 40 });
  }, 180_000);

  it('a full subscriber table refuses a C subscriber with EUSERS', async () => {
    const { name } = await setup({ subscribers: 1 });
    const first = cPeer('subscribe', name, '0');
    await first.lines.next('ready');
    const second = cPeer('subscribe', name, '0');
    expect(await second.exited).toBe(1);
    expect(second.lines.stderr).toMatch(/open: Too many users \(the subscriber table is full/);
  }, 180_000);
});
