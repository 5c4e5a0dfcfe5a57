/**
 * nats:// throughput against the NATS client itself, through a real nats-server on loopback: core
 * publish -> subscribe, and JetStream publish (acked, a sliding window of 256 in flight) -> durable consumer (explicit
 * acks), at each size. The publisher is a process of its own (bench/peers/nats-peer.ts); the consumer
 * runs here and times from its first message to its last. typed-ipc rows encode, send the schema header,
 * check it and decode; the raw rows publish one pre-encoded buffer and read each message's fields by hand
 * (a DataView over the payload, the same fields typed-ipc hands over, without its checks): what a program
 * on the raw client does to use a message, and what typed-ipc does for it.
 * Rounds interleave typed and raw (alternating which goes first); ratios are medians over the rounds.
 * Each round also takes the CPU time per message of the publisher (its whole publish) and of the
 * consumer (first to last message): on a loaded machine msg/s follows the load, CPU per message the code.
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { open } from '../src/index.js';
import { NatsServer } from '../test/channels/nats-server.js';
import { finished, spawnTs } from '../test/helpers.js';
import { benchSchema } from './peers/mq-schemas.js';
import { type BenchResult, median } from './report.js';
import type { BenchContext } from './suite.js';

type Mode = 'typed' | 'raw';
type Kind = 'core' | 'js';

let serial = 0;

/** Where the raw rows put each message's fields, so that reading them is not optimised away. */
export let rawSink: unknown;

/**
 * Reads a bench message's fields as a program on the raw client would: channel and timestamp, and the
 * value (the 24-byte sample) or a view of the data bytes (a copy would be typed-ipc's old cost, not the client's).
 */
function rawReader(size: number): (data: Uint8Array) => void {
  if (size === 24) {
    return (d) => {
      const dv = new DataView(d.buffer, d.byteOffset, d.byteLength);
      rawSink = { channel: dv.getUint16(0, true), timestamp: dv.getBigUint64(8, true), value: dv.getFloat64(16, true) };
    };
  }
  return (d) => {
    const dv = new DataView(d.buffer, d.byteOffset, d.byteLength);
    rawSink = { channel: dv.getUint16(0, true), timestamp: dv.getBigUint64(8, true), data: d.subarray(16, size) };
  };
}

/** Publishes `count` messages from a child process while this process consumes them; msg/s at the consumer. */
async function measure(server: NatsServer, nc: NatsConnection, mode: Mode, kind: Kind, size: number, count: number) {
  serial += 1;
  const subject = `bench.${serial}`;
  const stream = `BENCH${serial}`;
  const durable = 'consumer';
  if (kind === 'js') {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: stream, subjects: [subject], storage: 'memory' as never });
    await jsm.consumers.add(stream, { durable_name: durable, ack_policy: 'explicit' as never });
  }
  let first = 0n;
  let last = 0n;
  let received = 0;
  let cpuStart: NodeJS.CpuUsage | undefined;
  let consumerCpu = 0;
  const tick = () => {
    if (received === 0) {
      first = process.hrtime.bigint();
      cpuStart = process.cpuUsage();
    }
    received += 1;
    if (received === count) {
      last = process.hrtime.bigint();
      const cpu = process.cpuUsage(cpuStart);
      consumerCpu = ((cpu.user + cpu.system) * 1000) / count;
    }
  };
  let consume: Promise<void>;
  let stop: () => Promise<void>;
  if (mode === 'typed') {
    const query = kind === 'js' ? `?stream=${stream}&durable=${durable}` : '';
    const rx = await open(`nats://${server.address}/${subject}${query}`, benchSchema(size), {
      access: 'receive',
      maxPending: count,
    });
    consume = (async () => {
      for await (const message of rx) {
        if (kind === 'js') await message.ack?.({ confirm: false });
        tick();
        if (received === count) break;
      }
    })();
    stop = () => rx.close();
  } else if (kind === 'core') {
    // The client's own async iterator, as its documentation reads messages (typed-ipc iterates too).
    const sub = nc.subscribe(subject);
    await nc.flush();
    const read = rawReader(size);
    consume = (async () => {
      for await (const m of sub) {
        read(m.data);
        tick();
        if (received === count) break;
      }
    })();
    stop = async () => sub.unsubscribe();
  } else {
    const consumer = await jetstream(nc).consumers.get(stream, durable);
    const messages = await consumer.consume({ max_messages: 512 });
    const read = rawReader(size);
    consume = (async () => {
      for await (const m of messages) {
        read(m.data);
        m.ack();
        tick();
        if (received === count) break;
      }
    })();
    stop = async () => void (await messages.close());
  }
  const publisher = spawnTs('bench/peers/nats-peer.ts', [
    ...[mode, kind, server.address, subject, stream, String(count), String(size)],
  ]);
  const published = await finished(publisher, 300_000);
  if (published.code !== 0) throw new Error(`nats bench publisher failed: ${published.stderr}`);
  // Core NATS may drop (at most once): wait a little for stragglers, then count what arrived.
  const deadline = Date.now() + 10_000;
  while (received < count && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  const complete = received === count;
  if (complete) await consume;
  await stop();
  if (kind === 'js') await (await jetstreamManager(nc)).streams.delete(stream);
  if (!complete) throw new Error(`nats bench (${mode} ${kind} ${size} B): ${received} of ${count} arrived`);
  const publisherCpu = Number(/^cpu-ns (\d+)$/m.exec(published.stdout)?.[1] ?? Number.NaN);
  return { rate: count / (Number(last - first) / 1e9), publisherCpu, consumerCpu };
}

/** One round's figures: msg/s at the consumer, and CPU nanoseconds per message on each side. */
type Figures = Awaited<ReturnType<typeof measure>>;

/** Measures core and JetStream at every size in `context.sizes`. */
export async function run(context: BenchContext): Promise<BenchResult[]> {
  const rounds = context.quick ? 2 : 5;
  const server = await NatsServer.start();
  // The raw rows are configured as typed-ipc configures its connections (noEcho, noAsyncTraces): same client, same settings.
  const nc = await connect({ servers: server.address, noAsyncTraces: true });
  const results: BenchResult[] = [];
  try {
    const kinds: Kind[] = ['core', 'js'];
    const steps = kinds.length * context.sizes.length;
    let step = 0;
    for (const kind of kinds) {
      for (const size of context.sizes) {
        const count = context.quick ? 5_000 : kind === 'core' ? (size >= 4096 ? 50_000 : 200_000) : 50_000;
        const typedRounds: Figures[] = [];
        const rawRounds: Figures[] = [];
        for (let round = 0; round < rounds; round++) {
          context.progress((step + round / rounds) / steps, `${kind} ${size} B, round ${round + 1}`);
          const order: Mode[] = round % 2 === 0 ? ['typed', 'raw'] : ['raw', 'typed'];
          for (const mode of order) {
            (mode === 'typed' ? typedRounds : rawRounds).push(await measure(server, nc, mode, kind, size, count));
          }
        }
        step += 1;
        const typed = typedRounds.map((f) => f.rate);
        const raw = rawRounds.map((f) => f.rate);
        const ratio = median(typed.map((t, i) => t / raw[i]!));
        // CPU per message is what typed-ipc adds, and scatters far less than msg/s on a loaded machine
        // (where the rate is set by whatever else runs): raw CPU / typed CPU, >1 meaning typed-ipc spends less.
        const cpuRatio = (side: 'publisherCpu' | 'consumerCpu') =>
          median(rawRounds.map((r, i) => r[side] / (typedRounds[i] as Figures)[side]));
        const cpuNote = (rounds: Figures[]) =>
          `CPU per message: publisher ${Math.round(median(rounds.map((f) => f.publisherCpu)))} ns, consumer ${Math.round(median(rounds.map((f) => f.consumerCpu)))} ns`;
        const cpuRatios = `CPU raw/typed-ipc: publisher ${cpuRatio('publisherCpu').toFixed(2)}x, consumer ${cpuRatio('consumerCpu').toFixed(2)}x`;
        const transport = kind === 'core' ? 'nats' : 'nats+jetstream';
        const what = kind === 'core' ? 'publish -> subscribe' : 'publish (acked) -> durable consume (acked)';
        console.log(
          `${transport} ${size} B, ${count} messages x ${rounds}: typed-ipc/raw client median ${ratio.toFixed(2)}x (typed ${Math.round(median(typed))} msg/s, raw ${Math.round(median(raw))} msg/s); ${cpuRatios}`,
        );
        const notes = (rates: number[]) =>
          `median ${Math.round(median(rates)).toLocaleString('en-US')} msg/s of ${rates.length}`;
        results.push(
          {
            transport,
            messageBytes: size,
            variant: `raw @nats-io client ${what}`,
            msgPerSec: median(raw),
            baseline: 'nats-client',
            notes: `${notes(raw)}; ${cpuNote(rawRounds)}`,
          },
          {
            transport,
            messageBytes: size,
            variant: `node nats:// ${what}`,
            msgPerSec: median(typed),
            notes: `${notes(typed)}; median of per-round ratios ${ratio.toFixed(2)}x; ${cpuNote(typedRounds)}; ${cpuRatios}`,
          },
        );
      }
    }
  } finally {
    await nc.close();
    await server.stop();
  }
  return results;
}
