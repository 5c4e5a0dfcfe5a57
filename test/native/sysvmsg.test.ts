/**
 * System V queue failures that need another user or a private IPC namespace: msgmni (ENOSPC) names
 * the limit, another uid gets EACCES on a 0600 queue and its messages, and a queue created 0606 is
 * shared. Run in child processes under `unshare --ipc` and `setpriv` (the tests run as root).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { SystemError } from '../../src/errors.js';
import { Sample } from '../channels/sample.js';
import { openSysv } from '../channels/sysv-queues.js';
import { Cleanup, finished, repoRoot } from '../helpers.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const peer = join(repoRoot, 'test', 'native', 'peers', 'sysv-open.ts');
type Outcome = { opened: number; error?: Pick<SystemError, 'name' | 'code' | 'syscall' | 'path' | 'hint' | 'message'> };

async function runPeer(wrapper: readonly string[], args: readonly string[]): Promise<Outcome> {
  const [command, ...rest] = [...wrapper, process.execPath, '--import', 'tsx', peer, ...args];
  const child = spawn(command!, rest, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  cleanup.add(() => child.kill('SIGKILL'));
  const { code, stdout, stderr } = await finished(child, 60_000);
  expect(code, stderr).toBe(0);
  return JSON.parse(stdout) as Outcome;
}

const nobody = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];

describe('sysv: system limits and other users', () => {
  it('ENOSPC from msgmni: names the limit and its value (in a private IPC namespace, whose queues die with it)', async () => {
    const outcome = await runPeer(
      ['unshare', '--ipc', 'sh', '-c', 'echo 3 > /proc/sys/kernel/msgmni && exec "$@"', 'sh'],
      ['many'],
    );
    expect(outcome.opened).toBe(3);
    expect(outcome.error).toMatchObject({
      name: 'SystemError',
      code: 'ENOSPC',
      syscall: 'msgget',
      path: 'sysv:private',
    });
    expect(outcome.error!.hint).toContain('/proc/sys/kernel/msgmni (3)');
    expect(outcome.error!.hint).toContain('sysctl -w kernel.msgmni=');
  });

  it('msgmax lowered after open: a send is a MessageSizeError naming msgmax, not a removed queue', async () => {
    const outcome = await runPeer(['unshare', '--ipc'], ['shrink']);
    expect(outcome).toMatchObject({ opened: 1, error: { name: 'MessageSizeError' } });
    expect(outcome.error!.message).toContain('/proc/sys/kernel/msgmax is 16 now');
    expect(outcome.error!.message).toContain('nothing was sent');
  });

  it('EACCES: another user can neither open nor use a 0600 queue, and can use one created 0606', async () => {
    const closed = await openSysv(cleanup, 'sysv:private', Sample, { create: true });
    const shared = await openSysv(cleanup, 'sysv:private', Sample, { create: true, mode: 0o606 });
    const denied = await runPeer(nobody, ['open', closed.url, 'receive']);
    expect(denied.error).toMatchObject({ code: 'EACCES', path: closed.url });
    const sendDenied = await runPeer(nobody, ['send', closed.url]);
    expect(sendDenied.error).toMatchObject({ code: 'EACCES' });
    expect(closed.info()).toMatchObject({ pending: 0, mode: 0o600 });
    const allowed = await runPeer(nobody, ['send', shared.url]);
    expect(allowed).toEqual({ opened: 1 });
    expect(shared.info()).toMatchObject({ pending: 1, lastSendPid: expect.any(Number) });
    expect((await shared.receive()).value).toEqual({ channel: 1, timestamp: 2n, value: 3 });
    // The owner keeps full control: the other user's send did not change owner or mode.
    expect(shared.info()).toMatchObject({ uid: process.geteuid?.(), mode: 0o606 });
  });

  it('a user allowed to write but not to read (no IPC_STAT) still waits for room and loses nothing', async () => {
    const queue = await openSysv(cleanup, 'sysv:private', Sample, { create: true, mode: 0o602, capacity: 2 });
    const sending = runPeer(nobody, ['send-all', queue.url, '40']);
    const received: number[] = [];
    while (received.length < 40) {
      received.push((await queue.receive({ timeoutMs: 30_000 })).value.channel);
      // A slow reader: the sender finds the queue full again and again.
      if (received.length % 8 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(await sending).toEqual({ opened: 1 });
    expect(received).toEqual(Array.from({ length: 40 }, (_, i) => i));
  });
});
