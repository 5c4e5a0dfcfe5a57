/**
 * Another local user (uid 65534, real processes) against a 0600 ring of root: it knows the ring id
 * (public: the doorbell directory's name), but whoever cannot open the segment must not be able to
 * take handles, wake, slow or starve the ring's peers. The control: a 0666 ring grants that user,
 * whose C peer then wakes root's sleeping Node consumer like any peer.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ringLayout } from '../../src/channels/ring.js';
import { type Channel, open, unlink } from '../../src/index.js';
import { Cleanup, compileC, finished, repoRoot, uniqueName } from '../helpers.js';
import { parseOk, ringPeers, Sample, sample } from './ring-fixtures.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());
const { cPeer, nodePeer, track } = ringPeers(cleanup);
const NOBODY = 65534;

// uid 65534 runs copies in a directory it can read, not binaries inside the checkout.
const bin = mkdtempSync(join(tmpdir(), 'tipc-ring-users-'));
chmodSync(bin, 0o755);
afterAll(() => rmSync(bin, { recursive: true, force: true }));
function forNobody(name: string, source: string): string {
  const target = join(bin, name);
  copyFileSync(compileC(name, [join(repoRoot, 'test', 'c', source)]), target);
  chmodSync(target, 0o755);
  return target;
}
const attacker = forNobody('ring_attacker', 'ring_attacker.c');
const nobodyPeer = forNobody('ring_peer', 'ring_peer.c');

function asNobody(file: string, args: readonly string[]): ChildProcess {
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', TIPC_FINGERPRINT: Sample.fingerprint };
  return spawn(file, args, { uid: NOBODY, gid: NOBODY, cwd: bin, env, stdio: ['ignore', 'pipe', 'pipe'] });
}

async function ring(mode: number): Promise<{ url: string; id: string; first: Channel<Sample> }> {
  const url = `shm:/${uniqueName('users')}`;
  cleanup.add(() => unlink(url));
  const first = await open(url, Sample, { create: true, capacity: 8, mode });
  const id = readFileSync(`/dev/shm${url.slice(4)}`).readBigUInt64LE(ringLayout.OFF_RING_ID);
  // Peers killed by the cleanup of a failed test may not be dead yet when the ring is unlinked.
  const directory = `/dev/shm/.tipc-bells.${id.toString(16).padStart(16, '0')}`;
  cleanup.add(() => rmSync(directory, { recursive: true, force: true }));
  cleanup.add(() => first.close());
  return { url, id: id.toString(16).padStart(16, '0'), first };
}

/** The first line a child prints. */
function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('\n')) resolve(text.slice(0, text.indexOf('\n')));
    });
    child.on('close', () => reject(new Error(`exited before a line: ${text}`)));
  });
}

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
}

/** How many times a process's main thread went to sleep voluntarily so far (each wake-up ends one). */
function sleepsOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'latin1');
  return Number(/^voluntary_ctxt_switches:\s+(\d+)$/m.exec(status)?.[1]);
}

/** Waits until the consumers' sleeper mask of the ring has `count` bits set. */
async function sleeping(url: string, count: number): Promise<void> {
  const deadline = performance.now() + 30_000;
  for (;;) {
    const word = readFileSync(`/dev/shm${url.slice(4)}`).readBigUInt64LE(256);
    let bits = 0;
    for (let w = word; w !== 0n; w &= w - 1n) bits++;
    if (bits >= count) return;
    if (performance.now() > deadline) throw new Error(`only ${bits} of ${count} consumers went to sleep`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('shm ring: a user who cannot open the segment', () => {
  it('cannot take its handles by squatting doorbell names: all 64 stay for the ring’s own peers', async () => {
    const { url, id, first } = await ring(0o600);
    const squatter = track(asNobody(attacker, ['squat', id, '60']));
    const report = await firstLine(squatter.child);
    const channels: Channel<Sample>[] = [first];
    for (let i = 1; i < 64; i++) {
      const channel = await open(url, Sample);
      cleanup.add(() => channel.close());
      channels.push(channel);
    }
    // The squatter's doorbell paths were refused by the directory's mode (names of protocol 1 it may
    // bind: nobody uses them any more).
    expect(report).toMatch(/^squatted \d+ 0 denied EACCES$/);
    expect(channels.map((c) => c.info().handle).sort((a, b) => Number(a) - Number(b))).toEqual(
      Array.from({ length: 64 }, (_, i) => i),
    );
    await expect(open(url, Sample)).rejects.toMatchObject({ code: 'EUSERS' });
    await channels[63]!.send(sample(1, 0));
    expect((await channels[0]!.receive({ timeoutMs: 10_000 })).value).toEqual(sample(1, 0));
  });

  it('cannot wake or starve its sleeping Node and C consumers by flooding their doorbells', async () => {
    const { url, id, first } = await ring(0o600);
    const consumers = [cPeer('consume', url.slice(4), '1', '1'), nodePeer('consume', url, '1', '1')];
    await sleeping(url, 2);
    const pids = consumers.map((c) => c.child.pid!);
    const before = pids.map((pid) => [cpuSeconds(pid), sleepsOf(pid)] as const);
    const flood = await finished(asNobody(attacker, ['flood', id, '2000']), 30_000);
    const used = pids.map((pid, i) => [cpuSeconds(pid) - before[i]![0], sleepsOf(pid) - before[i]![1]] as const);
    // A waiter woken by every datagram wakes thousands of times and burns CPU on it (1-2 s of 2 s on
    // an idle machine); asleep, it wakes only on its own timers: the C peer every 10 ms to look for
    // dead peers (at most 200 times in 2 s), Node once a second. Wake-ups are counted, not timed, so
    // a loaded machine cannot hide a flood that gets through.
    const why = `[CPU seconds, wake-ups] of the C and the Node waiter during the flood: ${JSON.stringify(used)}`;
    for (const [seconds, wakeups] of used) {
      expect(wakeups, why).toBeLessThan(400);
      expect(seconds, why).toBeLessThan(0.5);
    }
    // Not one datagram reached a doorbell: the kernel refused every one (EACCES on the directory).
    // Protocol 1's abstract names may take datagrams, if a squatter bound them; nobody listens there.
    expect(flood.stdout).toMatch(/^sent \d+ 0 failed [1-9]\d* EACCES$/m);
    await first.sendMany([sample(1, 0), sample(1, 1)]);
    for (const consumer of consumers) {
      const result = await consumer.done;
      expect(result.stderr).toBe('');
      expect(parseOk(result.stdout)[0]).toBe(1);
    }
  });

  it('the control: granted a 0666 ring, the same user is a full peer and wakes root’s sleeping consumer', async () => {
    const { url, first } = await ring(0o666);
    const receiving = first.receiveMany(3, { timeoutMs: 20_000 });
    const producer = await finished(asNobody(nobodyPeer, ['produce', url.slice(4), '9', '3', '3']), 30_000);
    expect(producer).toMatchObject({ code: 0, stderr: '' });
    expect((await receiving).map((m) => m.value)).toEqual([sample(9, 0), sample(9, 1), sample(9, 2)]);
  });
});
