/**
 * The demo's Node producer, run as a child process: `demo-producer.ts <url> <count>` sends `count`
 * measurement samples (value i carries the sequence number i) in batches, then closes.
 */

import { Sample } from '../schemas/sample.js';
import { connect, open } from '../src/index.js';

const [url = '', countText = '0'] = process.argv.slice(2);
const count = Number(countText);
const named = /^(mq|shm|fifo):/.test(url);
const channel = named ? await open(url, Sample, { access: 'send' }) : await connect(url, Sample);
// Wall-clock nanoseconds with hrtime's resolution.
const epoch = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
const batch: Sample[] = [];
for (let i = 0; i < count; i++) {
  batch.push({ channel: 1, timestamp: epoch + process.hrtime.bigint(), value: i });
  // sendMany waits for room as the consumer drains (backpressure): nothing is dropped.
  if (batch.length === 256 || i === count - 1) await channel.sendMany(batch.splice(0));
}
await channel.close();
