/**
 * The publishing end of the nats bench, a process of its own: `typed` publishes through a nats://
 * channel, `raw` through the NATS client directly with the same bytes and the same schema header (and,
 * for core NATS, the same flush window). Arguments: typed|raw, core|js, server, subject, stream, count, size.
 */
import { jetstream } from '@nats-io/jetstream';
import { connect, headers } from '@nats-io/transport-node';
import { NATS_SCHEMA_HEADER, open } from '../../src/index.js';
import { benchMessage, benchSchema } from './mq-schemas.js';

const [mode, kind, server, subject, stream, countText, sizeText] = process.argv.slice(2);
const count = Number(countText);
const size = Number(sizeText);
const codec = benchSchema(size);
/** Core: wait for the previous flush every this many bytes (what the channel does, see nats/channel.ts). */
const FLUSH_BYTES = 256 * 1024;
/** JetStream: publishes in flight, a sliding window (the channel's sendMany window). */
const WINDOW = 256;
const message = benchMessage(size);
const values = Array.from({ length: count }, (_, i) => ({ ...message, timestamp: BigInt(i) }));
// The raw client publishes one encoded message over and over: the client's own cost, nothing else.
const bytes = codec.encode(message);

// CPU time of the whole publish (connect excluded), per message: stdout's `cpu-ns <n>` line.
let cpuStart: NodeJS.CpuUsage | undefined;
if (mode === 'typed') {
  const query = kind === 'js' ? `?stream=${stream}` : '';
  const channel = await open(`nats://${server}/${subject}${query}`, codec, { access: 'send' });
  cpuStart = process.cpuUsage();
  if (kind === 'js') {
    await channel.sendMany(values);
  } else {
    for (const value of values) await channel.send(value);
  }
  await channel.close();
} else {
  const nc = await connect({ servers: server as string, noEcho: true, noAsyncTraces: true });
  cpuStart = process.cpuUsage();
  const hdrs = headers();
  hdrs.set(NATS_SCHEMA_HEADER, codec.fingerprint);
  const options = { headers: hdrs };
  if (kind === 'js') {
    const js = jetstream(nc);
    let sent = 0;
    const lane = async () => {
      while (sent < count) {
        sent += 1;
        await js.publish(subject!, bytes, options);
      }
    };
    await Promise.all(Array.from({ length: Math.min(WINDOW, count) }, lane));
  } else {
    let unflushed = 0;
    let previous: Promise<void> | undefined;
    for (let i = 0; i < count; i++) {
      nc.publish(subject!, bytes, options);
      unflushed += bytes.length;
      if (unflushed >= FLUSH_BYTES) {
        unflushed = 0;
        const wait = previous;
        previous = nc.flush();
        if (wait !== undefined) await wait;
      }
    }
  }
  await nc.drain();
}
const cpu = process.cpuUsage(cpuStart);
console.log(`cpu-ns ${Math.round(((cpu.user + cpu.system) * 1000) / count)}`);
