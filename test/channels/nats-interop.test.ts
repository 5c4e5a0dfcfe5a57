/**
 * nats:// against a C program on the official NATS C client (libnats) and the header cHeader()
 * generates: the payload is the struct's bytes both ways, and the schema header is the header's
 * SAMPLE_FINGERPRINT.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { open } from '../../src/channels/index.js';
import { cHeader } from '../../src/codecs/index.js';
import { Cleanup, compileC, finished, repoRoot } from '../helpers.js';
import { NatsServer } from './nats-server.js';
import { Sample } from './sample.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

let peer = '';
beforeAll(() => {
  if (!existsSync('/usr/include/nats/nats.h')) {
    throw new Error(
      'the NATS C client is not installed; install it with: apt-get update && apt-get install -y libnats-dev',
    );
  }
  const generated = join(repoRoot, 'test', 'c', 'build', 'nats-interop', 'sample.h');
  mkdirSync(dirname(generated), { recursive: true });
  writeFileSync(generated, cHeader([Sample]));
  const source = join(repoRoot, 'test', 'c', 'nats_peer.c');
  peer = compileC('nats_peer', [source], [`-I${dirname(generated)}`, '-Wl,--no-as-needed', '-lnats'], [generated]);
});

const sampleOf = (i: number): Sample => ({
  channel: i % 7,
  timestamp: BigInt(i) * 1000003n + 17n,
  value: i * 0.25 - 3,
});

function startPeer(args: readonly string[]): ChildProcess {
  const child = spawn(peer, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  cleanup.add(() => child.kill('SIGKILL'));
  return child;
}

describe('NATS C client peer', () => {
  it('reads what typed-ipc publishes: the same bytes, the header fingerprint', async () => {
    const server = await NatsServer.start({ jetstream: false });
    cleanup.add(() => server.stop());
    const child = startPeer(['sub', `nats://${server.address}`, 'interop.c', '50']);
    const done = finished(child, 30_000);
    await new Promise<void>((resolve) => child.stdout?.once('data', () => resolve()));
    const tx = await open(server.url('interop.c'), Sample, { access: 'send' });
    cleanup.add(() => tx.close());
    for (let i = 0; i < 50; i++) await tx.send(sampleOf(i));
    const { code, stdout, stderr } = await done;
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toBe('ready');
    expect(lines.slice(1)).toEqual(
      Array.from({ length: 50 }, (_, i) => {
        const s = sampleOf(i);
        return `${s.channel} ${s.timestamp} ${s.value} interop.c`;
      }),
    );
  });

  it('typed-ipc reads what the C program publishes, with its header checked', async () => {
    const server = await NatsServer.start({ jetstream: false });
    cleanup.add(() => server.stop());
    const rx = await open(server.url('interop.node'), Sample, { requireSchemaHeader: true });
    cleanup.add(() => rx.close());
    const { code, stderr } = await finished(startPeer(['pub', `nats://${server.address}`, 'interop.node', '50']));
    expect(stderr).toBe('');
    expect(code).toBe(0);
    for (let i = 0; i < 50; i++) {
      expect(await rx.receive({ timeoutMs: 5000 })).toEqual({ value: sampleOf(i), priority: 0, from: 'interop.node' });
    }
  });
});
