/**
 * Sender half of bench/socket.bench.ts, run as a child with an inherited channel:
 *   socket-sender.ts single N SIZE    one `send` per message
 *   socket-sender.ts batch N SIZE B   `sendMany` of B messages at a time
 *   socket-sender.ts raw N SIZE       blocking send() calls through koffi on inherited fd 3, with no
 *                                     channel, codec or event loop: the ceiling row for Node code
 * With a fifth argument (`udp://127.0.0.1:PORT`), it connects there instead of using the inherited channel.
 */
import { connect, inheritedChannel } from '../../src/channels/index.js';
import { libc } from '../../src/internal.js';
import { benchCodec, benchMessage } from '../socket.bench.js';

const [mode, n = '0', size = '24', b = '256', url] = process.argv.slice(2);
const count = Number(n);
const batchSize = Number(b);

if (mode === 'raw') {
  const bytes = Number(size);
  const buffer = new Uint8Array(bytes);
  const view = new DataView(buffer.buffer);
  for (let i = 0; i < count; i++) {
    view.setBigUint64(8, BigInt(i), true);
    if (libc.send(3, buffer, bytes, 0) !== bytes) throw new Error(`send: errno ${libc.errno()}`);
  }
  libc.close(3);
} else {
  const codec = benchCodec(Number(size));
  const channel = url === undefined ? inheritedChannel(codec) : await connect(url, codec);
  const message = benchMessage(Number(size));
  if (mode === 'single') {
    for (let i = 0; i < count; i++) await channel.send(message(i));
  } else {
    const batch: ReturnType<typeof message>[] = [];
    for (let start = 0; start < count; start += batchSize) {
      batch.length = 0;
      for (let i = start; i < Math.min(count, start + batchSize); i++) batch.push(message(i));
      await channel.sendMany(batch);
    }
  }
  await channel.close();
}
