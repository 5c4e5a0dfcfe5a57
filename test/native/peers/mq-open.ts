/**
 * `mq-open.ts <mode> <url> [...]`: opens message queues under limits set by the parent (prlimit,
 * unshare, setpriv) and prints what happened as JSON: `{ "opened": n, "error": {...} }`.
 * - open <url> <capacity> <size> [access]: one open, creating the queue when capacity > 0.
 * - fill-fds <url>: uses up every descriptor first, then creates the queue.
 * - many <url-prefix>: creates queues <prefix>-0, -1, ... until one fails, then unlinks them.
 * - attributes <url>: readQueueAttributes, printed as `attributes`.
 */
import { closeSync, openSync } from 'node:fs';
import type { SystemError } from '../../../src/errors.js';
import { type Channel, open, type QueueAttributes, readQueueAttributes, unlink } from '../../../src/index.js';
import { blob } from '../../channels/sample.js';

const [mode = '', url = '', capacityArg = '1', sizeArg = '24', access = 'both'] = process.argv.slice(2);
const channels: Channel<{ data: Uint8Array }>[] = [];
const created: string[] = [];
let failure: SystemError | undefined;
let attributes: QueueAttributes | undefined;

const attempt = async (target: string, capacity: number, size: number) => {
  const options = capacity > 0 ? { create: true, capacity } : {};
  channels.push(await open(target, blob(size), { ...options, access: access as 'both' }));
  if (capacity > 0) created.push(target);
};

const fds: number[] = [];
try {
  if (mode === 'open') await attempt(url, Number(capacityArg), Number(sizeArg));
  else if (mode === 'attributes') attributes = readQueueAttributes(url.slice('mq:'.length));
  else if (mode === 'fill-fds') {
    try {
      for (;;) fds.push(openSync('/dev/null', 'r'));
    } catch {
      // every descriptor is in use now
    }
    await attempt(url, 1, 24);
  } else if (mode === 'many') {
    for (let i = 0; ; i++) await attempt(`${url}-${i}`, 1, 24);
  } else throw new Error(`unknown mode ${mode}`);
} catch (error) {
  failure = error as SystemError;
} finally {
  for (const fd of fds) closeSync(fd);
}
for (const channel of channels) await channel.close();
for (const name of created) await unlink(name);
const { name, code, syscall, path, hint, message } = failure ?? {};
process.stdout.write(
  `${JSON.stringify({ opened: channels.length, attributes, error: failure && { name, code, syscall, path, hint, message } })}\n`,
);
