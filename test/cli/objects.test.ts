/**
 * The command line as a new user meets it: rm carrying on past failures, ls finding FIFOs and socket
 * files (stale ones marked) and saying when it found nothing, tail --raw and --drain, stat without
 * the internals of its own handle, hints that name flags, send's exit codes and counts, and a bench
 * table that fits 120 columns.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import * as report from '../../bench/report.js';
import { benchTable } from '../../src/cli/commands/bench.js';
import { bind, listen, open, unlink } from '../../src/index.js';
import { Cleanup, uniqueName } from '../helpers.js';
import { oneLineError, runCli } from './run.js';
import { Sample } from './schemas.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const sample = 'test/cli/schemas.ts#Sample';

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tipc-cli-'));
  cleanup.add(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** An environment where ls sees only `dirs` (no queues: an unmounted mqueue dir; an empty shm dir). */
function onlyFiles(): Record<string, string> {
  // System V queues are system-wide: other tests' queues would show up, so point the listing at no file.
  return {
    TYPED_IPC_MQUEUE_DIR: tempDir(),
    TYPED_IPC_SHM_DIR: tempDir(),
    TYPED_IPC_SYSV_LIST: join(tempDir(), 'none'),
  };
}

async function queueWith(values: { channel: number; priority: number }[]): Promise<string> {
  const url = `mq:/${uniqueName('cli-raw')}`;
  cleanup.add(() => unlink(url));
  const tx = await open(url, Sample, { create: true, capacity: 10, access: 'send' });
  for (const { channel, priority } of values) await tx.send({ channel, timestamp: 7n, value: 0.5 }, { priority });
  await tx.close();
  return url;
}

describe('typed-ipc rm', () => {
  it('removes every object it can, reports each failure on its own line, and exits 1 at the end', async () => {
    const first = `mq:/${uniqueName('rm-a')}`;
    const missing = `mq:/${uniqueName('rm-missing')}`;
    const last = `shm:/${uniqueName('rm-b')}`;
    cleanup.add(() => unlink(first));
    cleanup.add(() => unlink(last));
    await (await open(first, Sample, { create: true })).close();
    await (await open(last, Sample, { create: true, capacity: 4 })).close();
    const run = await runCli(['rm', first, missing, last]);
    expect(run.code).toBe(1);
    expect(run.stderr.trimEnd().split('\n')).toEqual([
      `typed-ipc rm: mq_unlink ${missing.slice(3)}: ENOENT (no such file or directory); nothing of this name to remove (-f ignores missing objects)`,
      'typed-ipc rm: 1 of 3 objects not removed',
    ]);
    await expect(open(first, Sample)).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(open(last, Sample)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await runCli(['rm', '-f', missing])).toMatchObject({ code: 0, stderr: '' });
  });

  it('removes nothing when one URL is malformed (exit 2)', async () => {
    const url = `mq:/${uniqueName('rm-kept')}`;
    cleanup.add(() => unlink(url));
    await (await open(url, Sample, { create: true })).close();
    const run = await runCli(['rm', url, 'queue:/typo']);
    expect(run.code).toBe(2);
    await (await open(url, Sample)).close(); // still there
  });
});

describe('typed-ipc ls on directories', () => {
  it('lists FIFOs and socket files in the directories named, marking the stale ones', async () => {
    const dir = tempDir();
    const fifo = join(dir, 'samples.fifo');
    execFileSync('mkfifo', ['-m', '0600', fifo]);
    const listener = await listen(`unix+seqpacket:${join(dir, 'control.sock')}`, Sample);
    cleanup.add(() => listener.close());
    const bound = await bind(`unix+dgram:${join(dir, 'live.sock')}`, Sample);
    cleanup.add(() => bound.close());
    // A stale socket file: a process bound it and died without removing it.
    const stalePath = join(dir, 'stale.sock');
    execFileSync('python3', [
      '-c',
      `import socket; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).bind(${JSON.stringify(stalePath)})`,
    ]);
    const run = await runCli(['ls', dir, '--json'], { env: onlyFiles() });
    expect(run.code).toBe(0);
    const entries = run.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(entries.map((e) => [e.url, e.kind, e.note])).toEqual([
      [`unix+seqpacket:${join(dir, 'control.sock')}`, 'socket', 'listening'],
      [`unix+dgram:${join(dir, 'live.sock')}`, 'socket', 'bound'],
      [`fifo:${fifo}`, 'fifo', undefined],
      [`unix+*:${stalePath}`, 'socket', `stale: nothing is bound to it; typed-ipc rm unix+dgram:${stalePath}`],
    ]);
    expect(entries[2]).toMatchObject({ mode: '0600', owner: 'root' });
    // The hint is true: rm removes the stale file.
    expect(await runCli(['rm', `unix+dgram:${stalePath}`])).toMatchObject({ code: 0, stderr: '' });
    expect(existsSync(stalePath)).toBe(false);
  });

  it('finds them through TYPED_IPC_DIRS, says so when there is nothing, and refuses a non-directory', async () => {
    const dir = tempDir();
    execFileSync('mkfifo', [join(dir, 'p')]);
    const found = await runCli(['ls'], { env: { ...onlyFiles(), TYPED_IPC_DIRS: dir } });
    expect(found.stdout).toMatch(new RegExp(`^fifo:${dir}/p +0 +rw`, 'm'));
    const empty = tempDir();
    const none = await runCli(['ls', empty], { env: onlyFiles() });
    expect(none.code).toBe(0);
    expect(none.stdout).toBe(
      `no message queues, shared-memory objects, System V queues, FIFOs or socket files (looked in ${empty})\n`,
    );
    const json = await runCli(['ls', empty, '--json'], { env: onlyFiles() });
    expect(json.stdout).toBe('');
    expect(json.stderr).toMatch(
      /typed-ipc ls: no message queues, shared-memory objects, System V queues, FIFOs or socket files/,
    );
    const notDir = await runCli(['ls', join(dir, 'p')], { env: onlyFiles() });
    expect(notDir.code).toBe(2);
    expect(oneLineError(notDir)).toMatch(/is not a directory; ls takes directories/);
  });
});

describe('typed-ipc tail --raw and --drain', () => {
  it('prints size, priority and hex of every message in a queue without a schema, then exits 0 when it is empty', async () => {
    const url = await queueWith([
      { channel: 1, priority: 2 },
      { channel: 2, priority: 5 },
    ]);
    const run = await runCli(['tail', url, '--raw', '--drain']);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const hex = (channel: number) => Buffer.from(Sample.encode({ channel, timestamp: 7n, value: 0.5 })).toString('hex');
    expect(run.stdout).toBe(`{"size":24,"priority":5,"hex":"${hex(2)}"}\n{"size":24,"priority":2,"hex":"${hex(1)}"}\n`);
    // Drained: a second run finds nothing and still exits 0.
    expect(await runCli(['tail', url, '--raw', '--drain'])).toMatchObject({ code: 0, stdout: '', stderr: '' });
  });

  it('prints a hex table on request, reads a ring by its header, and drains with a schema too', async () => {
    const url = `shm:/${uniqueName('cli-raw-ring')}`;
    cleanup.add(() => unlink(url));
    const ring = await open(url, Sample, { create: true, capacity: 4 });
    await ring.send({ channel: 258, timestamp: 1n, value: 0 });
    await ring.send({ channel: 3, timestamp: 1n, value: 0 });
    await ring.close();
    const table = await runCli(['tail', url, '--raw', '--format', 'table', '--count', '1']);
    expect(table.code).toBe(0);
    expect(table.stdout).toBe(
      'priority  size  bytes\n       0    24  02010000 00000000 01000000 00000000 00000000 00000000\n',
    );
    const rest = await runCli(['tail', url, '--schema', sample, '--drain']);
    expect(rest).toMatchObject({ code: 0, stdout: '{"value":{"channel":3,"timestamp":"1","value":0},"priority":0}\n' });
  });

  it('needs --size where the object declares none, and --timeout to drain a socket', async () => {
    const noSize = await runCli(['tail', 'fifo:/tmp/tipc-no-such.fifo', '--raw']);
    expect(noSize.code).toBe(2);
    expect(oneLineError(noSize)).toMatch(/does not say how long its messages are: give --size <bytes>/);
    const drain = await runCli(['tail', 'udp://127.0.0.1:0', '--schema', sample, '--drain']);
    expect(drain.code).toBe(2);
    expect(oneLineError(drain)).toMatch(/--drain on udp:\/\/127\.0\.0\.1:0 needs --timeout <ms>/);
    const idle = await runCli(['tail', 'udp://127.0.0.1:0', '--raw', '--size', '24', '--drain', '--timeout', '200']);
    expect(idle).toMatchObject({ code: 0, stdout: '', stderr: '' });
    const both = await runCli(['tail', 'mq:/x', '--raw', '--schema', sample]);
    expect(both.code).toBe(2);
  });
});

describe('messages for the command-line user', () => {
  it('names flags the command has, never API options', async () => {
    const missing = `mq:/${uniqueName('cli-hint')}`;
    const stat = await runCli(['stat', missing]);
    expect(stat.code).toBe(1);
    expect(oneLineError(stat)).toMatch(/no queue has this name: start the side that creates it first \(typed-ipc ls/);
    const tail = await runCli(['tail', missing, '--schema', sample, '--timeout', '100']);
    expect(oneLineError(tail)).toMatch(/no queue has this name: add --create, or start the side/);
    const connect = await runCli([
      'send',
      `unix+stream:/tmp/${uniqueName('nobody')}.sock`,
      '--schema',
      sample,
      '--json',
      '{"channel":1,"timestamp":"1","value":1}',
    ]);
    expect(oneLineError(connect)).toMatch(/ENOENT .*; nobody listens at this path: start the listening side first/);
    const gen = await runCli(['gen', 'c', './no/such.ts#X']);
    expect(gen.code).toBe(2);
    expect(oneLineError(gen)).toMatch(/^typed-ipc gen: no such module "\.\/no\/such\.ts"/);
    const queue = await queueWith([]);
    const wrong = await runCli(['tail', queue, '--schema', 'test/cli/schemas.ts#Note', '--drain']);
    expect(wrong.code).toBe(1);
    expect(oneLineError(wrong)).toMatch(
      /give --schema the schema it was created for, or remove it \(typed-ipc rm <url>\)/,
    );
    for (const run of [stat, tail, connect, gen, wrong])
      expect(run.stderr).not.toMatch(/`\w+: [^`]*`|--schema:|unlink it/);
  });

  it('stat shows the object, not the handle stat opened for a moment', async () => {
    const url = await queueWith([{ channel: 1, priority: 0 }]);
    const mq = JSON.parse((await runCli(['stat', url, '--json'])).stdout) as Record<string, unknown>;
    expect(mq).toMatchObject({ url, transport: 'mq', capacity: 10, messageSize: 24, pending: 1 });
    for (const internal of ['access', 'handle', 'bytes', 'name']) expect(mq).not.toHaveProperty(internal);
    const ring = `shm:/${uniqueName('cli-stat-ring')}`;
    cleanup.add(() => unlink(ring));
    await (await open(ring, Sample, { create: true, capacity: 4 })).close();
    const shm = JSON.parse((await runCli(['stat', ring, '--json'])).stdout) as Record<string, unknown>;
    expect(shm).toMatchObject({ url: ring, capacity: 4, messageSize: 24, pending: 0, creatorRunning: true });
    expect(shm.segmentBytes).toBeGreaterThan(0);
    for (const internal of ['access', 'handle', 'bytes']) expect(shm).not.toHaveProperty(internal);
  });

  it('send: a priority the transport refuses is a usage error (exit 2); a timeout says how many went out', async () => {
    const ring = `shm:/${uniqueName('cli-prio')}`;
    cleanup.add(() => unlink(ring));
    const json = '{"channel":1,"timestamp":"1","value":1}';
    const priority = await runCli(['send', ring, '--create', '--schema', sample, '--json', json, '--priority', '2']);
    expect(priority.code).toBe(2);
    expect(oneLineError(priority)).toBe(
      'typed-ipc send: --priority: shm channels carry no priorities: priority must be 0 (got 2)',
    );
    const url = `mq:/${uniqueName('cli-full')}`;
    cleanup.add(() => unlink(url));
    await (await open(url, Sample, { create: true, capacity: 3 })).close();
    const full = await runCli(['send', url, '--schema', sample, '--json', json, '--repeat', '5', '--timeout', '200']);
    expect(full.code).toBe(1);
    expect(oneLineError(full)).toBe(
      `typed-ipc send: sent 3 of 5 messages, then: send on ${url} timed out after 200 ms`,
    );
  });
});

describe('typed-ipc bench table', () => {
  it('fits 120 columns with the longest variant names and every baseline kind', () => {
    const results = report.rate(
      [24, 256, 4096].flatMap((messageBytes) => [
        {
          transport: 'unix+seqpacket',
          messageBytes,
          variant: 'node koffi blocking send/recv, no event loop (ceiling)',
          msgPerSec: 1_234_567,
        },
        {
          transport: 'unix+seqpacket',
          messageBytes,
          variant: 'node sendMany(256)/receiveMany(4096)',
          msgPerSec: 17_996_299,
        },
        ...report.baselineKinds.map((baseline) => ({
          transport: 'unix+seqpacket',
          messageBytes,
          variant: `${baseline} reference loop doing the very same system calls`,
          msgPerSec: 2_000_000,
          baseline,
        })),
      ]),
    );
    const lines = benchTable(results, report, 200).split('\n');
    expect(lines[0]).toMatch(
      /^TRANSPORT +BYTES +VARIANT +MSG\/S +VS C +VS NODE-IPC +VS DATAVIEW +VS MSGPACKR +VS KOFFI +VS NATS-CLIENT$/,
    );
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(120);
    expect(lines.some((line) => line.includes('…'))).toBe(true);
    expect(lines.find((line) => line.includes('17,996,299'))).toMatch(
      / 9\.00x +9\.00x +9\.00x +9\.00x +9\.00x +9\.00x$/,
    );
    expect(lines.find((line) => line.includes('c reference'))).toMatch(/ base +1\.00x/);
  });
});
