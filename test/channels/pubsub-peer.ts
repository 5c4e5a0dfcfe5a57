/**
 * Node peer of the pub/sub tests (run with spawnTs); the same modes, checks and output as
 * test/c/pubsub_peer.c:
 *   publish <url> <source> <count|-1> <maxBatch>  sends psSample(source, 0, 1, ...) in batches of 1..maxBatch;
 *                                                 prints `ready`, and `sent <n>` at the end (count -1: until SIGTERM)
 *   subscribe <url> <exact 0|1> [history]         receives until a STOP message, checking every message (whole,
 *                                                 increasing seq per source; with exact: seq = previous + 1 + missed);
 *                                                 prints `ready`, `from <source>` at a source's first message, then
 *                                                 `s <source> <count> <first> <last>` lines and `ok <delivered> <missed> <skipped> <position>`
 *   stall <url>                                   subscribes, prints `ready`, receives one message, prints `stalled`,
 *                                                 and never reads again (it holds block-mode publishers back)
 */
import { open, type PubSubMessage } from '../../src/index.js';
import { PsSample, psSample, STOP, whole } from './pubsub-fixtures.js';

const [mode, url = '', ...rest] = process.argv.slice(2);
const target = url as `shm+pubsub:${string}`;

if (mode === 'publish') {
  const [source, count, maxBatch] = rest.map(Number) as [number, number, number];
  const channel = await open(target, PsSample, { access: 'send' });
  let stop = false;
  process.on('SIGTERM', () => {
    stop = true;
  });
  console.log('ready');
  let i = 0;
  let round = 0;
  while (!stop && (count < 0 || i < count)) {
    round++;
    const size = Math.min(1 + ((round * 7) % maxBatch), count < 0 ? maxBatch : count - i);
    if (size === 1) await channel.send(psSample(source, i));
    else await channel.sendMany(Array.from({ length: size }, (_, j) => psSample(source, i + j)));
    i += size;
    // A send that finds room settles at once: without a turn of the event loop now and then, a publisher
    // that never waits (overwrite policy) would never see its SIGTERM.
    if (round % 64 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  console.log(`sent ${i}`);
  await channel.close();
} else if (mode === 'subscribe') {
  const exact = rest[0] === '1';
  const history = Number(rest[1] ?? 0);
  const channel = await open(target, PsSample, { history });
  console.log('ready');
  const sources = new Map<number, { count: number; first: bigint; last: bigint }>();
  let delivered = 0;
  let stopped = false;
  while (!stopped) {
    for (const message of (await channel.receiveMany(64)) as PubSubMessage<PsSample>[]) {
      const { value } = message;
      delivered++;
      if (value.source === STOP) {
        stopped = true;
        break;
      }
      if (!whole(value))
        throw new Error(`torn message: ${JSON.stringify(value, (_, v) => (typeof v === 'bigint' ? String(v) : v))}`);
      const seen = sources.get(value.source);
      if (seen === undefined) {
        // With exact, the subscriber joined before the source's first message: what it missed of them is counted.
        if (exact && value.seq !== BigInt(message.missed)) {
          throw new Error(`source ${value.source}: first ${value.seq} with missed ${message.missed}`);
        }
        sources.set(value.source, { count: 1, first: value.seq, last: value.seq });
        console.log(`from ${value.source}`);
        continue;
      }
      if (value.seq <= seen.last) throw new Error(`source ${value.source}: ${value.seq} after ${seen.last}`);
      if (exact && value.seq !== seen.last + 1n + BigInt(message.missed)) {
        throw new Error(`source ${value.source}: ${value.seq} after ${seen.last} with missed ${message.missed}`);
      }
      seen.count++;
      seen.last = value.seq;
    }
  }
  const info = channel.info();
  for (const [source, { count, first, last }] of sources) console.log(`s ${source} ${count} ${first} ${last}`);
  console.log(`ok ${delivered} ${info.missed} ${info.skipped} ${info.position}`);
  await channel.close();
} else if (mode === 'stall') {
  const channel = await open(target, PsSample);
  console.log('ready');
  await channel.receive();
  console.log('stalled');
  setInterval(() => undefined, 1 << 30);
} else {
  throw new Error(`unknown mode ${mode}`);
}
