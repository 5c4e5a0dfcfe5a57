/**
 * What the ring's channel (ring/channel.ts) and pub/sub's (pubsub/channel.ts) do alike on a mapped
 * segment, written once: taking a doorbell and a registry entry at open, the claim of positions at the
 * tail, the copy of messages into slots, and noticing a truncated segment. The two algorithms differ in
 * their slot words and what a claim waits for, not in these.
 */
import type { MessageCodec } from '../../codecs/codec.js';
import { ChannelClosedError } from '../../errors.js';
import type { DescriptorWait } from '../wait.js';
import { Doorbell } from './doorbell.js';
import type { Segment } from './segment-file.js';
import { DoorbellSleeper } from './sleeper.js';

const TWO_32 = 2 ** 32;

/**
 * The doorbell of a new handle and its registry entry (`register` takes one, naming the doorbell's
 * number): on any failure what was taken is released, the segment unmapped, and the error thrown.
 */
export function openHandle(
  segment: Segment,
  bellId: bigint,
  url: string,
  register: (bell: Doorbell) => number,
): { bell: Doorbell; entry: number } {
  let bell: Doorbell;
  try {
    bell = new Doorbell(bellId, url);
  } catch (error) {
    segment.unmap();
    throw error;
  }
  try {
    return { bell, entry: register(bell) };
  } catch (error) {
    bell.close();
    segment.unmap();
    throw error;
  }
}

/**
 * CAS of the 64-bit tail at int32 index `tailLo` (its low half; the high half follows) from (hi, lo)
 * to (hi, lo) + k: 1 when claimed, 0 when the tail moved (retry), -1 when the claim is of other
 * positions than the ones checked (docs/ring-protocol.md, "Claiming with the low half"; pub/sub claims
 * the same way). Far from a carry into the high half (lo + k + slots < 2^32, all but 2^24 of every
 * 2^32 positions) only the low half is exchanged (a 32-bit CAS, no BigInt), and the high half is read
 * again after it: while the claim is unpublished the tail cannot pass lo + k + slots, so the high half
 * cannot legitimately change, and an unchanged one proves the whole tail was (hi, lo) at the exchange.
 * A changed one means the low half came round (the tail moved by 2^32 while this process was stopped)
 * or the halves were read across a carry: the caller must never publish those positions.
 */
export function claimTail(
  i32: Int32Array,
  i64: BigUint64Array,
  tailLo: number,
  lo: number,
  hi: number,
  k: number,
  slots: number,
): number {
  const next = lo + k;
  if (next + slots < TWO_32) {
    if (Atomics.compareExchange(i32, tailLo, lo | 0, next | 0) !== (lo | 0)) return 0;
    return i32[tailLo + 1] === hi ? 1 : -1;
  }
  const tail = (BigInt(hi >>> 0) << 32n) | BigInt(lo);
  return Atomics.compareExchange(i64, tailLo >> 1, tail, tail + BigInt(k)) === tail ? 1 : 0;
}

/** Messages up to this many bytes are copied into a slot word by word (see SlotCopier). */
const SMALL_MESSAGE = 64;

/** Copies encoded messages into the slots of a segment (fixed-size messages, `slots` a power of two). */
/**
 * Declares a claim's intent (position halves lo/hi, count k) at int32 index `at` of the handle's
 * registry entry, before the claim itself: a recoverer that sees the claim sees the intent too (plain
 * stores keep their order on x86-64; docs/ring-protocol.md, "Recovery").
 */
export function storeIntent(i32: Int32Array, at: number, lo: number, hi: number, k: number): void {
  i32[at] = lo | 0;
  i32[at + 1] = hi;
  i32[at + 2] = k;
}

export class SlotCopier {
  readonly #u8: Uint8Array;
  readonly #i32: Int32Array;
  readonly #data: number;
  readonly #size: number;
  readonly #slots: number;
  /** Int32 words of a message small enough to be copied word by word (0: copied with set()). */
  readonly #smallWords: number;
  /** The send buffer last copied word by word, and its Int32Array view (the base reuses one buffer). */
  #wordSource: Uint8Array | undefined;
  #wordView: Int32Array = new Int32Array(0);

  /** `data`: byte offset of slot 0; `size`: bytes per message. */
  constructor(segment: Segment, data: number, size: number, slots: number) {
    this.#u8 = segment.u8;
    this.#i32 = segment.i32;
    this.#data = data;
    this.#size = size;
    this.#slots = slots;
    this.#smallWords = size % 4 === 0 && size <= SMALL_MESSAGE && data % 4 === 0 ? size >> 2 : 0;
  }

  /**
   * Decodes the message in slot `index` in place, from the mapped slot: no copy of the message before
   * the codec reads it (whether the slot still holds it afterwards is the caller's check).
   */
  decodeAt<T>(codec: MessageCodec<T>, index: number): T {
    return codec.decode(this.#u8, this.#data + index * this.#size);
  }

  /** Copies `k` messages of `source` from message `first` on into the slots from `index` on (wrapping). */
  copyIn(source: Uint8Array, first: number, index: number, k: number): void {
    const size = this.#size;
    const u8 = this.#u8;
    const at = this.#data + index * size;
    if (k === 1 && first === 0 && source.length === size) {
      // One message (send()): no subarray to allocate; a small one is copied a word at a time, which
      // beats TypedArray.set's call for a few dozen bytes.
      const words = this.#smallWords;
      if (words > 0 && (source.byteOffset & 3) === 0) {
        if (source !== this.#wordSource) {
          this.#wordSource = source;
          this.#wordView = new Int32Array(source.buffer, source.byteOffset, words);
        }
        const from = this.#wordView;
        const i32 = this.#i32;
        const to = at >> 2;
        for (let w = 0; w < words; w++) i32[to + w] = from[w]!;
      } else {
        u8.set(source, at);
      }
      return;
    }
    const start = first * size;
    const run = Math.min(k, this.#slots - index);
    u8.set(source.subarray(start, start + run * size), at);
    if (run < k) u8.set(source.subarray(start + run * size, start + k * size), this.#data);
  }
}

/** What TruncationGuard needs of a channel. */
export interface GuardedChannel {
  readonly closed: boolean;
  readonly url: string;
  readonly transport: string;
  destroy(error: Error): void;
}

/**
 * Noticing a segment truncated below the mapping (an access past the new end would kill the process
 * with SIGBUS): `check` runs on every wake-up and timeout, before the segment is looked at
 * (docs/ring-protocol.md, "Trust model"), and once it found one the channel must not touch the mapping
 * again (`truncated`).
 */
export class TruncationGuard {
  /** The segment was found truncated: the mapping must not be touched again. */
  truncated = false;
  readonly #segment: Segment;

  constructor(segment: Segment) {
    this.#segment = segment;
  }

  /**
   * Destroys `channel` (not a graceful close: pending sends would keep retrying against the shrunk
   * mapping) with a ChannelClosedError and throws it when the segment's file no longer covers the
   * mapping.
   */
  check(channel: GuardedChannel): void {
    if (channel.closed) return;
    const size = this.#segment.shrunk();
    if (size === undefined) return;
    this.truncated = true;
    // The URL's scheme (its transport) aside, the rest names the file in /dev/shm.
    const { url } = channel;
    const error = new ChannelClosedError(
      `${url}: the segment was truncated to ${size} bytes under this channel (it maps ${this.#segment.length}); ` +
        `whoever can write /dev/shm${url.slice(channel.transport.length + 1)} did it. The channel is closed without ` +
        'touching the segment again; recreate it (unlink, then open with create)',
    );
    channel.destroy(error);
    throw error;
  }
}

/**
 * The doorbell sleeper of a ring or pub/sub channel: it stops at the channel's close, and every wake-up
 * and timeout runs the channel's truncation check before the segment is looked at.
 */
export function channelSleeper(
  i32: Int32Array,
  bell: Doorbell,
  watch: DescriptorWait,
  spin: number,
  channel: GuardedChannel,
  guard: TruncationGuard,
): DoorbellSleeper {
  return new DoorbellSleeper(
    i32,
    bell,
    watch,
    spin,
    () => channel.closed,
    () => guard.check(channel),
  );
}
