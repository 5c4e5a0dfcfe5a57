/** The child helper's contract at its edges: what it refuses, and how a child finds its channel. */
import { afterEach, describe, expect, it } from 'vitest';
import { inheritedChannel, spawnWithChannel } from '../../src/channels/index.js';
import { transportOperation } from '../../src/channels/registry.js';
import { UnsupportedError, ValidationError } from '../../src/errors.js';
import { Cleanup } from '../helpers.js';
import { Sample } from './sample.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

describe('spawnWithChannel / inheritedChannel', () => {
  it('refuses transports that cannot make pairs and bad descriptor numbers', () => {
    expect(() => spawnWithChannel('true', [], Sample, { transport: 'udp' })).toThrow(UnsupportedError);
    expect(() => spawnWithChannel('true', [], Sample, { transport: 'udp' })).toThrow(/do not support pair\(\)/);
    expect(() => spawnWithChannel('true', [], Sample, { fd: 1 })).toThrow(ValidationError);
  });

  it('refuses to run without a channel in the environment', () => {
    const saved = process.env.TYPED_IPC_FD;
    delete process.env.TYPED_IPC_FD;
    try {
      expect(() => inheritedChannel(Sample)).toThrow(/set by spawnWithChannel in the parent/);
    } finally {
      if (saved !== undefined) process.env.TYPED_IPC_FD = saved;
    }
  });

  it('refuses to adopt a descriptor of another socket type', async () => {
    const [a, b] = transportOperation('unix+seqpacket', 'pair')({});
    const keep = transportOperation('unix+seqpacket', 'adopt')(a, Sample, { peer: false });
    cleanup.add(() => keep.close());
    const wrong = (): unknown => transportOperation('unix+dgram', 'adopt')(b, Sample, {});
    expect(wrong).toThrow(ValidationError);
    expect(wrong).toThrow(/a unix\+dgram socket \(SO_TYPE 2\)/);
    // The right type adopts fine and sees this process as the pair's creator.
    const right = transportOperation('unix+seqpacket', 'adopt')(b, Sample, {});
    cleanup.add(() => right.close());
    expect(right.peer?.pid).toBe(process.pid);
    await keep.send({ channel: 1, timestamp: 2n, value: 3 });
    expect((await right.receive({ timeoutMs: 2000 })).value).toEqual({ channel: 1, timestamp: 2n, value: 3 });
  });
});
