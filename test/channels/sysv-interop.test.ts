/**
 * sysv: channels against real peers: a C program using blocking msgsnd/msgrcv on `struct sample`
 * (test/c/sysv_peer.c) in both directions with several message types, ftok keys computed by C, and
 * the figures of util-linux `ipcs -q` against info().
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cHeader } from '../../src/codecs/index.js';
import type { OpenOptions } from '../../src/index.js';
import { Cleanup, compileC, finished, repoRoot, spawnTs, uniqueName } from '../helpers.js';
import { Sample } from './sample.js';
import { openSysv, type SysvChannel } from './sysv-queues.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const cDir = join(repoRoot, 'test', 'c');
let peer = '';
beforeAll(() => {
  const generated = join(cDir, 'build', 'sysv-interop', 'sample.h');
  mkdirSync(dirname(generated), { recursive: true });
  writeFileSync(generated, cHeader([Sample]));
  peer = compileC(
    'sysv_peer',
    [join(cDir, 'sysv_peer.c')],
    [`-I${cDir}`, `-I${dirname(generated)}`],
    [join(cDir, 'mq_sample.h'), generated],
  );
});

/** Sample i of an interop run: the same formula as sample_of() in test/c/mq_sample.h. */
const sampleOf = (i: number): Sample => ({
  channel: i % 7,
  timestamp: BigInt(i) * 1000003n + 17n,
  value: i * 0.25 - 3,
});
const indexOf = (sample: Sample): number => Number((sample.timestamp - 17n) / 1000003n);

const openQueue = (url: string, options: OpenOptions = {}): Promise<SysvChannel<Sample>> =>
  openSysv(cleanup, url, Sample, options);

function runPeer(args: readonly string[]) {
  const child = spawn(peer, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  cleanup.add(() => child.kill('SIGKILL'));
  return finished(child, 60_000);
}

describe('sysv: C peers', () => {
  it('receives by type what a C producer sent with three types', async () => {
    const queue = await openQueue('sysv:private', { create: true });
    const id = String(queue.info().id);
    const producing = runPeer(['produce', id, '3000', '3']);
    // One receiver per type, all draining at once while the producer runs (the queue holds ~680).
    const byType = await Promise.all(
      [1, 2, 3].map(async (type) => {
        const receiver = await openQueue(queue.url, { receiveType: type });
        const got: number[] = [];
        for (let n = 0; n < 1000; n++) {
          const { value, priority } = await receiver.receive({ timeoutMs: 30_000 });
          expect(priority).toBe(type);
          expect(value).toEqual(sampleOf(indexOf(value)));
          got.push(indexOf(value));
        }
        return got;
      }),
    );
    const { code, stdout, stderr } = await producing;
    expect(code, stderr).toBe(0);
    expect(stdout).toBe('sent 3000\n');
    // Each type in the order C sent it: i = type - 1, type - 1 + 3, ...
    expect(byType).toEqual([0, 1, 2].map((t) => Array.from({ length: 1000 }, (_, k) => t + 3 * k)));
    expect(queue.info().pending).toBe(0);
  });

  it('receives the lowest type first (msgtyp < 0) from a C producer', async () => {
    const queue = await openQueue('sysv:private', { create: true, receiveType: -2 });
    const { code, stderr } = await runPeer(['produce', String(queue.info().id), '12', '4']);
    expect(code, stderr).toBe(0);
    const types: number[] = [];
    for (let n = 0; n < 6; n++) types.push((await queue.receive()).priority);
    // Types 1..4 round-robin: the three 1s, then the three 2s; the 3s and 4s stay (they are > 2).
    expect(types).toEqual([1, 1, 1, 2, 2, 2]);
    expect(queue.tryReceive()).toBeUndefined();
    expect(queue.info().pending).toBe(6);
  });

  it('a C consumer receives Node messages by exact type and with MSG_EXCEPT', async () => {
    const queue = await openQueue('sysv:private', { create: true });
    const id = String(queue.info().id);
    for (let i = 0; i < 60; i++) await queue.send(sampleOf(i), { priority: 1 + (i % 4) });
    const twos = await runPeer(['consume', id, '2', '15']);
    expect(twos.code, twos.stderr).toBe(0);
    const line = (i: number): string => {
      const s = sampleOf(i);
      return `${1 + (i % 4)} ${s.channel} ${s.timestamp} ${s.value}`;
    };
    const indices = (keep: (i: number) => boolean) => Array.from({ length: 60 }, (_, i) => i).filter(keep);
    expect(twos.stdout).toBe(
      `ready\n${indices((i) => i % 4 === 1)
        .map(line)
        .join('\n')}\n`,
    );
    const rest = await runPeer(['consume', id, '3', '30', 'except']);
    expect(rest.code, rest.stderr).toBe(0);
    expect(rest.stdout).toBe(
      `ready\n${indices((i) => i % 4 === 0 || i % 4 === 3)
        .map(line)
        .join('\n')}\n`,
    );
    // What is left is the 15 messages of type 3.
    expect(queue.info()).toMatchObject({ pending: 15, bytes: 15 * Sample.size });
  });

  it('Node sends 2000 messages through a 4-message queue to a C consumer: waits for room, loses nothing', async () => {
    const queue = await openQueue('sysv:private', { create: true, capacity: 4 });
    const consuming = runPeer(['consume', String(queue.info().id), '0', '2000']);
    const values = Array.from({ length: 2000 }, (_, i) => sampleOf(i));
    await queue.sendMany(values.slice(0, 1000), { priority: 4 });
    for (const value of values.slice(1000)) await queue.send(value, { priority: 5, timeoutMs: 30_000 });
    const { code, stdout, stderr } = await consuming;
    expect(code, stderr).toBe(0);
    const lines = stdout.trim().split('\n').slice(1);
    expect(lines.map((line) => Number(line.split(' ')[2]))).toEqual(values.map((v) => Number(v.timestamp)));
    expect(lines.map((line) => Number(line.split(' ')[0]))).toEqual(values.map((_, i) => (i < 1000 ? 4 : 5)));
  });

  it('a C consumer blocked in msgrcv gets a message Node sends later', async () => {
    const queue = await openQueue('sysv:private', { create: true });
    const child = spawn(peer, ['consume', String(queue.info().id), '5', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    cleanup.add(() => child.kill('SIGKILL'));
    const done = finished(child, 30_000);
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    await queue.send(sampleOf(4), { priority: 5 });
    const { code, stdout } = await done;
    expect(code).toBe(0);
    expect(stdout).toContain(`5 4 ${sampleOf(4).timestamp} ${sampleOf(4).value}`);
  });

  it('ftok keys match what C computes for the same file and project id', async () => {
    const path = join(tmpdir(), uniqueName('ftok'));
    cleanup.add(() => rmSync(path, { force: true }));
    writeFileSync(path, '');
    const queue = await openQueue(`sysv:${path}?proj=A`, { create: true, exclusive: true });
    const { stdout } = await runPeer(['ftok', path, String('A'.charCodeAt(0))]);
    expect(stdout.trim()).toBe(queue.info().keyHex);
  });
});

describe('sysv: related Node processes', () => {
  it('a child process opens the private queue by its id and sends by type; the parent receives each type', async () => {
    const queue = await openQueue('sysv:private', { create: true, capacity: 8 });
    const script = join(tmpdir(), `${uniqueName('child')}.mts`);
    cleanup.add(() => rmSync(script, { force: true }));
    writeFileSync(
      script,
      `import { open } from ${JSON.stringify(join(repoRoot, 'src', 'index.ts'))};
import { Sample } from ${JSON.stringify(join(repoRoot, 'test', 'channels', 'sample.ts'))};
const queue = await open(process.argv[2], Sample, { access: 'send' });
for (let i = 0; i < 300; i++) {
  await queue.send({ channel: i % 7, timestamp: BigInt(i) * 1000003n + 17n, value: i * 0.25 - 3 }, { priority: 1 + (i % 2) });
}
await queue.close();
`,
    );
    const child = spawnTs(script, [queue.url]);
    cleanup.add(() => child.kill('SIGKILL'));
    const done = finished(child, 60_000);
    const odd = await openQueue(queue.url, { receiveType: 2 });
    const even = await openQueue(queue.url, { receiveType: 1 });
    const take = async (channel: SysvChannel<Sample>) => {
      const got: number[] = [];
      for (let n = 0; n < 150; n++) got.push(indexOf((await channel.receive({ timeoutMs: 30_000 })).value));
      return got;
    };
    const [odds, evens] = await Promise.all([take(odd), take(even)]);
    expect((await done).code).toBe(0);
    expect(evens).toEqual(Array.from({ length: 150 }, (_, k) => 2 * k));
    expect(odds).toEqual(Array.from({ length: 150 }, (_, k) => 2 * k + 1));
  });
});

describe('sysv: ipcs', () => {
  it('ipcs -q and ipcs -q -i show the figures info() gives', async () => {
    const queue = await openQueue('sysv:private', { create: true, mode: 0o640, capacityBytes: 4800 });
    for (let i = 0; i < 7; i++) await queue.send(sampleOf(i), { priority: 2 });
    await queue.receive();
    const info = queue.info();
    // ipcs -q: key msqid owner perms used-bytes messages
    const row = execFileSync('ipcs', ['-q'], { encoding: 'utf8' })
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .find((fields) => fields[1] === String(info.id));
    const owner = execFileSync('id', ['-nu', String(info.uid)], { encoding: 'utf8' }).trim();
    expect(row).toEqual([info.keyHex, String(info.id), owner, '640', String(info.bytes), String(info.pending)]);
    expect(info).toMatchObject({ bytes: 6 * Sample.size, pending: 6 });
    const detail = execFileSync('ipcs', ['-q', '-i', String(info.id)], { encoding: 'utf8' });
    const field = (name: string): string | undefined => new RegExp(`\\b${name}=(\\S+)`).exec(detail)?.[1];
    expect({
      uid: field('uid'),
      cuid: field('cuid'),
      mode: field('mode'),
      cbytes: field('cbytes'),
      qbytes: field('qbytes'),
      qnum: field('qnum'),
      lspid: field('lspid'),
      lrpid: field('lrpid'),
    }).toEqual({
      uid: String(info.uid),
      cuid: String(info.cuid),
      mode: '0640',
      cbytes: String(info.bytes),
      qbytes: String(info.capacityBytes),
      qnum: String(info.pending),
      lspid: String(info.lastSendPid),
      lrpid: String(info.lastReceivePid),
    });
    expect(info.capacityBytes).toBe(4800);
    expect(info.lastSendPid).toBe(process.pid);
  });
});
