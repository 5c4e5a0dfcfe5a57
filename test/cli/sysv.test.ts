/** The `typed-ipc` command line on System V queues: send and tail --type, ls and stat as ipcs shows them, rm as ipcrm. */
import { execFileSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { unlink } from '../../src/index.js';
import { Cleanup } from '../helpers.js';
import { oneLineError, runCli } from './run.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const schema = 'schemas/sample.ts#Sample';
const sample = (channel: number) => JSON.stringify({ channel, timestamp: '5', value: 1.5 });

/** A key for this run; the queue is removed after the test (registered before anything creates it). */
function queueKey(tag: number): string {
  const url = `sysv:key=0x7c${(process.pid & 0xffff).toString(16).padStart(4, '0')}${tag.toString(16).padStart(2, '0')}`;
  cleanup.add(() => unlink(url));
  return url;
}

describe('typed-ipc on sysv: queues', () => {
  it('send --priority sets the type; tail --type and --type=-n select by type; ls, stat and rm match ipcs', async () => {
    const url = queueKey(1);
    for (const type of [3, 1, 2, 2]) {
      const sent = await runCli([
        'send',
        url,
        '--schema',
        schema,
        '--json',
        sample(type),
        '--priority',
        String(type),
        '--create',
      ]);
      expect(sent.code, sent.stderr).toBe(0);
    }
    const ipcsRow = execFileSync('ipcs', ['-q'], { encoding: 'utf8' })
      .split('\n')
      .map((line) => line.trim().split(/\s+/))
      .find((fields) => fields[0] === url.slice('sysv:key='.length));
    expect(ipcsRow?.slice(3)).toEqual(['600', '96', '4']);
    const id = ipcsRow![1]!;

    const ls = await runCli(['ls', '--json']);
    const listed = ls.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((entry) => entry.url === url);
    expect(listed).toMatchObject({
      kind: 'sysv',
      size: 96,
      mode: '0600',
      note: expect.stringContaining(`msqid ${id}, key 0x7c`),
    });

    const stat = await runCli(['stat', url, '--json']);
    expect(stat.code, stat.stderr).toBe(0);
    expect(JSON.parse(stat.stdout)).toMatchObject({
      id: Number(id),
      pending: 4,
      bytes: 96,
      capacityBytes: 16384,
      mode: 'rw------- (0600)',
    });
    const withSchema = JSON.parse((await runCli(['stat', url, '--json', '--schema', schema])).stdout);
    expect(withSchema).toMatchObject({ messageSize: 24, capacity: Math.floor(16384 / 24), schema: 'sample' });

    const twos = await runCli(['tail', url, '--schema', schema, '--type', '2', '-n', '2']);
    expect(
      twos.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line).priority),
    ).toEqual([2, 2]);
    const lowest = await runCli(['tail', url, '--schema', schema, '--type=-3', '-n', '2']);
    expect(
      lowest.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line).value.channel),
    ).toEqual([1, 3]);

    expect((await runCli(['rm', url])).code).toBe(0);
    expect(execFileSync('ipcs', ['-q'], { encoding: 'utf8' })).not.toMatch(new RegExp(`\\b${id}\\b`));
    const again = await runCli(['rm', url]);
    expect(again.code).toBe(1);
    expect(oneLineError(again)).toMatch(/no queue has this key \(already removed, or never created\)/);
    expect((await runCli(['rm', '-f', url, `sysv:id=${id}`])).code).toBe(0);
  });

  it('refuses --type for other transports, and a tail on a queue that does not exist', async () => {
    const mq = await runCli(['tail', 'mq:/nothing', '--schema', schema, '--type', '2']);
    expect(mq.code).toBe(2);
    expect(oneLineError(mq)).toMatch(
      /--type and --except select System V message types: they apply to sysv: URLs, not mq:/,
    );
    const missing = await runCli(['tail', queueKey(2), '--schema', schema, '--timeout', '50']);
    expect(missing.code).toBe(1);
    expect(oneLineError(missing)).toMatch(
      /ENOENT.*no queue has this key: add --create, or start the side that creates it first/,
    );
  });
});
