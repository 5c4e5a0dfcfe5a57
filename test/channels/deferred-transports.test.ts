/**
 * The shared-memory ring, pub/sub, System V and NATS transports, and recording, replaying, serving
 * and plotting, load on their first use (channels/registry.ts and record/index.ts say why: a bare
 * `import 'typed-ipc'` must stay under V8's 8 MB incremental-marking threshold). Checked in fresh
 * processes whose module resolution is watched; the first open of each shows the watching works.
 * And each deferred registry entry offers exactly the operations its module's table has.
 */
import { describe, expect, it } from 'vitest';
import { deferredTransports } from '../../src/channels/registry.js';
import type { Transport } from '../../src/channels/transport.js';
import { UnsupportedError } from '../../src/errors.js';
import { connect } from '../../src/index.js';
import { uniqueName } from '../helpers.js';
import { loadedBy } from '../load-watch.js';

/** The modules that hold each deferred part's code (what must not load with the package). */
const deferred = {
  ring: ['channels/ring.ts', 'channels/ring/channel.ts', 'channels/ring/segment.ts', 'channels/ring/doorbell.ts'],
  pubsub: ['channels/pubsub/index.ts', 'channels/pubsub/channel.ts', 'channels/pubsub/segment.ts'],
  sysv: ['channels/sysv/index.ts', 'channels/sysv/channel.ts', 'channels/sysv/pacer.ts'],
  nats: ['channels/nats/open.ts', 'channels/nats/channel.ts'],
  record: ['record/record.ts', 'record/writer.ts', 'record/replay.ts', 'record/foxglove.ts', 'record/plot.ts'],
};
const all = Object.values(deferred).flat();

/** Which of `modules` (paths under src/) a fresh process loaded running `body` after the import. */
function loadedOf(body: string, modules: readonly string[]): string[] {
  const urls = loadedBy(body).urls;
  return modules.filter((module) => urls.some((url) => url.endsWith(`/src/${module}`)));
}

describe('deferred transports and recording', () => {
  it('importing typed-ipc and using mq and codecs loads none of them', () => {
    const name = `/${uniqueName('lazy')}`;
    const body = [
      "const S = m.struct('s', { a: m.u16 });",
      `const q = await m.open('mq:${name}', S, { create: true, exclusive: true });`,
      // The queue goes even when the round trip fails, so a failed run leaks no queue.
      'try { await q.send({ a: 1 }); await q.receive(); await q.close(); }',
      `finally { await m.unlink('mq:${name}'); }`,
      // The header readers and the System V listing are package API that must not load their transports.
      "m.readRingHeader('/dev/null'); m.readPubSubHeader('/dev/null'); m.sysvQueues();",
    ].join('\n');
    expect(loadedOf(body, all)).toEqual([]);
  });

  it('the first open of each loads its modules', () => {
    const S = "const S = m.struct('s', { a: m.u16 });";
    const shm = `/${uniqueName('lazy')}`;
    expect(loadedOf(`${S}\nawait m.open('shm:${shm}', S).catch(() => {});`, deferred.ring)).toEqual(deferred.ring);
    expect(loadedOf(`${S}\nawait m.open('shm+pubsub:${shm}', S).catch(() => {});`, deferred.pubsub)).toEqual(
      deferred.pubsub,
    );
    expect(loadedOf(`${S}\nawait m.open('sysv:key=0x7ffffff1', S).catch(() => {});`, deferred.sysv)).toEqual(
      deferred.sysv,
    );
    expect(loadedOf(`${S}\nawait m.open('nats://127.0.0.1:1/x', S).catch(() => {});`, deferred.nats)).toEqual(
      deferred.nats,
    );
    expect(loadedOf(`await m.replay('/nonexistent.mcap', undefined).catch(() => {});`, ['record/replay.ts'])).toEqual([
      'record/replay.ts',
    ]);
  });

  it('each deferred entry lists the operations of its module', async () => {
    const modules: Record<string, () => Promise<{ transports: Partial<Record<string, Transport>> }>> = {
      shm: () => import('../../src/channels/ring.js'),
      'shm+pubsub': () => import('../../src/channels/pubsub/index.js'),
      sysv: () => import('../../src/channels/sysv/index.js'),
      nats: () => import('../../src/channels/nats/open.js'),
    };
    expect(Object.keys(deferredTransports).sort()).toEqual(Object.keys(modules).sort());
    for (const [scheme, load] of Object.entries(modules)) {
      const own = (await load()).transports[scheme];
      expect(Object.keys(deferredTransports[scheme] ?? {}).sort(), scheme).toEqual(Object.keys(own ?? {}).sort());
    }
  });

  it('an operation a deferred transport lacks is refused before loading it, naming what it offers', async () => {
    const error = await connect('shm:/x', { size: 1, fingerprint: '', name: 'x' } as never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnsupportedError);
    expect(String((error as Error).message)).toMatch(/shm: channels do not support connect\(\); use open, unlink/);
  });
});
