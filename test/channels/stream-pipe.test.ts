/** Pipes and UNIX stream socketpairs to child processes (Node and C), through child.ts. */
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawnNodeWithChannel, spawnWithChannel } from '../../src/channels/index.js';
import { transportOperation } from '../../src/channels/registry.js';
import type { StreamChannel } from '../../src/channels/stream.js';
import { ChannelClosedError, ValidationError } from '../../src/errors.js';
import { Cleanup, compileC, finished, repoRoot } from '../helpers.js';
import { intact, type Rec, rec, recordCodec } from './stream-records.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const COUNT = 100_000;
const script = join(repoRoot, 'test', 'channels', 'stream-child.ts');
let peer = '';
beforeAll(() => {
  peer = compileC('stream_peer', [join(repoRoot, 'test', 'c', 'stream_peer.c')]);
});

async function receiveAll(channel: StreamChannel<Rec>): Promise<number> {
  let next = 0;
  for await (const { value } of channel) {
    if (value.seq !== next || !intact(value)) throw new Error(`record ${next}: got seq ${value.seq}`);
    next += 1;
  }
  return next;
}

async function sendAll(channel: StreamChannel<Rec>, count: number, size = 24): Promise<void> {
  for (let seq = 0; seq < count; seq += 500) {
    await channel.sendMany(Array.from({ length: Math.min(500, count - seq) }, (_, i) => rec(seq + i, 0, size)));
  }
}

describe('pipes and stream pairs to child processes', () => {
  it('a C child writes 100 000 records into a pipe on fd 3', async () => {
    const { child, channel } = spawnWithChannel(
      peer,
      ['write', 'fd:3', String(COUNT), '24', '0', '16'],
      recordCodec(),
      {
        transport: 'pipe',
        direction: 'receive',
      },
    );
    cleanup.add(() => channel.close());
    cleanup.add(() => child.kill('SIGKILL'));
    expect(channel.info()).toMatchObject({ transport: 'pipe' });
    const [count, result] = await Promise.all([receiveAll(channel as StreamChannel<Rec>), finished(child)]);
    expect(result.code).toBe(0);
    expect(count).toBe(COUNT);
  });

  it('a C child reads 100 000 records from a pipe, and a Node child over a stream socketpair', async () => {
    const c = spawnWithChannel(peer, ['read', 'fd:3', String(COUNT), '24'], recordCodec(), {
      transport: 'pipe',
      direction: 'send',
    });
    cleanup.add(() => c.channel.close());
    cleanup.add(() => c.child.kill('SIGKILL'));
    const reading = finished(c.child, 20_000);
    await sendAll(c.channel as StreamChannel<Rec>, COUNT);
    await c.channel.close();
    const result = await reading;
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe(String(COUNT));

    const node = spawnNodeWithChannel(script, ['read', 'inherited', '5000', '5000'], recordCodec(5000), {
      transport: 'unix+stream',
      execArgv: ['--import', 'tsx'],
      cwd: repoRoot,
    });
    cleanup.add(() => node.channel.close());
    cleanup.add(() => node.child.kill('SIGKILL'));
    const nodeReading = finished(node.child, 20_000);
    await sendAll(node.channel as StreamChannel<Rec>, 5000, 5000);
    const nodeResult = await nodeReading;
    expect(nodeResult.stderr).toBe('');
    expect(nodeResult.stdout.trim()).toBe('5000');
  });

  it('a Node child writes through an inherited pipe; its exit is the end of the stream', async () => {
    const { child, channel } = spawnNodeWithChannel(
      script,
      ['write', 'inherited', String(COUNT), '24'],
      recordCodec(),
      {
        transport: 'pipe',
        direction: 'receive',
        execArgv: ['--import', 'tsx'],
        cwd: repoRoot,
      },
    );
    cleanup.add(() => channel.close());
    cleanup.add(() => child.kill('SIGKILL'));
    const [count, result] = await Promise.all([receiveAll(channel as StreamChannel<Rec>), finished(child)]);
    expect(result.stderr).toBe('');
    expect(count).toBe(COUNT);
  });

  it('a pipe is one-way: direction both is refused, sending to a dead child is ChannelClosedError', async () => {
    expect(() => spawnWithChannel(peer, [], recordCodec(), { transport: 'pipe' })).toThrow(ValidationError);
    expect(() => transportOperation('pipe', 'pair')({ direction: 'both' })).toThrow(/a pipe is one-way/);
    const { child, channel } = spawnWithChannel('true', [], recordCodec(), { transport: 'pipe', direction: 'send' });
    cleanup.add(() => channel.close());
    await finished(child);
    await expect(sendAll(channel as StreamChannel<Rec>, 10)).rejects.toThrow(ChannelClosedError);
    await expect(channel.receive()).rejects.toThrow(/access 'send'/);
  });
});
