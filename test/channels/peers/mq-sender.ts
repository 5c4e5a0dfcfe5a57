/**
 * `mq-sender.ts <url> <count>`: opens an existing queue for sending and sends <count> samples,
 * sample i = { channel: i % 65536, timestamp: i * 3 + 1, value: i / 8 }, in order, at priority 0.
 */
import { open } from '../../../src/index.js';
import { Sample } from '../sample.js';

const [url = '', countArg = '0'] = process.argv.slice(2);
const count = Number(countArg);
const channel = await open(url, Sample, { access: 'send' });
const sample = { channel: 0, timestamp: 0n, value: 0 };
for (let i = 0; i < count; i++) {
  sample.channel = i % 65536;
  sample.timestamp = BigInt(i) * 3n + 1n;
  sample.value = i / 8;
  await channel.send(sample);
}
await channel.close();
