/**
 * The Node end of the System V benchmarks, run as a child process.
 * - `sysv-peer.ts send|recv sysv:id=N count size` moves messages with `send` and `for await`, and prints
 *   `<ns> <cpu-ns>`: the receiver the wall time between its first and its last message, both their CPU
 *   time (the same figures as bench/c/sysv_throughput.c).
 * - `sysv-peer.ts latency sysv:id=N count size` receives stamped messages (CLOCK_MONOTONIC send time at
 *   offset 8, which is also what process.hrtime reads) and prints `<median-ns> <p99-ns> <cpu-ns>`.
 */
import { open } from '../../src/index.js';
import { benchMessage, benchSchema } from './mq-schemas.js';

const [mode = '', url = '', countArg = '0', sizeArg = '24'] = process.argv.slice(2);
const count = Number(countArg);
const size = Number(sizeArg);
const cpuNs = (since: NodeJS.CpuUsage): number => {
  const { user, system } = process.cpuUsage(since);
  return (user + system) * 1000;
};

const channel = await open(url, benchSchema(size), { access: mode === 'send' ? 'send' : 'receive' });
const cpu = process.cpuUsage();
if (mode === 'send') {
  const message = benchMessage(size);
  for (let i = 0; i < count; i++) {
    message.timestamp = BigInt(i);
    await channel.send(message);
  }
  process.stdout.write(`0 ${cpuNs(cpu)}\n`);
} else if (mode === 'latency') {
  // The stamping sender starts when this line arrives: start-up must not count as delay.
  process.stdout.write('ready\n');
  const delays: bigint[] = [];
  for await (const { value } of channel) {
    delays.push(process.hrtime.bigint() - value.timestamp);
    if (delays.length === count) break;
  }
  delays.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  process.stdout.write(`${delays[count >> 1]} ${delays[Math.floor((count * 99) / 100)]} ${cpuNs(cpu)}\n`);
} else {
  let start = 0n;
  let i = 0;
  for await (const { value } of channel) {
    if (i === 0) start = process.hrtime.bigint();
    if (value.timestamp !== BigInt(i)) throw new Error(`message ${i} carries sequence number ${value.timestamp}`);
    i += 1;
    if (i === count) break;
  }
  process.stdout.write(`${process.hrtime.bigint() - start} ${cpuNs(cpu)}\n`);
}
await channel.close();
