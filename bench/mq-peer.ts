/**
 * One end of the Node benchmarks, run as a child process: `mq-peer.ts send|recv mq:/name count` moves
 * 24-byte samples over a message queue; `mq-peer.ts ipc count` sends them to the parent with
 * `process.send`. A receiver prints the nanoseconds between its first and its last message.
 */
import { open } from '../src/index.js';
import { Sample } from '../test/channels/sample.js';

const [mode = '', url = '', countArg = '0'] = process.argv.slice(2);

if (mode === 'ipc') {
  const count = Number(url);
  const send = process.send?.bind(process);
  if (send === undefined) throw new Error('mq-peer ipc must run with an IPC channel');
  // Wait for the channel to drain every few thousand messages, as a well-behaved sender does, and
  // for the last one to be written before disconnecting (disconnect drops what is still queued).
  for (let i = 0; i < count; i++) {
    const sample = { channel: 1, timestamp: i, value: i };
    if (i % 4096 === 4095 || i === count - 1) await new Promise((resolve) => send(sample, resolve));
    else send(sample);
  }
  process.disconnect();
} else {
  const count = Number(countArg);
  const channel = await open(url, Sample, { access: mode === 'send' ? 'send' : 'receive' });
  if (mode === 'send') {
    const sample = { channel: 1, timestamp: 0n, value: 0 };
    for (let i = 0; i < count; i++) {
      sample.timestamp = BigInt(i);
      sample.value = i;
      await channel.send(sample);
    }
  } else {
    let start = 0n;
    let i = 0;
    for await (const { value } of channel) {
      if (i === 0) start = process.hrtime.bigint();
      if (value.timestamp !== BigInt(i)) throw new Error(`message ${i} carries timestamp ${value.timestamp}`);
      if (++i === count) break;
    }
    process.stdout.write(`${process.hrtime.bigint() - start}\n`);
  }
  await channel.close();
}
