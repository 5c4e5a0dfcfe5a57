/**
 * `typed-ipc send`, `tail`, `stat`, `rm` and `gen c` against real objects: every transport, messages
 * sent by one process and printed by another, decode failures reported without stopping, C headers
 * compiled by `cc`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Cleanup, compileC, finished, freePort, spawnTs, uniqueName } from '../helpers.js';
import { oneLineError, runCli } from './run.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const sample = 'test/cli/schemas.ts#Sample';
const max64 = '18446744073709551615';

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tipc-cli-'));
  cleanup.add(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function records(stdout: string): { value: Record<string, unknown>; priority: number; from?: string }[] {
  return stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
}

/** Starts `typed-ipc tail` in the background; resolves with its result when it exits. */
function startTail(args: readonly string[]) {
  const child = spawnTs('src/cli/main.ts', ['tail', ...args]);
  cleanup.add(() => child.kill('SIGKILL'));
  return finished(child, 60_000);
}

/** Polls for a condition (a file a child makes); the deadline is a guard for a child that never gets there. */
async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('mq: send, stat, tail, rm', () => {
  it('round-trips values with priorities and exact 64-bit integers between processes', async () => {
    const url = `mq:/${uniqueName('cli')}`;
    cleanup.add(() => runCli(['rm', '-f', url]));
    const first = await runCli([
      ...['send', url, '--create', '--capacity', '4', '--schema', sample],
      ...['--json', `{"channel":1,"timestamp":"${max64}","value":0.5}`],
    ]);
    expect(first).toMatchObject({ code: 0, stderr: '' });
    const more = await runCli([
      ...['send', url, '--schema', sample, '--priority', '7', '--repeat', '2'],
      ...['--json', '{"channel":2,"timestamp":3,"value":"-Infinity"}'],
    ]);
    expect(more).toMatchObject({ code: 0, stderr: '' });

    const stat = await runCli(['stat', url, '--json']);
    expect(stat.code).toBe(0);
    expect(JSON.parse(stat.stdout)).toMatchObject({ url, transport: 'mq', capacity: 4, messageSize: 24, pending: 3 });

    const tail = await runCli(['tail', url, '--schema', sample, '--count', '3']);
    expect(tail.code).toBe(0);
    expect(records(tail.stdout)).toEqual([
      { value: { channel: 2, timestamp: '3', value: '-Infinity' }, priority: 7 },
      { value: { channel: 2, timestamp: '3', value: '-Infinity' }, priority: 7 },
      { value: { channel: 1, timestamp: max64, value: 0.5 }, priority: 0 },
    ]);

    const rm = await runCli(['rm', url]);
    expect(rm).toMatchObject({ code: 0, stderr: '' });
    const gone = await runCli(['stat', url]);
    expect(gone.code).toBe(1);
    expect(oneLineError(gone)).toMatch(/^typed-ipc stat: mq_open \/tipc-.*: ENOENT/);
  });

  it('prints an aligned table with --format table and bare 64-bit numbers with --bigint number', async () => {
    const url = `mq:/${uniqueName('cli')}`;
    cleanup.add(() => runCli(['rm', '-f', url]));
    const json = `{"channel":65535,"timestamp":"${max64}","value":1.25}`;
    await runCli(['send', url, '--create', '--schema', sample, '--repeat', '2', '--json', json]);
    const table = await runCli(['tail', url, '--schema', sample, '--count', '1', '--format', 'table']);
    expect(table.code).toBe(0);
    expect(table.stdout).toBe(
      ['priority  channel             timestamp         value', `       0    65535  ${max64}          1.25`, ''].join(
        '\n',
      ),
    );
    const numbers = await runCli(['tail', url, '--schema', sample, '--count', '1', '--bigint', 'number']);
    expect(numbers.stdout).toBe(`{"value":{"channel":65535,"timestamp":${max64},"value":1.25},"priority":0}\n`);
  });

  it('times out with exit 1 and one line when nothing arrives', async () => {
    const url = `mq:/${uniqueName('cli')}`;
    cleanup.add(() => runCli(['rm', '-f', url]));
    const run = await runCli(['tail', url, '--create', '--schema', sample, '--timeout', '200']);
    expect(run.code).toBe(1);
    expect(oneLineError(run)).toBe(`typed-ipc tail: receive on ${url} timed out after 200 ms`);
  });

  it('sends the NDJSON that tail printed (send --json -), keeping values and priorities', async () => {
    const from = `mq:/${uniqueName('from')}`;
    const to = `mq:/${uniqueName('to')}`;
    cleanup.add(() => runCli(['rm', '-f', from, to]));
    await runCli([
      'send',
      from,
      '--create',
      '--schema',
      sample,
      '--priority',
      '2',
      '--json',
      `{"channel":9,"timestamp":"${max64}","value":3}`,
    ]);
    const printed = await runCli(['tail', from, '--schema', sample, '--count', '1']);
    const forwarded = await runCli(['send', to, '--create', '--schema', sample, '--json', '-'], {
      input: printed.stdout,
    });
    expect(forwarded).toMatchObject({ code: 0, stderr: '' });
    const again = await runCli(['tail', to, '--schema', sample, '--count', '1']);
    expect(records(again.stdout)).toEqual([{ value: { channel: 9, timestamp: max64, value: 3 }, priority: 2 }]);
  });
});

describe('tail and send over every transport', () => {
  const dir = (): string => tempDir();
  const cases: [string, () => string | Promise<string>][] = [
    ['unix+dgram', () => `unix+dgram:${join(dir(), 'd.sock')}`],
    ['unix+seqpacket', () => `unix+seqpacket:${join(dir(), 's.sock')}`],
    ['unix+stream', () => `unix+stream:${join(dir(), 't.sock')}`],
    ['tcp', async () => `tcp://127.0.0.1:${await freePort()}`],
    ['fifo', () => `fifo:${join(dir(), 'pipe')}`],
    ['shm', () => `shm:/${uniqueName('ring')}`],
  ];

  it.each(cases)('%s: a tail in one process prints what send in another sends', async (scheme, makeUrl) => {
    const url = await makeUrl();
    const named = scheme === 'fifo' || scheme === 'shm';
    if (named) cleanup.add(() => runCli(['rm', '-f', url]));
    const tail = startTail([
      url,
      '--schema',
      sample,
      '--count',
      '2',
      '--timeout',
      '30000',
      ...(named ? ['--create'] : []),
    ]);
    const path = url.slice(url.indexOf(':') + 1);
    // Wait until the receiving side exists: the socket file, the FIFO, the ring's segment, or a listener.
    if (scheme.startsWith('unix') || scheme === 'fifo') await until(() => existsSync(path), path);
    if (scheme === 'shm') await until(() => existsSync(`/dev/shm${path}`), `/dev/shm${path}`);
    const sendTwo = () =>
      runCli(['send', url, '--schema', sample, '--repeat', '2', '--json', '{"channel":3,"timestamp":"4","value":5}']);
    let send = await sendTwo();
    for (let attempt = 0; scheme === 'tcp' && send.code === 1 && attempt < 50; attempt++) {
      // The listener is not up yet (ECONNREFUSED): try again.
      await new Promise((resolve) => setTimeout(resolve, 200));
      send = await sendTwo();
    }
    expect(send).toMatchObject({ code: 0, stderr: '' });
    const result = await tail;
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const got = records(result.stdout);
    expect(got.map((r) => r.value)).toEqual([
      { channel: 3, timestamp: '4', value: 5 },
      { channel: 3, timestamp: '4', value: 5 },
    ]);
    if (scheme === 'unix+dgram') expect(got[0]!.from).toMatch(/^unix\+dgram:@/);
    if (scheme === 'unix+seqpacket' || scheme === 'unix+stream') expect(got[0]!.from).toMatch(/^#1 pid \d+$/);
    if (scheme.startsWith('unix')) expect(existsSync(path)).toBe(false); // the socket file went with the tail
  });

  it('udp: prints datagrams with their sender', async () => {
    const url = `udp://127.0.0.1:${await freePort('udp')}`;
    const tail = startTail([url, '--schema', sample, '--count', '1', '--timeout', '30000']);
    let done = false;
    void tail.then(() => {
      done = true;
    });
    // UDP has no connection to wait for: send until the tail has received one.
    while (!done) {
      await runCli(['send', url, '--schema', sample, '--json', '{"channel":1,"timestamp":"2","value":3}']);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const result = await tail;
    expect(result.code).toBe(0);
    const [record] = records(result.stdout);
    expect(record).toMatchObject({ value: { channel: 1, timestamp: '2', value: 3 }, priority: 0 });
    expect(record!.from).toMatch(/^udp:\/\/127\.0\.0\.1:\d+$/);
  });

  it('reports a message of the wrong size on stderr and keeps tailing', async () => {
    const path = join(tempDir(), 'd.sock');
    const url = `unix+dgram:${path}`;
    const tail = startTail([url, '--schema', sample, '--count', '1', '--timeout', '30000']);
    await until(() => existsSync(path), path);
    // A 48-byte `rich` message where 24-byte samples are expected, then a good sample.
    const rich = '{"id":1,"big":"-5","name":"x","raw":"00010203","levels":[1,2,3],"mode":"ON","inner":{"when":"9"}}';
    expect((await runCli(['send', url, '--schema', 'test/cli/schemas.ts#Rich', '--json', rich])).code).toBe(0);
    expect(
      (await runCli(['send', url, '--schema', sample, '--json', '{"channel":1,"timestamp":"1","value":1}'])).code,
    ).toBe(0);
    const result = await tail;
    expect(result.code).toBe(0);
    expect(oneLineError(result)).toMatch(/^typed-ipc tail: .*48-byte datagram from unix\+dgram:@.*24-byte sample/);
    expect(records(result.stdout).map((r) => r.value)).toEqual([{ channel: 1, timestamp: '1', value: 1 }]);
  });
});

describe('gen c', () => {
  it('writes a header that cc compiles and whose sizes and offsets a C program confirms', async () => {
    const dir = tempDir();
    const header = join(dir, 'schemas.h');
    const run = await runCli(['gen', 'c', sample, 'test/cli/schemas.ts#Rich', '-o', header]);
    expect(run).toMatchObject({ code: 0, stdout: '', stderr: '' });
    const program = compileC(
      'cli-gen-c',
      [
        `#include <stdio.h>
#include "schemas.h"
int main(void) {
  printf("%zu %zu %zu %zu\\n", sizeof(struct sample), offsetof(struct sample, value), sizeof(struct rich), offsetof(struct rich, inner));
  return 0;
}`,
      ],
      [`-I${dir}`],
    );
    const [sampleSize, valueOffset, richSize, innerOffset] = execFileSync(program, { encoding: 'utf8' })
      .trim()
      .split(' ')
      .map(Number);
    const { Sample, Rich } = await import('./schemas.js');
    expect([sampleSize, valueOffset]).toEqual([Sample.size, Sample.offsetOf('value')]);
    expect([richSize, innerOffset]).toEqual([Rich.size, Rich.offsetOf('inner')]);
  });

  it('refuses a codec without a C layout and a missing language', async () => {
    const notStruct = await runCli(['gen', 'c', 'test/cli/schemas.ts#Note']);
    expect(notStruct.code).toBe(2);
    expect(oneLineError(notStruct)).toMatch(
      /is .*, not a struct\(\.\.\.\) or union\(\.\.\.\) type: only those have a C layout$/,
    );
    const noLanguage = await runCli(['gen', sample]);
    expect(noLanguage.code).toBe(2);
    expect(oneLineError(noLanguage)).toMatch(
      /^typed-ipc gen: expected a language \(c or ts\), got "test\/cli\/schemas\.ts#Sample"/,
    );
  });
});

describe('shm: stat and ls read the ring', () => {
  it('shows slot size, capacity, fill and that the creator has exited, without a schema', async () => {
    const url = `shm:/${uniqueName('ring')}`;
    cleanup.add(() => runCli(['rm', '-f', url]));
    const json = '{"channel":1,"timestamp":"2","value":3}';
    const sent = await runCli([
      'send',
      url,
      '--create',
      '--capacity',
      '16',
      '--schema',
      sample,
      '--repeat',
      '3',
      '--json',
      json,
    ]);
    expect(sent).toMatchObject({ code: 0, stderr: '' });
    const stat = await runCli(['stat', url, '--json']);
    expect(stat.code).toBe(0);
    expect(JSON.parse(stat.stdout)).toMatchObject({
      url,
      transport: 'shm',
      messageSize: 24,
      capacity: 16,
      pending: 3,
      mode: 'rw------- (0600)',
      creatorRunning: false,
    });
    const ls = await runCli(['ls', '--json'], { env: { TYPED_IPC_MQUEUE_DIR: tempDir() } });
    expect(ls.code).toBe(0);
    const entry = ls.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { url: string; note?: string })
      .find((e) => e.url === url);
    expect(entry?.note).toMatch(/^ring: 24-byte messages, 3\/16 pending, creator pid \d+ \(exited\)$/);
  });
});
