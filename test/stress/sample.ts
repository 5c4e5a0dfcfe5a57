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
 * Checks a stream of samples from several producers: nothing torn, nothing duplicated, per-producer
 * order kept; `lost()` compares what arrived with what each producer says it sent.
 */
export class SequenceChecker {
  /** Next expected sequence number per producer (one past the highest seen). */
  readonly next = new Map<number, number>();
  /** Whole, first-time samples per producer. */
  readonly delivered = new Map<number, number>();
  /** Sequence numbers skipped over so far, per producer: arriving later is reordering, never arriving is loss. */
  readonly #missing = new Map<number, Set<number>>();
  received = 0;
  torn = 0;
  duplicated = 0;
  /** Samples that arrived after a later one of the same producer. */
  late = 0;
  /** Sequence numbers skipped over when a later one arrived (lost or late). */
  gaps = 0;

  /** Records one sample; returns false when it is torn, duplicated or late. */
  add(sample: Sample): boolean {
    this.received += 1;
    if (!isWhole(sample)) {
      this.torn += 1;
      return false;
    }
    const { producer, seq } = sample;
    const expected = this.next.get(producer) ?? 0;
    if (seq < expected) {
      const missing = this.#missing.get(producer);
      if (missing?.delete(seq) !== true) {
        this.duplicated += 1;
        return false;
      }
      this.late += 1;
      this.delivered.set(producer, (this.delivered.get(producer) ?? 0) + 1);
      return false;
    }
    if (seq > expected) {
      this.gaps += seq - expected;
      const missing = this.#missing.get(producer) ?? new Set<number>();
      for (let s = expected; s < seq; s++) missing.add(s);
      this.#missing.set(producer, missing);
    }
    this.next.set(producer, seq + 1);
    this.delivered.set(producer, (this.delivered.get(producer) ?? 0) + 1);
    return true;
  }

  /** Samples sent (by each producer's own count) that never arrived. */
  lost(sent: ReadonlyMap<number, number>): number {
    let lost = 0;
    for (const [producer, count] of sent) lost += Math.max(0, count - (this.delivered.get(producer) ?? 0));
    return lost;
  }
}
