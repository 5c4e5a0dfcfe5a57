/**
 * Encode+decode of the measurement sample, side by side in one run: the generated struct codec
 * against hand-written DataView code for the same struct, msgpackr (pack+unpack of the same object)
 * and koffi.encode/decode. Prints operations per second and ratios; the targets are >= 0.8x
 * DataView, >= 5x msgpackr and >= 10x koffi.
 */
import koffi from 'koffi';
import { pack, unpack } from 'msgpackr';
import { Sample } from '../schemas/index.js';

type SampleValue = { channel: number; timestamp: bigint; value: number };

const values: SampleValue[] = Array.from({ length: 64 }, (_, i) => ({
  channel: i,
  timestamp: 1_700_000_000_000_000_000n + BigInt(i),
  value: i / 3,
}));

/** What one would write by hand for `struct sample { uint16_t channel; uint64_t timestamp; double value; }`. */
function handEncode(value: SampleValue): Uint8Array {
  const bytes = new Uint8Array(24);
  const view = new DataView(bytes.buffer);
  view.setUint16(0, value.channel, true);
  view.setBigUint64(8, value.timestamp, true);
  view.setFloat64(16, value.value, true);
  return bytes;
}

function handDecode(bytes: Uint8Array): SampleValue {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { channel: view.getUint16(0, true), timestamp: view.getBigUint64(8, true), value: view.getFloat64(16, true) };
}

// The same with a buffer and DataView made once: no allocation at all, the best case for DataView.
const handBuffer = new Uint8Array(24);
const handView = new DataView(handBuffer.buffer);

function handEncodeInto(value: SampleValue): void {
  handView.setUint16(0, value.channel, true);
  handView.setBigUint64(8, value.timestamp, true);
  handView.setFloat64(16, value.value, true);
}

function handDecodeFixed(): SampleValue {
  return {
    channel: handView.getUint16(0, true),
    timestamp: handView.getBigUint64(8, true),
    value: handView.getFloat64(16, true),
  };
}

const KoffiSample = koffi.struct('bench_sample', { channel: 'uint16_t', timestamp: 'uint64_t', value: 'double' });
const koffiBuffer = Buffer.alloc(24);

const scratch = new Uint8Array(24);

const candidates: Record<string, (value: SampleValue) => number> = {
  'typed-ipc encode+decode': (value) => Sample.decode(Sample.encode(value)).channel,
  'typed-ipc encodeInto+decode': (value) => {
    Sample.encodeInto(value, scratch, 0);
    return Sample.decode(scratch).channel;
  },
  'hand-written DataView': (value) => handDecode(handEncode(value)).channel,
  'hand-written DataView, preallocated': (value) => {
    handEncodeInto(value);
    return handDecodeFixed().channel;
  },
  'msgpackr pack+unpack': (value) => (unpack(pack(value)) as SampleValue).channel,
  'koffi encode+decode': (value) => {
    koffi.encode(koffiBuffer, 0, KoffiSample, value);
    return (koffi.decode(koffiBuffer, KoffiSample) as SampleValue).channel;
  },
};

/**
 * Operations per CPU-second of `fn` over about `ms` milliseconds. CPU time (user + system of this
 * process), not wall time: on a machine shared with other jobs, time spent descheduled is not ours.
 */
function measure(fn: (value: SampleValue) => number, ms: number): number {
  let sink = 0;
  let ops = 0;
  const end = process.hrtime.bigint() + BigInt(ms * 1e6);
  const cpu = process.cpuUsage();
  do {
    for (let i = 0; i < 1024; i++) sink += fn(values[i & 63]!);
    ops += 1024;
  } while (process.hrtime.bigint() < end);
  const used = process.cpuUsage(cpu);
  if (sink < 0) console.log(sink); // keeps the work observable
  return ops / ((used.user + used.system) / 1e6);
}

/** Runs the rounds and prints the table; returns the median ops/s per candidate. */
export async function run(options: { rounds?: number; ms?: number } = {}): Promise<Record<string, number>> {
  const rounds = options.rounds ?? Number(process.env.BENCH_ROUNDS ?? 30);
  const ms = options.ms ?? Number(process.env.BENCH_MS ?? 30);
  const names = Object.keys(candidates);
  // Every candidate must agree on the result before it is timed.
  for (const name of names) {
    if (candidates[name]!(values[5]!) !== 5) throw new Error(`${name} does not round-trip the sample`);
  }
  const samples = new Map(names.map((name) => [name, [] as number[]]));
  for (const name of names) measure(candidates[name]!, 50); // warm-up
  for (let round = 0; round < rounds; round++) {
    // Interleaved rounds: a noisy neighbour slows every candidate alike instead of one.
    for (const name of names) samples.get(name)!.push(measure(candidates[name]!, ms));
  }
  // Best of many short rounds: on a shared machine, interference only ever slows a round down.
  const best = (xs: number[]) => Math.max(...xs);
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  const result = Object.fromEntries(names.map((name) => [name, best(samples.get(name)!)]));
  const middle = Object.fromEntries(names.map((name) => [name, median(samples.get(name)!)]));
  const ours = result['typed-ipc encode+decode']!;
  const format = (n: number) => Math.round(n).toLocaleString('en');
  console.log(
    `measurement sample (${Sample.size} bytes): encode then decode, ops per CPU-second, ${rounds} interleaved rounds of ${ms} ms`,
  );
  console.log(`node ${process.version}, ${process.platform}/${process.arch}\n`);
  console.log('| candidate | best ops/s | median ops/s | typed-ipc encode+decode vs it (best) |');
  console.log('| --- | ---: | ---: | ---: |');
  for (const name of names) {
    const ratio = ours / result[name]!;
    console.log(`| ${name} | ${format(result[name]!)} | ${format(middle[name]!)} | ${ratio.toFixed(2)}x |`);
  }
  const into = result['typed-ipc encodeInto+decode']!;
  const targets: [string, number][] = [
    ['hand-written DataView', 0.8],
    ['msgpackr pack+unpack', 5],
    ['koffi encode+decode', 10],
  ];
  console.log('');
  for (const [name, target] of targets) {
    const ratio = ours / result[name]!;
    console.log(
      `${ratio >= target ? 'PASS' : 'FAIL'} typed-ipc encode+decode vs ${name}: ${ratio.toFixed(2)}x (target >= ${target}x)`,
    );
  }
  // Stricter and not a target: no allocation on either side, but typed-ipc validates every field,
  // checks bounds and zeroes padding, which the hand-written code does not.
  const strict = into / result['hand-written DataView, preallocated']!;
  console.log(`info typed-ipc encodeInto+decode vs hand-written DataView, preallocated: ${strict.toFixed(2)}x`);
  return result;
}
