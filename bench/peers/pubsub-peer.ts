/**
 * The processes of the pub/sub benchmark (bench/pubsub.bench.ts):
 *   pubsub-peer.ts produce <url> <count> <batch> <size>   publishes (or, on a shm: ring, sends) `count` samples
 *                                                  (sendMany in batches, or send), then prints its CPU seconds
 *   pubsub-peer.ts consume <url> <count> <batch> <size>   subscribes, prints `ready`, receives `count` samples and
 *                                                  prints `rate <msg/s>` from its first message to its last
 *                                                  and `cpu <seconds>`, its CPU time per message over the same span
 */
import { open } from '../../src/index.js';
import { produceSamples, sampleCodec } from '../ring.bench.js';

const [mode = '', url = '', countArg = '0', batchArg = '1', size = '24'] = process.argv.slice(2);
const count = Number(countArg);
const batch = Number(batchArg);
const codec = sampleCodec(Number(size));

if (mode === 'produce') {
  const channel = await open(url, codec, url.startsWith('shm+pubsub:') ? { access: 'send' } : {});
  process.stdout.write(`${await produceSamples(channel, Number(size), count, batch)}\n`);
  await channel.close();
} else if (mode === 'consume') {
  const channel = await open(url, codec);
  process.stdout.write('ready\n');
  const wait = { timeoutMs: 60_000 };
  let received = (await channel.receiveMany(batch, wait)).length;
  const first = received;
  const start = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  if (batch === 1) for (; received < count; received++) await channel.receive(wait);
  else while (received < count) received += (await channel.receiveMany(batch, wait)).length;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const used = process.cpuUsage(cpu);
  process.stdout.write(`rate ${(count - first) / seconds}\ncpu ${(used.user + used.system) / 1e6 / (count - first)}\n`);
  await channel.close();
} else {
  throw new Error(`unknown mode ${mode}`);
}
