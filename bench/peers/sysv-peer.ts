/**
 * The Node end of the System V benchmarks, run as a child process.
 * - `sysv-peer.ts send|recv sysv:id=N count size` moves messages with `send` and `for await`, and prints
 *   `<ns> <cpu-ns> <steady-ns>`: the receiver the wall time between its first and its last message and
 *   between message count/10 and its last, both their CPU time (the same figures as
 *   bench/c/sysv_throughput.c).
 * - `sysv-peer.ts send-many|recv-many ...` the same with sendMany and receiveMany, 64 messages at a time.
 * - `sysv-peer.ts raw-send|raw-recv ...` blocking msgsnd/msgrcv through koffi, no channel (the ceiling).
 * - `sysv-peer.ts latency sysv:id=N count size` receives stamped messages (CLOCK_MONOTONIC send time at
 *   offset 8, which is also what process.hrtime reads) and prints `<median-ns> <p99-ns> <cpu-ns>`.
 */
import { open } from '../../src/index.js';
import { libc } from '../../src/internal.js';
import { benchMessage, benchSchema } from './mq-schemas.js';

const [mode = '', url = '', countArg = '0', sizeArg = '24'] = process.argv.slice(2);
const count = Number(countArg);
/** Messages per sendMany and the most per receiveMany in the `send-many`/`recv-many` modes. */
const BATCH = 64;
const size = Number(sizeArg);
/** The message from which the steady part of a run is timed (see bench/c/sysv_throughput.c). */
const warm = Math.floor(count / 10);
/** A receiver's `<ns> <cpu-ns> <steady-ns>` line, from the times of its first, warm-th and last message. */
const receiverLine = (start: bigint, steady: bigint, cpu: NodeJS.CpuUsage): string => {
  const end = process.hrtime.bigint();
  return `${end - start} ${cpuNs(cpu)} ${end - steady}\n`;
};
const cpuNs = (since: NodeJS.CpuUsage): number => {
  const { user, system } = process.cpuUsage(since);
  return (user + system) * 1000;
};

if (mode === 'raw-send' || mode === 'raw-recv') {
  // The ceiling for any Node code making these system calls: blocking msgsnd/msgrcv through koffi on
  // the main thread, as the C loop does, with no event loop, codec or channel around them. No library
  // may block the event loop like this; the row shows what the kernel and one koffi call per message
  // allow, so that the gap between it and typed-ipc is typed-ipc's own cost (and its wait's).
  const id = Number(url.replace(/^sysv:id=/, ''));
  // The msgbuf in native memory, passed by address, as the channel passes its own (koffi finds a
  // typed array's bytes more slowly than it takes an address).
  const address = libc.allocNative(libc.MTYPE_SIZE + size);
  const view = new DataView(libc.viewNative(address, libc.MTYPE_SIZE + size));
  view.setUint32(0, 1, true);
  view.setUint16(libc.MTYPE_SIZE, 1, true);
  const cpu = process.cpuUsage();
  let start = 0n;
  let steady = 0n;
  for (let i = 0; i < count; i++) {
    if (mode === 'raw-send') {
      view.setBigUint64(libc.MTYPE_SIZE + 8, BigInt(i), true);
      if (libc.msgsnd(id, address, size, 0) !== 0) throw new Error(`msgsnd: errno ${libc.errno()}`);
    } else {
      if (libc.msgrcv(id, address, size, 0, 0) !== size) throw new Error(`msgrcv: errno ${libc.errno()}`);
      if (i === 0) start = process.hrtime.bigint();
      if (i === warm) steady = process.hrtime.bigint();
      const sequence = view.getBigUint64(libc.MTYPE_SIZE + 8, true);
      if (sequence !== BigInt(i)) throw new Error(`message ${i} carries sequence number ${sequence}`);
    }
  }
  process.stdout.write(mode === 'raw-recv' ? receiverLine(start, steady, cpu) : `0 ${cpuNs(cpu)} 0\n`);
  process.exit(0);
}

const channel = await open(url, benchSchema(size), { access: mode.startsWith('send') ? 'send' : 'receive' });
const cpu = process.cpuUsage();
if (mode === 'send') {
  const message = benchMessage(size);
  for (let i = 0; i < count; i++) {
    message.timestamp = BigInt(i);
    await channel.send(message);
  }
  process.stdout.write(`0 ${cpuNs(cpu)} 0\n`);
} else if (mode === 'send-many') {
  // Batches of BATCH messages (sendMany encodes them all before it sends any). They share one payload,
  // as the `send` mode reuses one message: the row measures the channel, not allocating payloads.
  const message = benchMessage(size);
  for (let i = 0; i < count; i += BATCH) {
    const batch = [];
    for (let j = i; j < Math.min(count, i + BATCH); j++) batch.push({ ...message, timestamp: BigInt(j) });
    await channel.sendMany(batch);
  }
  process.stdout.write(`0 ${cpuNs(cpu)} 0\n`);
} else if (mode === 'recv-many') {
  let start = 0n;
  let steady = 0n;
  for (let i = 0; i < count; ) {
    for (const { value } of await channel.receiveMany(BATCH)) {
      if (i === 0) start = process.hrtime.bigint();
      if (i === warm) steady = process.hrtime.bigint();
      if (value.timestamp !== BigInt(i)) throw new Error(`message ${i} carries sequence number ${value.timestamp}`);
      i += 1;
    }
  }
  process.stdout.write(receiverLine(start, steady, cpu));
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
  let steady = 0n;
  let i = 0;
  for await (const { value } of channel) {
    if (i === 0) start = process.hrtime.bigint();
    if (i === warm) steady = process.hrtime.bigint();
    if (value.timestamp !== BigInt(i)) throw new Error(`message ${i} carries sequence number ${value.timestamp}`);
    i += 1;
    if (i === count) break;
  }
  process.stdout.write(receiverLine(start, steady, cpu));
}
await channel.close();
