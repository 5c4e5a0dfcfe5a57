/**
 * Encode+decode of the measurement sample, side by side in one run: the generated struct codec
 * against hand-written DataView code for the same struct, msgpackr (pack+unpack of the same object)
 * and koffi.encode/decode. Prints operations per second and ratios; the targets are >= 0.8x
 * DataView, >= 5x msgpackr and >= 10x koffi, and encodeInto+decode >= 0.8x hand-written code that
 * creates the same objects (the preallocated row: no buffer, one decoded object and its bigint).
 * Ratios are medians of per-round ratios: both sides of a ratio ran in the same round.
 */
import koffi from 'koffi';
import { pack, unpack } from 'msgpackr';
import { Sample } from '../schemas/index.js';
import { type BaselineKind, type BenchResult, median } from './report.js';
import type { BenchContext } from './suite.js';

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

// What encode() creates, by hand: a view carved out of a slab with one DataView, no validation.
const HAND_SLAB = 16384;
let handSlab = new Uint8Array(HAND_SLAB);
let handSlabView = new DataView(handSlab.buffer);
let handSlabAt = 0;

function handEncodeSlab(value: SampleValue): Uint8Array {
  if (handSlabAt + 24 > HAND_SLAB) {
    handSlab = new Uint8Array(HAND_SLAB);
    handSlabView = new DataView(handSlab.buffer);
    handSlabAt = 0;
  }
  const o = handSlabAt;
  handSlabAt += 24;
  handSlabView.setUint16(o, value.channel, true);
  handSlabView.setBigUint64(o + 8, value.timestamp, true);
  handSlabView.setFloat64(o + 16, value.value, true);
  return handSlab.subarray(o, o + 24);
}

let handLastBytes: Uint8Array | null = null;
let handLastView: DataView = handSlabView;

function handDecodeSlab(bytes: Uint8Array): SampleValue {
  // The decoder keeps the DataView of the last input's buffer, as the codec's does.
  if (bytes !== handLastBytes) {
    handLastView = bytes.buffer === handSlab.buffer ? handSlabView : new DataView(bytes.buffer);
    handLastBytes = bytes;
  }
  const view = handLastView;
  const o = bytes.byteOffset;
  return {
    channel: view.getUint16(o, true),
    timestamp: view.getBigUint64(o + 8, true),
    value: view.getFloat64(o + 16, true),
  };
}

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
  'hand-written DataView, slab': (value) => handDecodeSlab(handEncodeSlab(value)).channel,
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

const baselines: Record<string, BaselineKind> = {
  'hand-written DataView': 'dataview',
  'msgpackr pack+unpack': 'msgpackr',
  'koffi encode+decode': 'koffi',
};

const notes: Record<string, string> = {
  'typed-ipc encodeInto+decode': 'into one reused buffer, as channels do',
  'hand-written DataView, preallocated':
    'the same objects as encodeInto+decode (one decoded object and its bigint), no validation, no bounds checks',
  'hand-written DataView, slab': 'the same objects as encode+decode (a slab view and a decoded object), no validation',
};

/** Reference rows: hand-written code creating the same objects as a typed-ipc row (and what it is compared with). */
const sameObjects: Record<string, string> = {
  'hand-written DataView, preallocated': 'typed-ipc encodeInto+decode',
  'hand-written DataView, slab': 'typed-ipc encode+decode',
};

/** The targets: typed-ipc encode+decode against each baseline. */
const targets: readonly [BaselineKind, number][] = [
  ['dataview', 0.8],
  ['msgpackr', 5],
  ['koffi', 10],
];

/**
 * Measures every candidate in interleaved rounds and returns the best round of each (ops per
 * CPU-second), as suite rows of transport `codec`; prints the targets with PASS/FAIL.
 */
export async function run(context?: Partial<BenchContext>): Promise<BenchResult[]> {
  const quick = context?.quick ?? false;
  const rounds = Number(process.env.BENCH_ROUNDS ?? (quick ? 6 : 30));
  const ms = Number(process.env.BENCH_MS ?? (quick ? 15 : 30));
  const names = Object.keys(candidates);
  // Every candidate must agree on the result before it is timed.
  for (const name of names) {
    if (candidates[name]!(values[5]!) !== 5) throw new Error(`${name} does not round-trip the sample`);
  }
  const samples = new Map(names.map((name) => [name, [] as number[]]));
  for (const name of names) measure(candidates[name]!, 50); // warm-up
  for (let round = 0; round < rounds; round++) {
    context?.progress?.(round / rounds, `round ${round + 1}/${rounds}`);
    // Interleaved rounds: a noisy neighbour slows every candidate alike instead of one.
    for (const name of names) samples.get(name)!.push(measure(candidates[name]!, ms));
  }
  // Best of many short rounds: interference only ever slows a round down.
  const best = (name: string) => Math.max(...samples.get(name)!);
  // The median over rounds of ours/theirs measured in the same round.
  const medianRatio = (ours: string, theirs: string) => {
    const a = samples.get(ours)!;
    const b = samples.get(theirs)!;
    return median(a.map((x, i) => x / b[i]!));
  };
  const results: BenchResult[] = names.map((name) => ({
    transport: 'codec',
    messageBytes: Sample.size,
    variant: name,
    msgPerSec: best(name),
    ...(baselines[name] === undefined ? {} : { baseline: baselines[name] }),
    ...(sameObjects[name] === undefined ? {} : { reference: true }),
    notes: [`encode+decode pairs per CPU-second, best of ${rounds} rounds of ${ms} ms`, notes[name]]
      .filter(Boolean)
      .join('; '),
  }));
  for (const [kind, target] of targets) {
    const name = Object.keys(baselines).find((n) => baselines[n] === kind)!;
    const ratio = medianRatio('typed-ipc encode+decode', name);
    console.log(
      `${ratio >= target ? 'PASS' : 'FAIL'} codec: typed-ipc encode+decode vs ${name}: ${ratio.toFixed(2)}x median of ${rounds} rounds (target >= ${target}x)`,
    );
  }
  for (const [reference, ours] of Object.entries(sameObjects)) {
    const ratio = medianRatio(ours, reference);
    const verdict = ours.includes('encodeInto') ? `${ratio >= 0.8 ? 'PASS' : 'FAIL'} ` : '';
    console.log(
      `${verdict}codec: ${ours} vs ${reference} (same objects): ${ratio.toFixed(2)}x median of ${rounds} rounds${verdict ? ' (target >= 0.8x)' : ''}`,
    );
  }
  return results;
}
