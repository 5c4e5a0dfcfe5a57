/**
 * One end of the Node benchmarks, run as a child process.
 * - `mq-peer.ts send|recv mq:/name count size [batch]` moves messages over a queue with `send` and
 *   `for await` (or, with `batch`, `sendMany` and `receiveMany` of that many), and prints
 *   `<ns> <cpu-ns>`: the receiver the wall time between its first and its last message, both the
 *   CPU time they used while moving messages.
 * - `mq-peer.ts raw-send|raw-recv mq:/name count size` makes blocking mq_send/mq_receive calls through
 *   koffi with nothing around them: the ceiling for Node code (a reference row, see below).
 * - `mq-peer.ts ipc count size` sends the same messages to the parent with `process.send`.
 * Messages are the sample (24 bytes) or `{ channel, timestamp, data }` filling `size` bytes; the
 * timestamp carries the sequence number, which the receiver checks.
 */
import { open } from '../../src/index.js';
import { libc } from '../../src/internal.js';
import { benchMessage, benchSchema } from './mq-schemas.js';

const [mode = '', url = '', countArg = '0', sizeArg = '24', batchArg = '0'] = process.argv.slice(2);
const cpuNs = (since: NodeJS.CpuUsage): number => {
  const { user, system } = process.cpuUsage(since);
  return (user + system) * 1000;
};

if (mode === 'ipc') {
  const [count, size] = [Number(url), Number(countArg)];
  const send = process.send?.bind(process);
  if (send === undefined) throw new Error('mq-peer ipc must run with an IPC channel');
  const data = size > 24 ? Buffer.alloc(size - 16, 7).toString('base64') : undefined;
  // Wait for the channel to drain every few thousand messages, as a well-behaved sender does, and
  // for the last one to be written before disconnecting (disconnect drops what is still queued).
  for (let i = 0; i < count; i++) {
    const message = data === undefined ? { channel: 1, timestamp: i, value: i } : { channel: 1, timestamp: i, data };
    if (i % 4096 === 4095 || i === count - 1) await new Promise((resolve) => send(message, resolve));
    else send(message);
  }
  process.disconnect();
} else if (mode === 'raw-send' || mode === 'raw-recv') {
  // The ceiling for any Node code making these system calls: blocking mq_send/mq_receive through
  // koffi on the main thread, as the C loop does, with no event loop, codec or channel around them.
  // No library may block the event loop like this; the row shows what the kernel and one koffi call
  // per message allow, so that the gap between it and typed-ipc is typed-ipc's own cost.
  const count = Number(countArg);
  const size = Number(sizeArg);
  const name = url.replace(/^mq:/, '');
  const mqd = libc.mqOpen(name, mode === 'raw-send' ? libc.O_WRONLY : libc.O_RDONLY);
  if (mqd < 0) throw new Error(`mq_open ${name}: errno ${libc.errno()}`);
  const buffer = new Uint8Array(size);
  const view = new DataView(buffer.buffer);
  view.setUint16(0, 1, true);
  const priority = new Uint32Array(1);
  const cpu = process.cpuUsage();
  if (mode === 'raw-send') {
    for (let i = 0; i < count; i++) {
      view.setBigUint64(8, BigInt(i), true);
      if (libc.mqSend(mqd, buffer, size, 0) !== 0) throw new Error(`mq_send: errno ${libc.errno()}`);
    }
    process.stdout.write(`0 ${cpuNs(cpu)}\n`);
  } else {
    let start = 0n;
    for (let i = 0; i < count; i++) {
      if (libc.mqReceive(mqd, buffer, size, priority) !== size) throw new Error(`mq_receive: errno ${libc.errno()}`);
      if (i === 0) start = process.hrtime.bigint();
      if (view.getBigUint64(8, true) !== BigInt(i)) throw new Error(`message ${i} carries another sequence number`);
    }
    process.stdout.write(`${process.hrtime.bigint() - start} ${cpuNs(cpu)}\n`);
  }
  libc.mqClose(mqd);
} else {
  const count = Number(countArg);
  const size = Number(sizeArg);
  const channel = await open(url, benchSchema(size), { access: mode === 'send' ? 'send' : 'receive' });
  const cpu = process.cpuUsage();
  const batch = Number(batchArg);
  if (mode === 'send') {
    if (batch > 0) {
      const messages = Array.from({ length: batch }, () => benchMessage(size));
      for (let i = 0; i < count; i += batch) {
        const n = Math.min(batch, count - i);
        for (let j = 0; j < n; j++) messages[j]!.timestamp = BigInt(i + j);
        await channel.sendMany(n === batch ? messages : messages.slice(0, n));
      }
    } else {
      const message = benchMessage(size);
      for (let i = 0; i < count; i++) {
        message.timestamp = BigInt(i);
        await channel.send(message);
      }
    }
    process.stdout.write(`0 ${cpuNs(cpu)}\n`);
  } else {
    let start = 0n;
    let i = 0;
    const check = (timestamp: bigint): void => {
      if (i === 0) start = process.hrtime.bigint();
      if (timestamp !== BigInt(i)) throw new Error(`message ${i} carries timestamp ${timestamp}`);
      i++;
    };
    if (batch > 0) {
      while (i < count) for (const { value } of await channel.receiveMany(batch)) check(value.timestamp);
    } else {
      for await (const { value } of channel) {
        check(value.timestamp);
        if (i === count) break;
      }
    }
    process.stdout.write(`${process.hrtime.bigint() - start} ${cpuNs(cpu)}\n`);
  }
  await channel.close();
}
