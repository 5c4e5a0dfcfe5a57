/**
 * A stress peer in its own process: `produce` sends samples to a transport's consumer, `consume`
 * is a consumer that a test can kill. Run by `spawnTs('test/stress/peer.ts', [...])`.
 *
 *   produce <transport> <url> <producer-id> <count> [resume|once] [pace-ms]
 *     Sends samples 0..count-1 and prints `sent <n>`. With `resume`, a send or connect that fails
 *     because the consumer is gone (killed) is retried on a new connection from the same sample on.
 *     On every such reconnect it prints `resumed <seq>`: everything from there on goes to the new consumer.
 *     With `pace-ms`, it waits that long after every batch of 32 samples.
 *   consume <transport> <url> <capacity> <pause-after>
 *     Makes the consumer end, prints `ready`, receives `pause-after` samples, prints `paused` and stops
 *     receiving (so that producers are mid-stream, held by backpressure, when the test kills it). A
 *     sample whose checksum does not match is printed as `torn <json>` (exit 1).
 */
import { type Channel, ChannelClosedError, IpcError, SystemError } from '../../src/index.js';
import { isWhole, makeSample, Sample } from './sample.js';
import { transportNamed } from './transports.js';

/** Errors that mean "the consumer went away": retry with a new connection when resuming. */
function consumerGone(error: unknown): boolean {
  if (error instanceof ChannelClosedError) return true;
  return (
    error instanceof SystemError && ['ECONNREFUSED', 'ENOENT', 'EPIPE', 'ECONNRESET', 'ENOTCONN'].includes(error.code)
  );
}

async function produce(
  name: string,
  url: string,
  id: number,
  count: number,
  resume: boolean,
  paceMs: number,
): Promise<void> {
  const entry = transportNamed(name);
  const batch = 32;
  let channel: Channel<Sample> | undefined;
  let seq = 0;
  while (seq < count) {
    try {
      if (channel === undefined) {
        channel = await entry.producer(url, Sample);
        if (seq > 0) process.stdout.write(`resumed ${seq}\n`);
      }
      const end = Math.min(count, seq + batch);
      const values = [];
      for (let s = seq; s < end; s++) values.push(makeSample(id, s));
      await channel.sendMany(values);
      seq = end;
      if (paceMs > 0) await new Promise((resolve) => setTimeout(resolve, paceMs));
    } catch (error) {
      if (!resume || !consumerGone(error)) throw error;
      await channel?.close();
      channel = undefined;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
  await channel?.close();
  process.stdout.write(`sent ${seq}\n`);
}

async function consume(name: string, url: string, capacity: number, pauseAfter: number): Promise<void> {
  const consumer = await transportNamed(name).consumer(url, Sample, { capacity });
  process.stdout.write('ready\n');
  for (let received = 0; ; received++) {
    if (received === pauseAfter) {
      process.stdout.write('paused\n');
      await new Promise(() => setInterval(() => {}, 60_000));
    }
    const { value } = await consumer.receive();
    if (!isWhole(value)) {
      process.stdout.write(`torn ${JSON.stringify(value, (_, v) => (typeof v === 'bigint' ? String(v) : v))}\n`);
      process.exit(1);
    }
  }
}

const [role, name = '', url = '', ...rest] = process.argv.slice(2);
try {
  if (role === 'produce') {
    await produce(name, url, Number(rest[0]), Number(rest[1]), rest[2] === 'resume', Number(rest[3] ?? 0));
  } else if (role === 'consume') await consume(name, url, Number(rest[0]), Number(rest[1]));
  else throw new Error(`unknown role ${String(role)}`);
} catch (error) {
  process.stderr.write(`${error instanceof IpcError ? `${error.name} ${error.code}: ` : ''}${String(error)}\n`);
  process.exit(2);
}
