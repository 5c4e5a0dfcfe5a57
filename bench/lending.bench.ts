/**
 * Receiving large messages without copying their `bytes(n)` fields: the same channel traffic
 * received through the struct codec (decoded `bytes(n)` are copies of their own) and through
 * `StructType.lending()` (one copy of the message into the codec's own buffer, fields are views of
 * it), on a POSIX message queue, a unix+dgram socket and the shared-memory ring, at 256 B and 4 KiB.
 * One process sends a burst with trySend and receives it with tryReceive, so both rows make the
 * same system calls; they differ only in decoding. Ratios are medians of per-round ratios.
 */
import { bind, type Channel, connect, open, unlink } from '../src/channels/index.js';
import { bytes, type MessageCodec, type StructType, struct, u32 } from '../src/codecs/index.js';
import { type BenchResult, median } from './report.js';
import type { BenchContext } from './suite.js';

type Blob = { seq: number; data: Uint8Array };

const BURST = 8;

interface Pair {
  readonly tx: Channel<Blob>;
  readonly rx: Channel<Blob>;
  close(): Promise<void>;
}

let counter = 0;
const unique = (tag: string) => `tipc-${process.pid}-lend-${++counter}-${tag}`;

/** A sender and a receiver on `transport`, the receiver decoding with `codec`. */
async function pairOf(transport: string, type: StructType<Blob>, codec: MessageCodec<Blob>): Promise<Pair> {
  if (transport === 'unix+dgram') {
    const url = `unix+dgram:@${unique('dgram')}`;
    const rx = await bind(url, codec);
    const tx = await connect(url, type);
    return { tx, rx, close: async () => void (await Promise.all([tx.close(), rx.close()])) };
  }
  const url = transport === 'mq' ? `mq:/${unique('mq')}` : `shm:/${unique('ring')}`;
  const channel = await open(url, codec, { create: true, exclusive: true, capacity: BURST });
  return {
    tx: channel,
    rx: channel,
    close: async () => {
      await channel.close();
      await unlink(url);
    },
  };
}

/** Messages sent and received per CPU-second over about `ms` milliseconds. */
function measure(pair: Pair, value: Blob, ms: number): number {
  let sink = 0;
  let ops = 0;
  const end = process.hrtime.bigint() + BigInt(ms * 1e6);
  const cpu = process.cpuUsage();
  do {
    for (let i = 0; i < BURST; i++) if (!pair.tx.trySend(value)) throw new Error('the channel is full');
    for (let i = 0; i < BURST; i++) {
      const message = pair.rx.tryReceive();
      if (message === undefined) throw new Error('a message sent was not there');
      sink += message.value.data[i]! + message.value.seq;
    }
    ops += BURST;
  } while (process.hrtime.bigint() < end);
  const used = process.cpuUsage(cpu);
  if (sink < 0) console.log(sink);
  return ops / ((used.user + used.system) / 1e6);
}

/** Interleaved rounds of copying and lending receives per transport and size. */
export async function run(context?: Partial<BenchContext>): Promise<BenchResult[]> {
  const quick = context?.quick ?? false;
  const rounds = Number(process.env.BENCH_ROUNDS ?? (quick ? 4 : 15));
  const ms = Number(process.env.BENCH_MS ?? (quick ? 15 : 40));
  const results: BenchResult[] = [];
  const transports = ['mq', 'unix+dgram', 'shm'];
  const sizes = [256, 4096];
  let step = 0;
  for (const size of sizes) {
    const type = struct(`lend${size}`, { seq: u32, data: bytes(size - 4) }) as StructType<Blob>;
    const value: Blob = { seq: 7, data: new Uint8Array(size - 4).map((_, i) => i & 0xff) };
    for (const transport of transports) {
      context?.progress?.(step++ / (sizes.length * transports.length), `${transport} ${size} B`);
      const copying = await pairOf(transport, type, type);
      const lending = await pairOf(transport, type, type.lending());
      try {
        // Both decode what was sent, the lending one through views of its own copy.
        for (const pair of [copying, lending]) {
          pair.tx.trySend(value);
          const got = pair.rx.tryReceive()!.value;
          if (got.seq !== 7 || got.data[size - 5] !== value.data[size - 5])
            throw new Error(`${transport}: bad round trip`);
        }
        measure(copying, value, 50);
        measure(lending, value, 50);
        const a: number[] = [];
        const b: number[] = [];
        for (let round = 0; round < rounds; round++) {
          a.push(measure(copying, value, ms));
          b.push(measure(lending, value, ms));
        }
        const ratio = median(a.map((x, i) => b[i]! / x));
        const note = `send+receive per CPU-second in one process, bursts of ${BURST}, median of ${rounds} rounds`;
        results.push(
          {
            transport,
            messageBytes: size,
            variant: 'node receive, copying bytes(n)',
            msgPerSec: median(a),
            notes: note,
          },
          {
            transport,
            messageBytes: size,
            variant: 'node receive, lending()',
            msgPerSec: median(b),
            reference: true,
            notes: `${note}; ${ratio.toFixed(2)}x the copying row (median of per-round ratios)`,
          },
        );
        console.log(
          `lending: ${transport} ${size} B: ${ratio.toFixed(2)}x the copying decode (median of ${rounds} rounds)`,
        );
      } finally {
        await copying.close();
        await lending.close();
      }
    }
  }
  return results;
}
