/** `typed-ipc send` and `tail` on nats:// URLs, against a real nats-server, in separate processes. */
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, NatsServer } from '../channels/nats-server.js';
import { Cleanup, finished, spawnTs } from '../helpers.js';
import { oneLineError, runCli } from './run.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const sample = 'test/cli/schemas.ts#Sample';

async function server(): Promise<NatsServer> {
  const s = await NatsServer.start();
  cleanup.add(() => s.stop());
  return s;
}

function records(stdout: string): { value: Record<string, unknown>; priority: number; from?: string }[] {
  return stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
}

describe('nats:// in the CLI', () => {
  it('sends to a JetStream stream it creates and tails a durable consumer, acking what it shows', async () => {
    const s = await server();
    const send = await runCli([
      ...['send', s.url('orders.eu', '?stream=ORDERS'), '--create', '--capacity', '100', '--schema', sample],
      ...['--repeat', '3', '--json', '{"channel":4,"timestamp":"18446744073709551615","value":1.5}'],
    ]);
    expect(send).toMatchObject({ code: 0, stderr: '' });
    const durable = s.url('orders.eu', '?stream=ORDERS&durable=cli');
    const tail = await runCli(['tail', durable, '--schema', sample, '--count', '3']);
    expect(tail).toMatchObject({ code: 0, stderr: '' });
    expect(records(tail.stdout)).toEqual(
      Array.from({ length: 3 }, () => ({
        value: { channel: 4, timestamp: '18446744073709551615', value: 1.5 },
        priority: 0,
        from: 'orders.eu',
      })),
    );
    // All three were acked: the durable consumer has nothing left.
    const again = await runCli(['tail', durable, '--schema', sample, '--timeout', '1500']);
    expect(again.code).toBe(1);
    expect(oneLineError(again)).toMatch(/timed out after 1500 ms/);
  });

  it('tails a core subject with a wildcard, showing the subject each message came on', async () => {
    const s = await server();
    const child = spawnTs('src/cli/main.ts', ['tail', s.url('sensors.*'), '--schema', sample, '--count', '1']);
    cleanup.add(() => child.kill('SIGKILL'));
    const done = finished(child, 30_000);
    let exited = false;
    void done.then(() => {
      exited = true;
    });
    // Core NATS is at most once: a message published before tail's SUB reached the server is gone, so send until one is shown.
    while (!exited) {
      await runCli([
        'send',
        s.url('sensors.t1'),
        '--schema',
        sample,
        '--json',
        '{"channel":1,"timestamp":2,"value":3}',
      ]);
    }
    const result = await done;
    expect(result.code).toBe(0);
    expect(records(result.stdout)).toEqual([
      { value: { channel: 1, timestamp: '2', value: 3 }, priority: 0, from: 'sensors.t1' },
    ]);
  });

  it('reports an unreachable server in one line, without the password', async () => {
    const port = await freePort();
    const url = `nats://ops:hunter2-xyz@127.0.0.1:${port}/x`;
    const tail = await runCli(['tail', url, '--schema', sample]);
    expect(tail.code).toBe(1);
    const line = oneLineError(tail);
    expect(line).toContain(`nats://127.0.0.1:${port}/x`);
    expect(line).toContain('cannot reach a NATS server');
    expect(tail.stderr + tail.stdout).not.toContain('hunter2');
  });

  it('usage errors about a nats:// URL show it without its credentials', async () => {
    const url = 'nats://ops:hunter2-xyz@127.0.0.1:1/x';
    for (const args of [
      ['tail', url, '--raw', '--size', '8', '--drain'],
      ['tail', url, '--raw'],
      ['stat', url],
    ]) {
      const result = await runCli(args);
      expect(result.code).not.toBe(0);
      expect(oneLineError(result)).toContain('nats://127.0.0.1:1/x');
      expect(result.stderr + result.stdout).not.toContain('hunter2');
    }
  });
});
