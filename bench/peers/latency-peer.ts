/**
 * The Node ends of bench/latency.bench.ts (ping-pong one-way latency), run as child processes:
 *   latency-peer.ts pong <transport> <a> <b> <count> <spinUs>   echoes `count` samples back
 *   latency-peer.ts ping <transport> <a> <b> <count> <spinUs>   sends a sample, waits for its echo,
 *                                                               `count` times; prints the round-trip
 *                                                               times in ns, one per line
 *   latency-peer.ts idle <transport> <a> <b> <count> <spinUs>   receives `count` samples sent at a
 *                                                               slow pace; prints its CPU ns per
 *                                                               second of waiting
 *   latency-peer.ts raw-ping|raw-pong mq <a> <b> <count>        the same over queues with blocking
 *                                                               mq_send/mq_receive through koffi: no
 *                                                               event loop, codec or channel (the floor
 *                                                               of any Node code making these calls)
 * <a> and <b> name the objects as bench/latency.bench.ts made them: for mq, shm, shm+pubsub and fifo two
 * one-way objects (a: ping -> pong, b: pong -> ping; shm+pubsub: the pong end prints `ready <a>` once
 * subscribed); for sockets the address the pong end binds or listens
 * on (tcp: port 0, the chosen port printed as `ready <url>`); <b> is then unused. spinUs 0: no `wait`
 * option; a last argument `busy` spins without yielding (`yield: false`).
 */
import { libc } from '../../src/internal.js';
import { ends } from './latency-ends.js';

const [role = '', transport = '', a = '', b = '', countArg = '0', spinArg = '0', how = 'yield'] = process.argv.slice(2);
const count = Number(countArg);
const spinUs = Number(spinArg);
const announce = (url: string): void => {
  process.stdout.write(`ready ${url}\n`);
};
const wait = spinUs > 0 ? { wait: { spinUs, yield: how !== 'busy' } } : {};

if (role === 'pong') {
  const end = await ends(transport, true, a, b, wait, announce);
  for (let i = 0; i < count; i++) {
    const { value, from } = await end.rx.receive();
    await end.reply(value, from);
  }
  await end.close();
} else if (role === 'ping') {
  const end = await ends(transport, false, a, b, wait);
  const sample = { channel: 1, timestamp: 0n, value: 0 };
  const times = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    sample.timestamp = BigInt(i);
    const start = process.hrtime.bigint();
    await end.tx.send(sample);
    const { value } = await end.rx.receive();
    times[i] = Number(process.hrtime.bigint() - start);
    if (value.timestamp !== sample.timestamp) throw new Error(`echo ${value.timestamp} for ${sample.timestamp}`);
  }
  await end.close();
  process.stdout.write(`${Array.from(times).join('\n')}\n`);
} else if (role === 'idle') {
  // The receiving end of a slow stream: CPU time per second of (mostly) waiting.
  const end = await ends(transport, true, a, b, wait, announce);
  if (transport === 'shm') announce(a);
  await end.rx.receive();
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  for (let i = 1; i < count; i++) await end.rx.receive();
  const used = process.cpuUsage(cpu);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await end.close();
  process.stdout.write(`${((used.user + used.system) * 1e3) / seconds}\n`);
} else if (role === 'raw-ping' || role === 'raw-pong') {
  // No library may block the event loop like this: the row shows what Node itself costs per hop.
  const open = (url: string): number => {
    const mqd = libc.mqOpen(url.replace(/^mq:/, ''), libc.O_RDWR);
    if (mqd < 0) throw new Error(`mq_open ${url}: errno ${libc.errno()}`);
    return mqd;
  };
  const pong = role === 'raw-pong';
  const inbound = open(pong ? a : b);
  const outbound = open(pong ? b : a);
  const buffer = new Uint8Array(24);
  const view = new DataView(buffer.buffer);
  const priority = new Uint32Array(1);
  const hop = (mqd: number, send: boolean): void => {
    const done = send ? libc.mqSend(mqd, buffer, 24, 0) === 0 : libc.mqReceive(mqd, buffer, 24, priority) === 24;
    if (!done) throw new Error(`${send ? 'mq_send' : 'mq_receive'}: errno ${libc.errno()}`);
  };
  const times = new Float64Array(pong ? 0 : count);
  for (let i = 0; i < count; i++) {
    if (pong) {
      hop(inbound, false);
      hop(outbound, true);
      continue;
    }
    view.setBigUint64(8, BigInt(i), true);
    const start = process.hrtime.bigint();
    hop(outbound, true);
    hop(inbound, false);
    times[i] = Number(process.hrtime.bigint() - start);
    if (view.getBigUint64(8, true) !== BigInt(i)) throw new Error(`echo of ${i} carries another sequence number`);
  }
  libc.mqClose(inbound);
  libc.mqClose(outbound);
  if (!pong) process.stdout.write(`${Array.from(times).join('\n')}\n`);
} else {
  throw new Error(`unknown role ${role}`);
}
