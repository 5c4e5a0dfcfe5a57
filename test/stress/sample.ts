/**
 * The message every stress test sends: it carries its producer's id, a sequence number and a checksum
 * of every other field, so a consumer can tell lost, duplicated, reordered and torn messages apart.
 */
import { array, bool, char, enumOf, type Infer, struct, u8, u16, u32, u64 } from '../../src/index.js';

/** 64 bytes; `magic`, `ok` and `tag` make most random bytes undecodable (a DecodeError, not a value). */
export const Sample = struct('stress_sample', {
  magic: enumOf(u8, { SAMPLE: 0xa5 }),
  ok: bool,
  producer: u16,
  seq: u32,
  timestamp: u64,
  tag: char(8),
  payload: array(u32, 8),
  checksum: u32,
});
/** A decoded stress sample. */
export type Sample = Infer<typeof Sample>;

const MIX = 0x9e37_79b1;

/** FNV-1a style mix over the fields the producer set; a torn message fails it. */
export function checksumOf(sample: Omit<Sample, 'checksum'>): number {
  let h = 0x811c_9dc5;
  const mix = (x: number) => {
    h = Math.imul(h ^ (x >>> 0), 0x0100_0193) >>> 0;
  };
  mix(sample.producer);
  mix(sample.seq);
  mix(Number(sample.timestamp & 0xffff_ffffn));
  mix(Number(sample.timestamp >> 32n));
  for (let i = 0; i < sample.tag.length; i++) mix(sample.tag.charCodeAt(i));
  for (const word of sample.payload) mix(word);
  return h;
}

/** The `seq`-th sample of `producer`; every field depends on both, so halves of two samples never add up. */
export function makeSample(producer: number, seq: number): Sample {
  const base = Math.imul(seq + 1, MIX) ^ Math.imul(producer + 1, 0x85eb_ca6b);
  const payload = Array.from({ length: 8 }, (_, i) => Math.imul(base ^ i, MIX) >>> 0);
  const fields = {
    magic: 'SAMPLE' as const,
    ok: true,
    producer,
    seq,
    timestamp: (BigInt(producer) << 48n) | BigInt(seq),
    tag: `p${producer}`,
    payload,
  };
  return { ...fields, checksum: checksumOf(fields) };
}

/** Whether a received sample is whole: its checksum matches its fields. */
export function isWhole(sample: Sample): boolean {
  return sample.ok && sample.checksum === checksumOf(sample);
}

/**
 * Checks a stream of samples from several producers: nothing duplicated, per-producer order kept,
 * nothing torn; `lost()` compares with what each producer says it sent.
 */
export class SequenceChecker {
  /** Next expected sequence number per producer. */
  readonly next = new Map<number, number>();
  received = 0;
  torn = 0;
  duplicated = 0;
  /** Messages that arrived after a later one of the same producer (or skipped ahead). */
  outOfOrder = 0;
  /** Sequence numbers skipped over (gaps), counted when a later one arrives. */
  gaps = 0;
  readonly #allowGaps: boolean;

  /** With `allowGaps`, a gap (a killed consumer took those messages) is counted but not an order error. */
  constructor(options: { allowGaps?: boolean } = {}) {
    this.#allowGaps = options.allowGaps === true;
  }

  /** Records one sample; returns false when it is torn, duplicated or out of order. */
  add(sample: Sample): boolean {
    this.received += 1;
    if (!isWhole(sample)) {
      this.torn += 1;
      return false;
    }
    const expected = this.next.get(sample.producer) ?? 0;
    if (sample.seq === expected) {
      this.next.set(sample.producer, expected + 1);
      return true;
    }
    if (sample.seq < expected) {
      this.duplicated += 1;
      return false;
    }
    this.gaps += sample.seq - expected;
    this.next.set(sample.producer, sample.seq + 1);
    if (this.#allowGaps) return true;
    this.outOfOrder += 1;
    return false;
  }

  /** Messages missing against what each producer reports it sent. */
  lost(sent: ReadonlyMap<number, number>): number {
    let lost = 0;
    for (const [producer, count] of sent) lost += Math.max(0, count - (this.next.get(producer) ?? 0));
    return lost;
  }
}
