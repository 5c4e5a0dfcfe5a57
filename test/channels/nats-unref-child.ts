/**
 * Child of nats.test.ts: a JetStream durable receiver and publisher opened with `ref: false` (or
 * unref()'d, per argv[2]), a receive waiting; the process must exit by itself. Prints `drained` from
 * beforeExit, where it also stops what it started.
 */
import { open } from '../../src/channels/index.js';
import { Cleanup, onDrained } from '../helpers.js';
import { NatsServer } from './nats-server.js';
import { Sample } from './sample.js';

const cleanup = new Cleanup();
const hold = setInterval(() => undefined, 1000);
const server = (await NatsServer.start()).unref();
cleanup.add(() => server.stop());
const url = server.url('unref.js', '?stream=UNREF&durable=d') as `nats://${string}`;
const method = process.argv[2] === 'method';
const rx = await open(url, Sample, { create: true, ...(method ? {} : { ref: false }) });
const tx = await open(server.url('unref.js', '?stream=UNREF') as `nats://${string}`, Sample, {
  access: 'send',
  ...(method ? {} : { ref: false }),
});
cleanup.add(() => rx.close());
cleanup.add(() => tx.close());
if (method) {
  rx.unref();
  tx.unref();
}
await tx.send({ channel: 1, timestamp: 1n, value: 1 });
const first = await rx.receive({ timeoutMs: 10_000 });
await first.ack?.();
clearInterval(hold);
void rx.receive().catch(() => undefined);
console.log('waiting');
onDrained(() => cleanup.run());
