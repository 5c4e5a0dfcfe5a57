/**
 * `many-receivers.ts <prefix> <count>`: opens <count> queues, waits in receive on all of them at
 * once, shows that timers and fs.readFile (which needs a libuv pool thread) stay prompt meanwhile,
 * then sends message i to queue i (last queue first) and checks that each receive gets its own.
 * Prints a JSON report. Run it with UV_THREADPOOL_SIZE=1: a wait that parked a pool thread would
 * leave fs.readFile no thread at all.
 */
import { readFile } from 'node:fs/promises';
import { type Channel, open, unlink } from '../../../src/index.js';
import { Sample } from '../../channels/sample.js';

const [prefix = 'tipc', countArg = '200'] = process.argv.slice(2);
const count = Number(countArg);
const channels: Channel<Sample>[] = [];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

try {
  for (let i = 0; i < count; i++) {
    channels.push(await open(`mq:/${prefix}-${i}`, Sample, { create: true, exclusive: true, capacity: 1 }));
  }
  let settled = 0;
  const receives = channels.map((channel) => channel.receive().finally(() => settled++));

  let timerLagMs = 0;
  for (let i = 0; i < 5; i++) {
    const start = performance.now();
    await sleep(10);
    timerLagMs = Math.max(timerLagMs, performance.now() - start - 10);
  }
  let readMs = 0;
  let readBytes = 0;
  for (let i = 0; i < 20; i++) {
    const start = performance.now();
    readBytes += (await readFile(new URL(import.meta.url))).length;
    readMs = Math.max(readMs, performance.now() - start);
  }
  const settledBeforeSend = settled;

  for (let i = count - 1; i >= 0; i--) {
    if (!channels[i]!.trySend({ channel: i, timestamp: BigInt(i) * 3n, value: i / 2 }))
      throw new Error(`queue ${i} full`);
  }
  const messages = await Promise.all(receives);
  const wrong = messages.filter((m, i) => m.value.channel !== i || m.value.timestamp !== BigInt(i) * 3n).length;
  process.stdout.write(
    `${JSON.stringify({ settledBeforeSend, timerLagMs, readMs, readBytes, received: messages.length, wrong, threadpool: process.env.UV_THREADPOOL_SIZE })}\n`,
  );
} finally {
  for (const [i, channel] of channels.entries()) {
    await channel.close();
    await unlink(`mq:/${prefix}-${i}`);
  }
}
