/** `npm run demo` runs green: every transport (and the C producer) delivers every sample. */
import { describe, expect, it } from 'vitest';
import { finished, spawnTs } from '../helpers.js';

describe('examples/demo.ts', () => {
  it('delivers every sample over every transport, from Node and from the C producer', async () => {
    const child = spawnTs('examples/demo.ts', [], { env: { ...process.env, DEMO_COUNT: '2000' } });
    const { code, stdout, stderr } = await finished(child, 180_000);
    expect(stderr).toBe('');
    expect(stdout).not.toContain('FAILED');
    for (const label of [
      'POSIX message queue',
      'shared-memory ring',
      'UNIX datagram socket',
      'UNIX seqpacket socket',
      'UNIX stream socket',
      'FIFO',
      'TCP (loopback)',
      'C producer, POSIX message queue',
      'C producer, shared-memory ring',
    ]) {
      // Only queues carry priorities; the other transports print none rather than a meaningless 0.
      const priority = label.includes('message queue') ? '  priority 0' : '';
      expect(stdout).toMatch(
        new RegExp(
          `^${label.replace(/[()+]/g, '\\$&')}  \\S+\\n(  channel \\d+  timestamp \\d+ ns  value [012]${priority}\\n){3}  2000 samples of 24 bytes, none lost`,
          'm',
        ),
      );
    }
    expect(stdout).toContain('All transports delivered every sample.');
    expect(code).toBe(0);
  }, 200_000); // finished() allows the demo 180 s; the default 60 s test timeout is hit first under load.
});
