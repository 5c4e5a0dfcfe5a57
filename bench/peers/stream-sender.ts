/**
 * Sender half of bench/stream.bench.ts:
 *   stream-sender.ts <fifo:/path | tcp://host:port | inherited> <count> <size> <batch>   sendMany of `batch` records at a time
 *                                                                      (batch 0: one `send` per record)
 * Records are test/channels/stream-records.ts's; their filler arrays are built once and shared.
 */
import { connect, inheritedChannel, open } from '../../src/channels/index.js';
import { type Rec, recordCodec } from '../../test/channels/stream-records.js';

const [url = '', n = '0', sizeText = '24', b = '256'] = process.argv.slice(2);
const count = Number(n);
const batch = Number(b);
const codec = recordCodec(Number(sizeText));
const fills = Array.from({ length: 256 }, (_, k) => Uint8Array.from({ length: codec.size - 16 }, (_, i) => k + 16 + i));
const record = (seq: number): Rec => ({ seq, writer: 0, value: seq * 0.5, fill: fills[seq & 255]! });
const channel =
  url === 'inherited'
    ? inheritedChannel(codec)
    : url.startsWith('tcp://')
      ? await connect(url, codec)
      : await open(url, codec, { access: 'send' });
if (batch === 0) {
  for (let seq = 0; seq < count; seq++) await channel.send(record(seq));
} else {
  const values: Rec[] = [];
  for (let start = 0; start < count; start += batch) {
    values.length = 0;
    for (let seq = start; seq < Math.min(count, start + batch); seq++) values.push(record(seq));
    await channel.sendMany(values);
  }
}
await channel.close();
