import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { ringLayout } from '../../src/channels/ring.js';
import { type Channel, cHeader, open, unlink } from '../../src/index.js';
import { Cleanup, compileC, uniqueName } from '../helpers.js';
import { expected, parseOk, ringPeers, Sample, sample, startRingAt } from './ring-fixtures.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const STOP = 65535;

function ringUrl(tag = 'interop'): string {
  const url = `shm:/${uniqueName(tag)}`;
  cleanup.add(() => unlink(url));
  return url;
}

async function openRing(url: string, options = {}): Promise<Channel<Sample>> {
  const channel = await open(url, Sample, options);
  cleanup.add(() => channel.close());
  return channel;
}

const { track, cPeer, nodePeer } = ringPeers(cleanup);

/** Checks every received message like the peers do: untorn, FIFO per producer; returns per-producer counts. */
class Checker {
  readonly last = new Map<number, bigint>();
  readonly counts = new Map<number, number>();

  check(value: Sample): void {
    expect(value.value).toBe(value.channel * 1e9 + Number(value.timestamp));
    const previous = this.last.get(value.channel) ?? -1n;
    if (value.timestamp <= previous) throw new Error(`producer ${value.channel}: ${value.timestamp} after ${previous}`);
    this.last.set(value.channel, value.timestamp);
    this.counts.set(value.channel, (this.counts.get(value.channel) ?? 0) + 1);
  }
}

describe('shm ring: C and Node peers', () => {
  it('several C producers at once -> a Node consumer: every message once, in order per producer', async () => {
    const url = ringUrl();
    const rx = await openRing(url, { create: true, capacity: 256 });
    const n = 20_000;
    const producers = [
      cPeer('produce', url.slice(4), '1', String(n), '1'),
      cPeer('produce', url.slice(4), '2', String(n), '7'),
      cPeer('produce', url.slice(4), '3', String(n), '64'),
    ];
    const checker = new Checker();
    let received = 0;
    while (received < 3 * n) {
      for (const { value } of await rx.receiveMany(500, { timeoutMs: 20_000 })) checker.check(value);
      received = [...checker.counts.values()].reduce((a, b) => a + b, 0);
    }
    for (const child of producers) expect((await child.done).code).toBe(0);
    expect(Object.fromEntries(checker.counts)).toEqual({ 1: n, 2: n, 3: n });
    expect(rx.tryReceive()).toBeUndefined();
  });

  it('several Node producer processes at once -> a C consumer', async () => {
    const url = ringUrl();
    await openRing(url, { create: true, capacity: 64 });
    const n = 5_000;
    const consumer = cPeer('consume', url.slice(4), String(3 * n), '32');
    const producers = [
      nodePeer('produce', url, '11', String(n), '1'),
      nodePeer('produce', url, '12', String(n), '10'),
      nodePeer('produce', url, '13', String(n), '100'),
    ];
    for (const child of producers) expect((await child.done).code).toBe(0);
    const result = await consumer.done;
    expect(result.stderr).toBe('');
    expect(parseOk(result.stdout)).toEqual(expected([11, 12, 13], n));
  });

  it('mixed C and Node producers and consumers share one ring: each message is delivered exactly once', async () => {
    const url = ringUrl();
    const name = url.slice(4);
    const tx = await openRing(url, { create: true, capacity: 128 });
    const n = 10_000;
    const consumers = [
      cPeer('consume', name, '-1', '1'),
      cPeer('consume', name, '-1', '1'),
      nodePeer('consume', url, '-1', '1'),
    ];
    const producers = [
      cPeer('produce', name, '21', String(n), '16'),
      nodePeer('produce', url, '22', String(n), '50'),
      cPeer('produce', name, '23', String(n), '1'),
    ];
    for (const child of producers) expect((await child.done).code).toBe(0);
    await tx.sendMany([sample(STOP, 0), sample(STOP, 1), sample(STOP, 2)]);
    const results = await Promise.all(consumers.map((c) => c.done));
    for (const r of results) expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    const totals = results.map((r) => parseOk(r.stdout));
    const sum = totals.reduce(([a, b, c], [x, y, z]) => [a + x, b + y, c + z], [0, 0, 0n]);
    expect(sum).toEqual(expected([21, 22, 23], n));
    // Exactly once: until-stop consumers also print what they took as `r <producer> <first> <last>`
    // runs of timestamps; together they must cover 0..n-1 of every producer, nothing twice.
    const times = new Map<number, Uint8Array>([21, 22, 23].map((id) => [id, new Uint8Array(n)]));
    for (const r of results) {
      for (const [, id, first, last] of r.stdout.matchAll(/^r (\d+) (\d+) (\d+)$/gm)) {
        const taken = times.get(Number(id)) ?? new Uint8Array(0);
        for (let t = Number(first); t <= Number(last); t++) taken[t] = (taken[t] ?? 0) + 1;
      }
    }
    const tally = (taken: Uint8Array) => ({
      once: taken.filter((k) => k === 1).length,
      twice: taken.filter((k) => k > 1).length,
      never: taken.filter((k) => k === 0).length,
    });
    expect(new Map([...times].map(([id, taken]) => [id, tally(taken)]))).toEqual(
      new Map([21, 22, 23].map((id) => [id, { once: n, twice: 0, never: 0 }])),
    );
  });

  it('a C program written against cHeader() output opens the ring by size and fingerprint', async () => {
    const url = ringUrl();
    const rx = await openRing(url, { create: true, capacity: 8 });
    const program = `
      #include "typed_ipc_ring.h"
      ${cHeader([Sample])}
      int main(int argc, char **argv) {
        tipc_ring *r;
        int rc = tipc_ring_open_fp(&r, argv[1], SAMPLE_SIZE, SAMPLE_FINGERPRINT);
        if (rc != 0) return 10;
        for (int i = 0; i < 3; i++) {
          struct sample s = {.channel = 42, .timestamp = (uint64_t)i, .value = 42e9 + i};
          if (tipc_ring_send(r, &s, -1) != 0) return 11;
        }
        tipc_ring_close(r);
        return 0;
      }`;
    const binary = compileC('ring_cheader', [program]);
    const result = await track(spawn(binary, [url.slice(4)], { stdio: ['ignore', 'pipe', 'pipe'] })).done;
    expect(result.code).toBe(0);
    expect((await rx.receiveMany(10)).map((m) => m.value)).toEqual([sample(42, 0), sample(42, 1), sample(42, 2)]);
  });

  it('C consumers and producers recover slots of killed peers by themselves', async () => {
    const url = ringUrl();
    const name = url.slice(4);
    const tx = await openRing(url, { create: true, capacity: 4 });
    tx.trySend(sample(1, 0));
    expect((await cPeer('claim-and-die', name).done).signal).toBe('SIGKILL');
    tx.trySend(sample(1, 1));
    // A C consumer meets the dead producer's slot between the two messages.
    expect(parseOk((await cPeer('consume', name, '2', '2').done).stdout)).toEqual([2, 2, 1n]);

    await tx.sendMany([sample(1, 2), sample(1, 3), sample(1, 4), sample(1, 5)]);
    expect((await cPeer('take-and-die', name).done).signal).toBe('SIGKILL');
    // Full, and the slot it needs is held by the dead consumer: a C producer must reclaim it.
    expect((await cPeer('produce', name, '2', '1', '1').done).code).toBe(0);
    expect(tx.info()).toMatchObject({ abandoned: 1, recovered: 1 });
    expect((await tx.receiveMany(10)).map((m) => m.value)).toEqual([
      sample(1, 3),
      sample(1, 4),
      sample(1, 5),
      sample(2, 0),
    ]);
  });

  it('producers killed with SIGKILL at random moments never expose a torn message or stall the ring', async () => {
    const url = ringUrl();
    const name = url.slice(4);
    const rx = await openRing(url, { create: true, capacity: 64 });
    const checker = new Checker();
    let stop = false;
    const consuming = (async () => {
      while (!stop) {
        for (const { value } of await rx.receiveMany(256, { timeoutMs: 20_000 })) {
          if (value.channel === STOP) return;
          checker.check(value);
        }
      }
    })();
    const batches = ['1', '3', '16', '64'];
    let kills = 0;
    for (let round = 0; round < 24; round++) {
      const id = 100 + round;
      const batch = batches[round % 4]!;
      const child =
        round % 8 === 7
          ? nodePeer('produce', url, String(id), '-1', batch)
          : cPeer('produce', name, String(id), '-1', batch);
      // Kill it while it is sending: once its first messages arrived, after a random 0-5 ms.
      const deadline = performance.now() + 20_000;
      while (!checker.counts.has(id) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 1));
      expect(checker.counts.has(id)).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 5));
      child.child.kill('SIGKILL');
      const result = await child.done;
      if (result.signal === 'SIGKILL') kills++;
    }
    // After all the killing, a producer still gets all of its messages through, in order.
    const last = 999;
    const survivor = cPeer('produce', name, String(last), '5000', '8');
    expect((await survivor.done).code).toBe(0);
    const tx = await openRing(url);
    await tx.send(sample(STOP, 0));
    stop = true;
    await consuming;
    expect(kills).toBe(24);
    expect(checker.counts.get(last)).toBe(5000);
    expect(checker.counts.size).toBe(25);
  });
});

/** The tail of a ring no peer holds open, read from its file. */
function tailOf(name: string): bigint {
  return readFileSync(`/dev/shm${name}`).readBigUInt64LE(ringLayout.header.tail);
}

// Positions live in the segment and survive restarts: a long-lived ring passes these. 2^31 sets the
// slot words' top bit, 2^32 wraps them, 2^53 is where a Number stops being exact, 2^63 the sign of an int64.
const boundaries = [2n ** 31n, 2n ** 32n, 2n ** 53n, 2n ** 63n];
const pairs = [
  ['C', 'C'],
  ['Node', 'C'],
  ['C', 'Node'],
  ['Node', 'Node'],
] as const;

describe.each(boundaries)('shm ring: positions across %s', (boundary) => {
  it.each(pairs)('%s producer -> %s consumer: every message once, in order, a dead claim skipped', async (from, to) => {
    const url = ringUrl('pos');
    const name = url.slice(4);
    await (await open(url, Sample, { create: true, capacity: 8 })).close();
    const start = boundary - 5n;
    startRingAt(name, start);
    // A producer dies holding the first slot: consumers must turn it into a skip and never deliver it.
    expect((await cPeer('claim-and-die', name).done).signal).toBe('SIGKILL');
    const n = 36;
    const consumer = to === 'C' ? cPeer('consume', name, String(n), '4') : nodePeer('consume', url, String(n), '4');
    const producer =
      from === 'C' ? cPeer('produce', name, '7', String(n), '3') : nodePeer('produce', url, '7', String(n), '3');
    expect((await producer.done).code).toBe(0);
    const result = await consumer.done;
    expect(result.stderr).toBe('');
    expect(parseOk(result.stdout)).toEqual(expected([7], n));
    expect(tailOf(name)).toBe(start + 1n + BigInt(n));
    const after = await openRing(url);
    expect(after.info()).toMatchObject({ pending: 0, recovered: 1 });
    expect(after.tryReceive()).toBeUndefined();
  });
});
