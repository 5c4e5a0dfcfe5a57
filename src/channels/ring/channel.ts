/**
 * The ring's channel: the queue algorithm of docs/ring-protocol.md ("Sending", "Receiving", "Waiting
 * and waking", "Dead peers") over a mapped segment, read and written in place through Atomics.
 * Steady state makes no system call: a doorbell datagram is sent only to peers that registered as
 * sleeping.
 */
import { fstatSync } from 'node:fs';
import type { MessageCodec } from '../../codecs/codec.js';
import { DecodeError } from '../../errors.js';
import { type ChannelInfo, FdChannel, type Outgoing, type ReceivedSink } from '../channel.js';
import type { WaitOption } from '../wait-strategy.js';
import { type Doorbell, removeBellDirectory } from './doorbell.js';
import * as L from './layout.js';
import { alive } from './liveness.js';
import { handleLive, registerHandle, ringFingerprint } from './segment.js';
import type { Segment } from './segment-file.js';
import type { DoorbellSleeper, SleepSpot } from './sleeper.js';
import { channelSleeper, claimTail, openHandle, SlotCopier, storeIntent, TruncationGuard } from './slots.js';

/** BigUint64 index of the head. */
const HEAD_64 = L.header.head >> 3;
/** Int32 indexes of the sleeper masks' first words. */
const CONSUMERS_WAITING = L.header.consumers_waiting >> 2;
const PRODUCERS_WAITING = L.header.producers_waiting >> 2;
const LOW_32 = 0xffffffffn;
// A sleeping consumer looks again every RECOVERY_MS while a dead producer may hold the slot it waits
// for, else every CONSUMER_RECHECK_MS (to notice a truncation); a producer every PRODUCER_RECHECK_MS.
const CONSUMER_RECHECK = { stuckMs: L.RECOVERY_MS, idleMs: L.CONSUMER_RECHECK_MS };
const PRODUCER_RECHECK = { stuckMs: L.RECOVERY_MS, idleMs: L.PRODUCER_RECHECK_MS };
/** Int32 indexes of the low and high halves of the 64-bit tail and head (little-endian). */
const TAIL_LO = L.header.tail >> 2;
const TAIL_HI = TAIL_LO + 1;
const HEAD_LO = L.header.head >> 2;
const HEAD_HI = HEAD_LO + 1;
/** Words of a sleeper mask (one bit per handle). */
const MASK_WORDS = L.HANDLES / 32;
/** Module constants for the hot paths (a namespace member is a property load). */
const SKIP = L.SKIP;
const PROD_INTENT = L.entry.prod_pos >> 2;
const CONS_INTENT = L.entry.cons_pos >> 2;

/** A channel on a shared-memory ring. */
export class RingChannel<T> extends FdChannel<T> {
  readonly transport = 'shm';
  readonly #segment: Segment;
  readonly #i32: Int32Array;
  readonly #i64: BigUint64Array;
  readonly #size: number;
  readonly #slots: number; // a power of two
  readonly #capacity: number; // messages held before producers wait; <= slots
  readonly #mask: number;
  readonly #seq: number; // int32 index of seq[0]
  readonly #data: number; // byte offset of slot 0
  readonly #entry: number;
  readonly #entryBase: number; // int32 index of this handle's registry entry
  /** int32 index of this handle's producer intent (prod_pos, then prod_count at + 2). */
  readonly #prodIntent: number;
  /** int32 index of this handle's consumer intent (cons_pos, then cons_count at + 2). */
  readonly #consIntent: number;
  readonly #bell: Doorbell;
  readonly #ringId: bigint;
  readonly #copier: SlotCopier;
  /** Waits for a message (side 0) and for room (side 1) on this handle's doorbell. */
  readonly #sleeper: DoorbellSleeper;
  #nextRecovery = 0;
  /** Notices a truncated segment, after which the mapping is not touched again. */
  readonly #guard: TruncationGuard;

  constructor(url: string, codec: MessageCodec<T>, segment: Segment, ref: boolean, wait?: WaitOption) {
    const ringId = segment.view.getBigUint64(L.header.ring_id, true);
    const { bell, entry } = openHandle(segment, ringId, url, (b) => registerHandle(segment, b, url));
    super(url, codec, bell.fd, { ref, wait });
    this.#segment = segment;
    this.#i32 = segment.i32;
    this.#i64 = segment.i64;
    this.#size = segment.u32(L.header.msg_size);
    this.#slots = segment.u32(L.header.slots);
    this.#capacity = segment.u32(L.header.capacity);
    this.#mask = this.#slots - 1;
    this.#seq = segment.u32(L.header.seq_offset) >> 2;
    this.#data = segment.u32(L.header.data_offset);
    this.#ringId = ringId;
    this.#bell = bell;
    this.#entry = entry;
    this.#entryBase = (L.OFF_REGISTRY + entry * L.ENTRY_SIZE) >> 2;
    this.#prodIntent = this.#entryBase + PROD_INTENT;
    this.#consIntent = this.#entryBase + CONS_INTENT;
    this.#copier = new SlotCopier(segment, this.#data, this.#size, this.#slots);
    this.#guard = new TruncationGuard(segment);
    this.#sleeper = channelSleeper(this.#i32, bell, this.watch, L.SPIN, this, this.#guard);
    // The ring's readiness is its memory; the doorbell descriptor only wakes a sleeping wait. A
    // consumer's wait may be held back by a dead producer's claim, a producer's by a dead consumer's.
    this.useWaits(
      this.#sleeper.waits({
        spots: [this.#spot(L.header.consumers_waiting, 0), this.#spot(L.header.producers_waiting, 1)],
        recheck: [CONSUMER_RECHECK, PRODUCER_RECHECK],
        ready: (side) => (side === 0 ? this.#readable() : this.#writable()),
        recover: (side) => (side === 0 ? this.#recoverProducer() : this.#recoverConsumer()),
      }),
    );
  }

  // --- producing -------------------------------------------------------------------------------
  // Memory order on the hot paths (docs/ring-protocol.md, "Sending"/"Receiving"): the package runs on
  // x86-64 only, where every plain load is an acquire load and every plain store a release store, and
  // V8 keeps typed-array accesses in program order around Atomics calls (they are on one effect
  // chain). So the counters, the first slot word and the sleeper masks are read with plain loads: a
  // stale value only makes the CAS fail or the claim shorter. Atomics are kept where the protocol needs
  // more than acquire/release: the CAS that claims, and the seq_cst store that publishes or releases (it
  // is the StoreLoad fence of the Dekker handshake with sleepers, whose masks are read right after it).
  // Loops that wait for another process (#readable, #writable, recovery) use Atomics.load throughout,
  // so that no load is hoisted out of them. Each Atomics call costs about as much as the rest of a
  // claim (7-10 ns: they are builtin calls, not inlined).

  /**
   * Claims up to `n` free slots at the tail, copies `n` messages from `source` (starting at message
   * `first`) and publishes them. Returns how many were sent; 0 when the ring is full.
   */
  #push(source: Uint8Array, first: number, n: number): number {
    const i32 = this.#i32;
    const mask = this.#mask;
    const seq = this.#seq;
    let claimed = false;
    for (;;) {
      // Positions are 64-bit; slot words and intents need its two halves.
      const lo = i32[TAIL_LO]! >>> 0;
      const hi = i32[TAIL_HI]!;
      const room = this.#capacity < this.#slots ? Math.min(n, this.#room(lo)) : n;
      let k = 0;
      // The others were written before the first, which we have seen (docs, "Batches").
      if (room > 0 && i32[seq + (lo & mask)] === (lo | 0)) {
        k = 1;
        while (k < room && i32[seq + ((lo + k) & mask)] === ((lo + k) | 0)) k++;
      }
      if (k === 0) {
        if (claimed) Atomics.store(i32, this.#prodIntent + 2, 0);
        return 0;
      }
      // The intent (position, count) is visible before the claim: a recoverer that sees the claim sees it.
      storeIntent(i32, this.#prodIntent, lo, hi, k);
      claimed = true;
      const won = claimTail(i32, this.#i64, TAIL_LO, lo, hi, k, this.#slots);
      if (won === 0) continue;
      if (won < 0) {
        // Claimed at another high half than the one checked (see claimTail): never published, the
        // positions are left to recovery, which turns them into skips (our intent does not cover them).
        i32[this.#prodIntent + 2] = 0;
        claimed = false;
        continue;
      }
      const index = lo & mask;
      this.#copier.copyIn(source, first, index, k);
      for (let j = 1; j < k; j++) i32[seq + ((lo + j) & mask)] = (lo + j + 1) | 0;
      // One seq_cst store publishes the whole batch.
      Atomics.store(i32, seq + index, (lo + 1) | 0);
      if ((i32[CONSUMERS_WAITING]! | i32[CONSUMERS_WAITING + 1]!) !== 0) this.#ringBells(L.header.consumers_waiting);
      return k;
    }
  }

  protected writeRecords(out: Outgoing): number {
    // Every record is #size bytes (fixed-size codecs only), so record i is at i * #size.
    return this.#push(out.bytes, out.sent, out.count - out.sent);
  }

  // --- consuming -------------------------------------------------------------------------------
  /**
   * Claims up to `max` published slots at the head, decodes them into `into` (a record that fails to
   * decode as its DecodeError, in its place: it is consumed either way) and releases them. Appends
   * nothing when the ring is empty.
   */
  protected readRecords(max: number, into: ReceivedSink<T>): void {
    const i32 = this.#i32;
    const mask = this.#mask;
    const seq = this.#seq;
    // A full 64-bit CAS claims here, not claimTail's 32-bit one: a consumer that claimed positions it
    // did not check could not give them back (their messages would be lost), a producer can.
    let claimed = false;
    for (;;) {
      const head = this.#i64[HEAD_64]!;
      // Halves of a later head than `head` only lead to a failing CAS (head only grows).
      const lo = i32[HEAD_LO]! >>> 0;
      const hi = i32[HEAD_HI]!;
      let k = 0;
      let s = i32[seq + (lo & mask)]!;
      if (s === ((lo + 1) | 0) || s === ((lo + 1) ^ SKIP)) {
        k = 1;
        while (k < max) {
          s = i32[seq + ((lo + k) & mask)]!;
          const published = (lo + k + 1) | 0;
          if (s !== published && s !== (published ^ SKIP)) break;
          k++;
        }
      }
      if (k === 0) {
        if (claimed) Atomics.store(i32, this.#consIntent + 2, 0);
        return;
      }
      storeIntent(i32, this.#consIntent, lo, hi, k);
      claimed = true;
      // 1n is a literal: the usual single message allocates no BigInt for the addend.
      if (Atomics.compareExchange(this.#i64, HEAD_64, head, head + (k === 1 ? 1n : BigInt(k))) !== head) continue;
      const delivered = this.#decodeOut(lo, k, into);
      const slots = this.#slots;
      for (let j = 1; j < k; j++) i32[seq + ((lo + j) & mask)] = (lo + j + slots) | 0;
      // One seq_cst store releases the whole batch.
      Atomics.store(i32, seq + (lo & mask), (lo + slots) | 0);
      if ((i32[PRODUCERS_WAITING]! | i32[PRODUCERS_WAITING + 1]!) !== 0) this.#ringBells(L.header.producers_waiting);
      if (delivered > 0) return;
      // Every slot of the batch was a skip: look again.
    }
  }

  /**
   * Decodes the claimed messages of positions lo .. lo + k - 1 (skips deliver nothing) into `into`;
   * returns how many it appended.
   */
  #decodeOut(lo: number, k: number, into: ReceivedSink<T>): number {
    const { codec } = this;
    const copier = this.#copier;
    const i32 = this.#i32;
    const mask = this.#mask;
    const seq = this.#seq;
    let delivered = 0;
    for (let j = 0; j < k; j++) {
      const index = (lo + j) & mask;
      if (i32[seq + index] !== ((lo + j + 1) | 0)) continue; // a skip left by recovery
      delivered++;
      try {
        into.push({ value: copier.decodeAt(codec, index), priority: 0 });
      } catch (error) {
        into.push(error instanceof Error ? error : new DecodeError('', String(error)));
      }
    }
    return delivered;
  }

  // --- waiting ---------------------------------------------------------------------------------
  #readable(): boolean {
    const h = Atomics.load(this.#i32, HEAD_LO) >>> 0;
    const s = Atomics.load(this.#i32, this.#seq + (h & this.#mask));
    return s === ((h + 1) | 0) || s === ((h + 1) ^ SKIP);
  }

  #writable(): boolean {
    const t = Atomics.load(this.#i32, TAIL_LO) >>> 0;
    if (this.#capacity < this.#slots && this.#room(t) === 0) return false;
    return Atomics.load(this.#i32, this.#seq + (t & this.#mask)) === (t | 0);
  }

  /**
   * Messages that fit before `capacity` is reached, for a ring with fewer messages than slots.
   * `tailLo` is the tail's low half: tail - head is below 2^31 (at most the capacity, or negative
   * for a stale tail), so the int32 difference of the low halves is exact.
   */
  #room(tailLo: number): number {
    const used = (tailLo - this.#i32[HEAD_LO]!) | 0;
    return used >= this.#capacity ? 0 : this.#capacity - Math.max(0, used);
  }

  /** Sends a doorbell datagram to every sleeper registered in the mask at `offset`, clearing it. */
  #ringBells(offset: number): void {
    this.#bell.ring(this.#i32, offset >> 2, MASK_WORDS);
  }

  /** Whether `alive` holds for a registry entry whose intent (at `field`) covers `position`. */
  #liveIntentCovers(field: number, position: bigint): boolean {
    for (let e = 0; e < L.HANDLES; e++) {
      const base = L.OFF_REGISTRY + e * L.ENTRY_SIZE;
      const pid = Atomics.load(this.#i32, (base + L.entry.pid) >> 2);
      if (pid === 0) continue;
      const count = Atomics.load(this.#i32, (base + field + 8) >> 2);
      const start = Atomics.load(this.#i64, (base + field) >> 3);
      if (count === 0 || position < start || position - start >= BigInt(count)) continue;
      if (alive(pid, Number(Atomics.load(this.#i64, (base + L.entry.start_time) >> 3)))) return true;
    }
    return false;
  }

  /**
   * The head slot was claimed by a producer that has not published it. Returns 'recovered' when its
   * owner was dead and the slot became a skip, 'stuck' while its owner lives, 'idle' otherwise.
   */
  #recoverProducer(): 'recovered' | 'stuck' | 'idle' {
    const position = Atomics.load(this.#i64, L.header.head >> 3);
    const head = Number(position & LOW_32);
    const index = this.#seq + (head & this.#mask);
    if (Atomics.load(this.#i32, index) !== (head | 0)) return 'idle';
    if (Atomics.load(this.#i64, L.header.tail >> 3) <= position) return 'idle';
    if (performance.now() < this.#nextRecovery) return 'stuck';
    this.#nextRecovery = performance.now() + L.RECOVERY_MS;
    if (this.#liveIntentCovers(L.entry.prod_pos, position)) return 'stuck';
    if (Atomics.compareExchange(this.#i32, index, head | 0, (head + 1) ^ SKIP) !== (head | 0)) return 'recovered';
    Atomics.add(this.#i64, L.header.recovered >> 3, 1n);
    this.#ringBells(L.header.consumers_waiting);
    return 'recovered';
  }

  /** The tail slot still holds a message claimed by a consumer that has not released it. */
  #recoverConsumer(): 'recovered' | 'stuck' | 'idle' {
    const position = Atomics.load(this.#i64, L.header.tail >> 3);
    if (position < BigInt(this.#slots)) return 'idle';
    const held = position - BigInt(this.#slots);
    const tail = Number(position & LOW_32);
    const previous = Number(held & LOW_32);
    const index = this.#seq + (tail & this.#mask);
    const s = Atomics.load(this.#i32, index);
    if (s !== ((previous + 1) | 0) && s !== ((previous + 1) ^ SKIP)) return 'idle';
    if (Atomics.load(this.#i64, L.header.head >> 3) <= held) return 'idle';
    if (performance.now() < this.#nextRecovery) return 'stuck';
    this.#nextRecovery = performance.now() + L.RECOVERY_MS;
    if (this.#liveIntentCovers(L.entry.cons_pos, held)) return 'stuck';
    if (Atomics.compareExchange(this.#i32, index, s, tail | 0) !== s) return 'recovered';
    Atomics.add(this.#i64, L.header.abandoned >> 3, 1n);
    this.#ringBells(L.header.producers_waiting);
    return 'recovered';
  }

  /** This handle's bit in the sleeper mask at byte offset `mask`. */
  #spot(mask: number, side: 0 | 1): SleepSpot {
    return { word: (mask >> 2) + (this.#entry >> 5), bit: 1 << (this.#entry & 31), side };
  }

  // --- lifecycle -------------------------------------------------------------------------------
  /** Removes this handle's doorbell file, and the directory once the ring is unlinked and this was the last. */
  #removeBell(): void {
    this.#bell.unlinkOwn();
    if (fstatSync(this.#segment.fd).nlink !== 0) return;
    // Unlinked ring: the sockets of dead handles go too (nobody will take their entries again), and
    // the directory with them unless a live handle remains. A truncated registry cannot be read.
    if (this.#guard.truncated) removeBellDirectory(this.#ringId, L.HANDLES, () => true);
    else removeBellDirectory(this.#ringId, L.HANDLES, (e) => handleLive(this.#segment, e));
  }

  protected closeResources(): void {
    if (this.#guard.truncated) {
      // The registry entry and masks went with the truncated pages: nothing to clear, and touching them would fault.
      this.#removeBell();
      this.#bell.close();
      this.#segment.unmap();
      return;
    }
    const i32 = this.#i32;
    const bit = 1 << (this.#entry & 31);
    // The doorbell file goes before the entry is freed: afterwards it may be the next owner's.
    this.#removeBell();
    Atomics.and(i32, (L.header.consumers_waiting >> 2) + (this.#entry >> 5), ~bit);
    Atomics.and(i32, (L.header.producers_waiting >> 2) + (this.#entry >> 5), ~bit);
    Atomics.store(i32, this.#entryBase + (L.entry.prod_count >> 2), 0);
    Atomics.store(i32, this.#entryBase + (L.entry.cons_count >> 2), 0);
    Atomics.store(i32, this.#entryBase + (L.entry.pid >> 2), 0);
    this.#bell.close();
    this.#segment.unmap();
  }

  info(): ChannelInfo {
    this.assertOpen();
    const segment = this.#segment;
    const head = Atomics.load(this.#i64, L.header.head >> 3);
    const tail = Atomics.load(this.#i64, L.header.tail >> 3);
    return {
      url: this.url,
      transport: this.transport,
      messageSize: this.#size,
      capacity: this.#capacity,
      pending: Number(tail > head ? tail - head : 0n),
      fingerprint: ringFingerprint(segment),
      creatorPid: segment.view.getInt32(L.header.creator_pid, true),
      handle: this.#entry,
      recovered: Number(Atomics.load(this.#i64, L.header.recovered >> 3)),
      abandoned: Number(Atomics.load(this.#i64, L.header.abandoned >> 3)),
      slots: this.#slots,
      bytes: segment.length,
    };
  }
}
