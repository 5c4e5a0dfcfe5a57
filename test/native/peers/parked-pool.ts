/**
 * `parked-pool.ts <url>`: the control experiment for many-receivers.ts. Run with
 * UV_THREADPOOL_SIZE=1, it parks the one pool thread the way a naive binding would (a blocking
 * mq_receive through koffi's `.async`), shows that fs.readFile then cannot finish, releases the
 * thread by sending a message, and shows that fs.readFile finishes again. Prints a JSON report.
 */
import { readFile } from 'node:fs/promises';
import { libc, mqueue } from '../../../src/native/index.js';

const [url = ''] = process.argv.slice(2);
const name = url.slice('mq:'.length);
const receiver = mqueue.openQueue(name, libc.O_RDONLY, 0); // blocking: this is what must never be done
const sender = mqueue.openQueue(name, libc.O_WRONLY | libc.O_NONBLOCK, 0);
// koffi does not keep these alive across an async call: module-level references do.
const buffer = new Uint8Array(24);
const priority = new Uint32Array(1);
const asyncReceive = (libc.mqReceive as unknown as { async: (...args: unknown[]) => void }).async;
const parked = new Promise<number>((resolve, reject) => {
  asyncReceive(receiver, buffer, buffer.length, priority, (error: unknown, length: number) =>
    error ? reject(error) : resolve(length),
  );
});

const readWithin = (ms: number) =>
  Promise.race([
    readFile(new URL(import.meta.url)).then(() => 'read'),
    new Promise<string>((resolve) => setTimeout(() => resolve('timeout'), ms).unref()),
  ]);

const whileParked = await readWithin(1_000);
libc.mqSend(sender, new Uint8Array(24), 24, 0);
const received = await parked;
const afterRelease = await readWithin(10_000);
mqueue.closeQueue(receiver);
mqueue.closeQueue(sender);
process.stdout.write(
  `${JSON.stringify({ whileParked, received, afterRelease, threadpool: process.env.UV_THREADPOOL_SIZE })}\n`,
);
