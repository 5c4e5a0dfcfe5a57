/**
 * Node peer for the ring tests (run with spawnTs): the same modes and checks as test/c/ring_peer.c.
 *   produce <url> <id> <count|-1> <batch>   sends {channel: id, timestamp: i, value: id * 1e9 + i}
 *   idle <url> ref|unref                    waits in receive() forever (unref: lets the process exit)
 *   consume <url> <count|-1> <batch>          receives, checks every message, prints "ok <n> <sum of ids> <sum of timestamps>"
 */
import { open } from '../../src/index.js';
import { Sample, sample } from './ring-fixtures.js';

const STOP = 65535;
const [mode, url = '', ...rest] = process.argv.slice(2);
const channel = await open(url, Sample);

if (mode === 'produce') {
  const [id, count, batch] = rest.map(Number) as [number, number, number];
  for (let i = 0; count < 0 || i < count; ) {
    const n = count < 0 ? batch : Math.min(batch, count - i);
    const values: Sample[] = [];
    for (let j = 0; j < n; j++) values.push(sample(id, i + j));
    if (n === 1) await channel.send(values[0]!);
    else await channel.sendMany(values);
    i += n;
  }
} else if (mode === 'consume') {
  const [count, batch] = rest.map(Number) as [number, number];
  const last = new Map<number, bigint>();
  let got = 0;
  let ids = 0;
  let stamps = 0n;
  let stopped = false;
  // Until stopped (count -1), what was taken is also printed as `r <producer> <first> <last>` runs (as the C peer does).
  const ranges = count < 0;
  const runs = new Map<number, bigint>();
  const runEnds: string[] = [];
  while (!stopped && (count < 0 || got < count)) {
    // Until-stop mode takes one at a time: each stop message (producer 65535) is for one consumer.
    const want = count < 0 ? 1 : Math.min(batch, count - got);
    const messages = await channel.receiveMany(want, { timeoutMs: 20_000 });
    for (const { value } of messages) {
      if (value.channel === STOP) {
        stopped = true;
        break;
      }
      if (value.value !== value.channel * 1e9 + Number(value.timestamp)) {
        throw new Error(`torn message: ${JSON.stringify({ ...value, timestamp: String(value.timestamp) })}`);
      }
      const previous = last.get(value.channel) ?? -1n;
      if (value.timestamp <= previous) {
        throw new Error(`out of order: producer ${value.channel} sent ${value.timestamp} after ${previous}`);
      }
      if (ranges && !(runs.has(value.channel) && value.timestamp === previous + 1n)) {
        if (runs.has(value.channel)) runEnds.push(`r ${value.channel} ${runs.get(value.channel)} ${previous}\n`);
        runs.set(value.channel, value.timestamp);
      }
      last.set(value.channel, value.timestamp);
      ids += value.channel;
      stamps += value.timestamp;
    }
    got += messages.length - (stopped ? 1 : 0);
  }
  for (const [producer, first] of runs) runEnds.push(`r ${producer} ${first} ${last.get(producer)}\n`);
  process.stdout.write(`${runEnds.join('')}ok ${got} ${ids} ${stamps}\n`);
} else if (mode === 'idle') {
  // A receive that never completes: with `unref`, it must not keep the process alive.
  if (rest[0] === 'unref') channel.unref();
  void channel.receive().catch(() => {});
  process.stdout.write('waiting\n');
} else {
  throw new Error(`unknown mode ${mode}`);
}
if (mode !== 'idle') await channel.close();
