/**
 * The mq_open failures users hit, each provoked for real (prlimit, a private IPC namespace, an
 * unprivileged user) in a child process, and the SystemError they get: errno name, syscall, queue
 * name, and a hint that reads the limit that was hit and says how to raise it.
 */

import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { open, unlink } from '../../src/channels/index.js';
import { Sample } from '../channels/sample.js';
import {
  bundleForOtherUsers,
  Cleanup,
  finished,
  removeSharedDir,
  repoRoot,
  sharedDir,
  uniqueName,
} from '../helpers.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const peer = join(repoRoot, 'test', 'native', 'peers', 'mq-open.ts');

interface Outcome {
  opened: number;
  attributes?: { capacity: number; messageSize: number; pending: number };
  error?: { name: string; code: string; syscall: string; path: string; hint: string; message: string };
}

/**
 * Runs the peer through `wrapper` (e.g. prlimit ...) and returns its JSON report. As another user
 * (`asOther`) it runs bundled, from a directory that user can read: the checkout may be private.
 */
async function runPeer(wrapper: readonly string[], args: readonly string[], asOther = false): Promise<Outcome> {
  const program = asOther ? [bundleForOtherUsers(peer)] : ['--import', 'tsx', peer];
  const [command, ...rest] = [...wrapper, process.execPath, ...program, ...args];
  const cwd = asOther ? sharedDir() : repoRoot;
  const child = spawn(command!, rest, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const { code, stdout, stderr } = await finished(child, 60_000);
  expect(code, stderr).toBe(0);
  return JSON.parse(stdout) as Outcome;
}

describe('mq_open failures', () => {
  it('EMFILE from RLIMIT_MSGQUEUE: says how many bytes the queue needs and what the limit is', async () => {
    const url = `mq:/${uniqueName('rlimit')}`;
    cleanup.add(() => unlink(url));
    const outcome = await runPeer(['prlimit', '--msgqueue=4096:4096'], ['open', url, '4', '2048']);
    expect(outcome.opened).toBe(0);
    expect(outcome.error).toMatchObject({
      name: 'SystemError',
      code: 'EMFILE',
      syscall: 'mq_open',
      path: url.slice(3),
    });
    expect(outcome.error!.hint).toContain('a queue of capacity 4 and message size 2048 (about 8576 bytes)');
    expect(outcome.error!.hint).toContain('RLIMIT_MSGQUEUE (4096 bytes');
    expect(outcome.error!.hint).toContain('ulimit -q');
    expect(outcome.error!.message).toContain(outcome.error!.hint);
  });

  it('EMFILE from RLIMIT_NOFILE: says the process is out of descriptors', async () => {
    const url = `mq:/${uniqueName('nofile')}`;
    cleanup.add(() => unlink(url));
    const outcome = await runPeer(['prlimit', '--nofile=200:200'], ['fill-fds', url]);
    expect(outcome.error).toMatchObject({ code: 'EMFILE', syscall: 'mq_open' });
    expect(outcome.error!.hint).toContain('RLIMIT_NOFILE is 200');
    expect(outcome.error!.hint).toContain('ulimit -n');
  });

  it('ENOSPC from queues_max: names the limit and its value (in a private IPC namespace)', async () => {
    const prefix = `mq:/${uniqueName('queues')}`;
    const outcome = await runPeer(
      ['unshare', '--ipc', 'sh', '-c', 'echo 3 > /proc/sys/fs/mqueue/queues_max && exec "$@"', 'sh'],
      ['many', prefix],
    );
    expect(outcome.opened).toBe(3);
    expect(outcome.error).toMatchObject({ code: 'ENOSPC', syscall: 'mq_open', path: `${prefix.slice(3)}-3` });
    expect(outcome.error!.hint).toContain('/proc/sys/fs/mqueue/queues_max (3)');
    expect(outcome.error!.hint).toContain('sysctl -w fs.mqueue.queues_max=');
  });

  it('EACCES: another user cannot open a 0600 queue, and can open one created 0606', async () => {
    const url = `mq:/${uniqueName('private')}`;
    const shared = `mq:/${uniqueName('shared')}`;
    cleanup.add(() => unlink(url));
    cleanup.add(() => unlink(shared));
    await (await open(url, Sample, { create: true })).close();
    await (await open(shared, Sample, { create: true, mode: 0o606 })).close();
    const nobody = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
    const denied = await runPeer(nobody, ['open', url, '0', '24', 'send'], true);
    expect(denied.error).toMatchObject({ code: 'EACCES', syscall: 'mq_open', path: url.slice(3) });
    expect(denied.error!.hint).toContain('does not grant write (send) to this user');
    const allowed = await runPeer(nobody, ['open', shared, '0', '24', 'both'], true);
    expect(allowed).toEqual({ opened: 1 });
  });

  it('readQueueAttributes: another user granted only write still reads the shape; one granted nothing gets EACCES', async () => {
    const writeOnly = `mq:/${uniqueName('wronly')}`;
    const closed = `mq:/${uniqueName('closed')}`;
    cleanup.add(() => unlink(writeOnly));
    cleanup.add(() => unlink(closed));
    const tx = await open(writeOnly, Sample, { create: true, capacity: 4, mode: 0o602 });
    cleanup.add(() => tx.close());
    await tx.send({ channel: 1, timestamp: 2n, value: 3 });
    await (await open(closed, Sample, { create: true })).close();
    const nobody = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
    const granted = await runPeer(nobody, ['attributes', writeOnly], true);
    expect(granted).toEqual({ opened: 0, attributes: { capacity: 4, messageSize: 24, pending: 1 } });
    const denied = await runPeer(nobody, ['attributes', closed], true);
    expect(denied.error).toMatchObject({
      name: 'SystemError',
      code: 'EACCES',
      syscall: 'mq_open',
      path: closed.slice(3),
    });
  });
});

// The copies another uid runs from live in sharedDir(); a killed worker would leave them behind.
afterAll(removeSharedDir);
