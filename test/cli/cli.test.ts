/** The `typed-ipc` command line: help, exit codes, one-line errors, schema loading, ls, stat. */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { open, unlink } from '../../src/index.js';
import { Sample } from '../channels/sample.js';
import { Cleanup, compileC, uniqueName } from '../helpers.js';
import { oneLineError, runCli } from './run.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const sample = (n: number): Sample => ({ channel: n, timestamp: BigInt(n), value: n / 2 });

const commands = ['tail', 'send', 'ls', 'stat', 'rm', 'gen', 'bench'];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tipc-cli-'));
  cleanup.add(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe('typed-ipc help and usage errors', () => {
  it('lists every command with --help and exits 0', async () => {
    const run = await runCli(['--help']);
    expect(run.code).toBe(0);
    for (const name of commands) expect(run.stdout).toMatch(new RegExp(`^  ${name} +\\S`, 'm'));
    expect(run.stdout).toContain('Exit codes: 0 success, 1 runtime error');
  });

  it.each(commands)('%s --help prints its usage and exits 0', async (name) => {
    const run = await runCli([name, '--help']);
    expect(run.code).toBe(0);
    expect(run.stdout.startsWith(`Usage: typed-ipc ${name}`)).toBe(true);
    expect(run.stderr).toBe('');
  });

  it('exits 2 with the help on stderr for no command or an unknown one', async () => {
    const none = await runCli([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^typed-ipc: no command given\n/);
    const unknown = await runCli(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^typed-ipc: unknown command "frobnicate"\n\nUsage:/);
  });

  it('exits 2 with one line for an unknown option, a missing argument or a bad number', async () => {
    const option = await runCli(['ls', '--frob']);
    expect(option.code).toBe(2);
    expect(oneLineError(option)).toMatch(/^typed-ipc ls: Unknown option '--frob'; see typed-ipc ls --help$/);

    const missing = await runCli(['tail']);
    expect(missing.code).toBe(2);
    expect(oneLineError(missing)).toBe('typed-ipc tail: expected <url>, got none; see typed-ipc tail --help');

    const count = await runCli(['tail', 'mq:/x', '--schema', 'test/cli/schemas.ts#Sample', '--count', 'ten']);
    expect(count.code).toBe(2);
    expect(oneLineError(count)).toBe('typed-ipc tail: --count expects an integer >= 1, got "ten"');

    const format = await runCli(['tail', 'mq:/x', '--schema', 'test/cli/schemas.ts#Sample', '--format', 'xml']);
    expect(format.code).toBe(2);
    expect(oneLineError(format)).toBe('typed-ipc tail: --format expects one of table, ndjson, got "xml"');
  });

  it('exits 2 for a malformed URL, naming the schemes', async () => {
    const run = await runCli(['send', 'queue:/x', '--schema', 'test/cli/schemas.ts#Sample', '--json', '{}']);
    expect(run.code).toBe(2);
    expect(oneLineError(run)).toMatch(
      /^typed-ipc send: url: expected a URL with one of the schemes mq: shm: shm\+pubsub: fifo: /,
    );
  });
});

describe('--schema', () => {
  it('names the module that does not exist', async () => {
    const run = await runCli(['tail', 'mq:/x', '--schema', './no/such/schema.ts#Sample']);
    expect(run.code).toBe(2);
    expect(oneLineError(run)).toMatch(
      /^typed-ipc tail: --schema: no such module "\.\/no\/such\/schema\.ts" \(looked for \//,
    );
  });

  it('lists the codecs a module exports when the export is missing or not a codec', async () => {
    const missing = await runCli(['tail', 'mq:/x', '--schema', 'test/cli/schemas.ts#Nope']);
    expect(missing.code).toBe(2);
    expect(oneLineError(missing)).toBe(
      'typed-ipc tail: --schema: test/cli/schemas.ts has no export "Nope" (a struct(...) type or msgpack codec); its codecs: Note, Rich, Sample',
    );
    const wrong = await runCli(['tail', 'mq:/x', '--schema', 'test/cli/schemas.ts#notACodec']);
    expect(wrong.code).toBe(2);
    expect(oneLineError(wrong)).toMatch(/notACodec is not a codec .*; its codecs: Note, Rich, Sample$/);
  });

  it('loads a plain JavaScript module too', async () => {
    const dir = tempDir();
    const module = join(dir, 'schema.mjs');
    // A JS module that re-exports the TypeScript schema: the CLI imports JS directly.
    writeFileSync(module, `export { Sample } from ${JSON.stringify(join(process.cwd(), 'test/cli/schemas.ts'))};\n`);
    const run = await runCli(['send', 'mq:/x', '--schema', `${module}#Sample`, '--json', '{"channel":-1}']);
    expect(run.code).toBe(2);
    expect(oneLineError(run)).toBe('typed-ipc send: --json: sample.channel: expected u16 (0..65535), got -1');
  });
});

describe('send --json validation', () => {
  it('refuses a value that does not fit the schema before opening anything (exit 2)', async () => {
    const name = uniqueName('cli');
    const cases: [string, RegExp][] = [
      ['{"channel":70000,"timestamp":"1","value":0.5}', /sample\.channel: expected u16 \(0\.\.65535\), got 70000/],
      ['{"channel":1,"timestamp":"-1","value":0.5}', /sample\.timestamp: expected u64/],
      [
        '{"channel":1,"timestamp":18446744073709551615,"value":0.5}',
        /sample\.timestamp: .* beyond 2\^53.*as JSON strings/,
      ],
      ['{"channel":1,"timestamp":"1"', /--json: not valid JSON/],
    ];
    for (const [json, message] of cases) {
      const run = await runCli([
        'send',
        `mq:/${name}`,
        '--create',
        '--schema',
        'test/cli/schemas.ts#Sample',
        '--json',
        json,
      ]);
      expect(run.code, json).toBe(2);
      expect(oneLineError(run), json).toMatch(message);
    }
  });
});

describe('typed-ipc ls', () => {
  it('says how to mount the mqueue filesystem when it is not mounted, and still lists segments', async () => {
    const notMounted = tempDir();
    const shm = tempDir();
    writeFileSync(join(shm, 'segment'), Buffer.alloc(4096));
    execFileSync('chmod', ['640', join(shm, 'segment')]);
    const run = await runCli(['ls'], {
      env: { TYPED_IPC_MQUEUE_DIR: notMounted, TYPED_IPC_SHM_DIR: shm, TYPED_IPC_DIRS: tempDir() },
    });
    expect(run.code).toBe(0);
    expect(oneLineError(run)).toBe(
      `typed-ipc ls: message queues not listed: no mqueue filesystem is mounted at ${notMounted}; mount it with: mkdir -p ${notMounted} && mount -t mqueue none ${notMounted}`,
    );
    // System V queues are listed from /proc/sysvipc, system-wide: other tests' queues may show up.
    const lines = run.stdout
      .trimEnd()
      .split('\n')
      .filter((line) => !line.startsWith('sysv:'));
    expect(lines[0]).toMatch(/^URL +SIZE +MODE +OWNER +MODIFIED +NOTE$/);
    expect(lines[1]).toMatch(/^shm:\/segment +4096 +rw-r----- +root:root +\d{4}-\d\d-\d\dT/);
    expect(lines).toHaveLength(2);
  });

  it('lists a real queue with its queued bytes, mode and owner from a mounted mqueue filesystem', async () => {
    const mountPoint = tempDir();
    mkdirSync(mountPoint, { recursive: true });
    execFileSync('mount', ['-t', 'mqueue', 'none', mountPoint]);
    cleanup.add(() => execFileSync('umount', [mountPoint]));
    const name = `/${uniqueName('ls')}`;
    // A C program creates the queue (mode 0640, msgsize 24) and leaves two messages in it.
    const maker = compileC('cli-mq-maker', [
      `#include <mqueue.h>
#include <fcntl.h>
#include <stdio.h>
int main(int argc, char **argv) {
  struct mq_attr attr = { .mq_maxmsg = 4, .mq_msgsize = 24 };
  mqd_t q = mq_open(argv[1], O_CREAT | O_EXCL | O_WRONLY, 0640, &attr);
  if (q == (mqd_t)-1) { perror("mq_open"); return 1; }
  char msg[24] = {0};
  if (mq_send(q, msg, 24, 0) || mq_send(q, msg, 24, 5)) { perror("mq_send"); return 1; }
  return mq_close(q);
}`,
    ]);
    execFileSync(maker, [name]);
    // Unlinking the file in the mqueue filesystem removes the queue.
    cleanup.add(() => rmSync(join(mountPoint, name.slice(1))));
    const shm = tempDir();
    const run = await runCli(['ls', '--json'], { env: { TYPED_IPC_MQUEUE_DIR: mountPoint, TYPED_IPC_SHM_DIR: shm } });
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    const entries = run.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const mine = entries.find((e) => e.url === `mq:${name}`);
    expect(mine).toMatchObject({ kind: 'mq', size: 48, mode: '0640', owner: 'root', group: 'root' });
  });
});

describe('typed-ipc ls: rings and pub/sub segments', () => {
  it('lists a pub/sub segment by the URL that opens it, with its policy and figures, beside a ring', async () => {
    const pubsub = `shm+pubsub:/${uniqueName('ls-ps')}` as const;
    const ring = `shm:/${uniqueName('ls-ring')}` as const;
    cleanup.add(() => unlink(pubsub));
    cleanup.add(() => unlink(ring));
    const publisher = await open(pubsub, Sample, { create: true, access: 'send', capacity: 8, policy: 'overwrite' });
    cleanup.add(() => publisher.close());
    await publisher.sendMany([sample(1), sample(2), sample(3)]);
    const tx = await open(ring, Sample, { create: true, capacity: 4 });
    cleanup.add(() => tx.close());
    const run = await runCli(['ls', '--json']);
    expect(run.code).toBe(0);
    const entries = run.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(entries.find((e) => e.url === pubsub)).toMatchObject({
      kind: 'shm',
      mode: '0600',
      note: `pub/sub (overwrite): 24-byte messages, capacity 8, 3 published, up to 16 subscribers, creator pid ${process.pid} (running)`,
    });
    expect(entries.find((e) => e.url === ring)?.note).toMatch(/^ring: 24-byte messages, 0\/4 pending/);
    expect(entries.some((e) => e.url === `shm:${pubsub.slice('shm+pubsub:'.length)}`)).toBe(false);
    // stat shows the segment's figures, not those of the subscriber it joins as for a moment.
    const subscriber = await open(pubsub, Sample);
    cleanup.add(() => subscriber.close());
    const stat = await runCli(['stat', pubsub, '--json']);
    expect(stat.code).toBe(0);
    const figures = JSON.parse(stat.stdout) as Record<string, unknown>;
    expect(figures).toMatchObject({ policy: 'overwrite', capacity: 8, messageSize: 24, tail: 3, subscribers: 1 });
    expect(figures).not.toHaveProperty('role');
    expect(figures).not.toHaveProperty('position');
  });
});

describe('typed-ipc stat on files', () => {
  it('shows type, mode and owner of a FIFO', async () => {
    const path = join(tempDir(), 'pipe');
    execFileSync('mkfifo', ['-m', '0620', path]);
    const run = await runCli(['stat', `fifo:${path}`, '--json']);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({
      url: `fifo:${path}`,
      path,
      type: 'fifo',
      mode: 'rw--w---- (0620)',
      owner: 'root:root',
    });
  });

  it('exits 1 with one line for a path that does not exist, 2 for a network address', async () => {
    const missing = await runCli(['stat', 'fifo:/nonexistent/tipc-pipe']);
    expect(missing.code).toBe(1);
    expect(oneLineError(missing)).toBe(
      'typed-ipc stat: stat /nonexistent/tipc-pipe: ENOENT (no such file or directory); fifo:/nonexistent/tipc-pipe names nothing: check the name with `typed-ipc ls`, or create the object first',
    );
    const network = await runCli(['stat', 'tcp://127.0.0.1:1']);
    expect(network.code).toBe(2);
    expect(oneLineError(network)).toMatch(/is a network address, not a named object/);
  });
});

describe('typed-ipc bench', () => {
  it('runs the suite filtered by module with a progress report on stderr, results as JSON on stdout', async () => {
    // --source: the command's plumbing is under test, not figures; a build of the package first
    // would add a tsc run, which takes minutes on a loaded machine (test/bench covers the build).
    const run = await runCli(['bench', '--only', 'codecs', '--quick', '--source', '--json'], { timeoutMs: 120_000 });
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/^\[0%\] codecs\n/);
    const results = JSON.parse(run.stdout) as {
      transport: string;
      variant: string;
      baseline?: string;
      ratios: Record<string, number>;
    }[];
    expect(results.every((r) => r.transport === 'codec')).toBe(true);
    expect(
      results
        .filter((r) => r.baseline !== undefined)
        .map((r) => r.baseline)
        .sort(),
    ).toEqual(['dataview', 'koffi', 'msgpackr']);
    const typed = results.find((r) => r.variant === 'typed-ipc encode+decode');
    expect(Object.keys(typed!.ratios).sort()).toEqual(['dataview', 'koffi', 'msgpackr']);
  });
});
