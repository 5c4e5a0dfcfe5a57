/**
 * `sysv-open.ts <mode> [...]`: opens System V queues under limits or credentials set by the parent
 * (unshare, setpriv) and prints what happened as JSON: `{ "opened": n, "error": {...} }`.
 * - open <url> <access>: one open of an existing queue with that access.
 * - send <url>: one open for sending and one send (type 1).
 * - send-all <url> <n>: one open for sending and n sends, waiting for room as needed.
 * - many: creates private queues until one fails, then removes them.
 * - shrink: creates a private queue of 24-byte messages, lowers /proc/sys/kernel/msgmax to 16 (run it
 *   in a private IPC namespace), then sends; restores msgmax and reports the send's error.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { SystemError } from '../../../src/errors.js';
import { type Channel, open, unlink } from '../../../src/index.js';
import { Sample } from '../../channels/sample.js';

const [mode = '', url = '', access = 'both'] = process.argv.slice(2);
const channels: Channel<Sample>[] = [];
let failure: SystemError | undefined;
try {
  if (mode === 'open') channels.push(await open(url, Sample, { access: access as 'both' }));
  else if (mode === 'send') {
    const channel = await open(url, Sample, { access: 'send' });
    channels.push(channel);
    await channel.send({ channel: 1, timestamp: 2n, value: 3 });
  } else if (mode === 'send-all') {
    // Sends `access` messages (a count here), waiting for room whenever the queue is full.
    const channel = await open(url, Sample, { access: 'send' });
    channels.push(channel);
    for (let i = 0; i < Number(access); i++) await channel.send({ channel: i, timestamp: BigInt(i), value: 3 });
  } else if (mode === 'shrink') {
    const channel = await open('sysv:private', Sample, { create: true });
    channels.push(channel);
    const msgmax = readFileSync('/proc/sys/kernel/msgmax', 'latin1');
    writeFileSync('/proc/sys/kernel/msgmax', '16');
    try {
      await channel.send({ channel: 1, timestamp: 2n, value: 3 });
    } finally {
      writeFileSync('/proc/sys/kernel/msgmax', msgmax);
    }
  } else if (mode === 'many') {
    for (;;) channels.push(await open('sysv:private', Sample, { create: true }));
  } else throw new Error(`unknown mode ${mode}`);
} catch (error) {
  failure = error as SystemError;
}
for (const channel of channels) {
  await channel.close();
  if (mode === 'many' || mode === 'shrink') await unlink(channel.url);
}
const { name, code, syscall, path, hint, message } = failure ?? {};
process.stdout.write(
  `${JSON.stringify({ opened: channels.length, error: failure && { name, code, syscall, path, hint, message } })}\n`,
);
