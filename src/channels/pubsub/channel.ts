/**
 * The pub/sub channel: the fan-out algorithm of docs/pubsub.md over a mapped segment, read and written
 * in place through Atomics. One tail that publishers claim, one cursor per subscriber, a slot word per
 * slot that says which position the slot holds and whether it is being written (a seqlock: a subscriber
 * never delivers a message that changed while it read it). A handle is a publisher or a subscriber.
 * Steady state makes no system call: doorbells are rung only for handles registered as sleeping.
 */
import { fstatSync } from 'node:fs';
import type { MessageCodec } from '../../codecs/codec.js';
import { DecodeError } from '../../errors.js';
import { type ChannelInfo, FdChannel, type Message, type Outgoing, type ReceivedSink } from '../channel.js';
import { type Doorbell, removeBellDirectory } from '../ring/doorbell.js';
import { alive, entryLive } from '../ring/liveness.js';
import type { Segment } from '../ring/segment-file.js';
import type { DoorbellSleeper, Recheck, Recovery, SleepSpot } from '../ring/sleeper.js';
import { channelSleeper, claimTail, openHandle, SlotCopier, storeIntent, TruncationGuard } from '../ring/slots.js';
import type { WaitOption } from '../wait-strategy.js';
import { fingerprintOf } from './header.js';
import * as L from './layout.js';
import { publisherTable, registerHandle, subscriberTable } from './segment.js';

/** A message received on a pub/sub channel: `missed` says how many this subscriber missed right before it. */
export interface PubSubMessage<T> extends Message<T> {
  /** Messages this subscriber missed (overwrite policy) between the message it received before and this one. */
  readonly missed: number;
}

const TAIL_LO = L.header.tail >> 2;
const TAIL_HI = TAIL_LO + 1;
const SUB_SLEEPERS = L.header.sub_sleepers >> 2;
const PUB_SLEEPERS = L.header.pub_sleepers >> 2;
const TWO_32 = 2 ** 32;
const LOW_30 = 0x3fffffff;
/** Int32 offsets within an entry. */
const PID = L.entry.pid >> 2;
const ACTIVE = L.entry.active >> 2;
const POS_LO = L.entry.pos >> 2;
const POS_HI = POS_LO + 1;
const COUNT = L.entry.count >> 2;
const ENTRY_WORDS = L.ENTRY_SIZE >> 2;
const { PUBLISHED, SKIPPED, WRITING } = L;
/**
 * Messages one receive() of a subscriber reads from the segment at most (the rest wait in its inbox),
 * and at most an eighth of the capacity, so that in block mode the inbox adds little to how far a
 * publisher may run ahead: several messages then cost one pass (one cursor store, one look at the
 * sleepers). Nothing is lost by it: the cursor is this subscriber's own.
 */
const READ_AHEAD = 64;

/** How a pub/sub handle is set up (the checked options the channel itself needs). */
export interface PubSubInit {
  readonly access: 'send' | 'receive';
  readonly history: number;
  readonly ref: boolean;
  readonly wait?: WaitOption | undefined;
}

/** A publisher or a subscriber on a shared-memory pub/sub segment. */
export class PubSubChannel<T> extends FdChannel<T> {
  readonly transport = 'shm+pubsub';
  protected override readonly readAhead: number;
  readonly #segment: Segment;
  readonly #u8: Uint8Array;
  readonly #i32: Int32Array;
  readonly #size: number;
  readonly #slots: number;
  readonly #mask: number;
  readonly #capacity: number;
  readonly #overwrite: boolean;
  readonly #seq: number; // int32 index of slot word 0
  readonly #data: number;
  readonly #subscribers: number;
  readonly #publishers: number;
  readonly #maskWords: number;
  readonly #publisher: boolean;
  readonly #entry: number;
  readonly #entryBase: number; // int32 index of this handle's entry
  readonly #bellNumber: number;
  readonly #bell: Doorbell;
  readonly #bellId: bigint;
  readonly #copier: SlotCopier;
  // Subscriber state.
  #cursor = 0;
  #joinTail = 0;
  #missed = 0;
  #missedSince = 0;
  #skipped = 0;
  #delivered = 0;
  // Publisher state: claims are allowed while (position - limit) | 0 < 0 (block policy).
  #limitLo = 0;
  #published = 0;
  #nextRecovery = 0;
  /** Waits for messages (side 0, a subscriber's) and for room (side 1, a publisher's) on this handle's doorbell. */
  readonly #sleeper: DoorbellSleeper;
  readonly #recheck: Recheck;
  /** Notices a truncated segment, after which the mapping is not touched again. */
  readonly #guard: TruncationGuard;

  constructor(url: string, codec: MessageCodec<T>, segment: Segment, init: PubSubInit) {
    const bellId = segment.view.getBigUint64(L.header.bell_id, true);
    const subscribers = segment.u32(L.header.subscribers);
    const publishers = segment.u32(L.header.publishers);
    const publisher = init.access === 'send';
    const { bell, entry } = openHandle(segment, bellId, url, (b) =>
      publisher
        ? registerHandle(segment, publisherTable(subscribers, publishers), subscribers, b, url, 'publisher')
        : registerHandle(segment, subscriberTable(subscribers), 0, b, url, 'subscriber'),
    );
    super(url, codec, bell.fd, { ref: init.ref, wait: init.wait, access: init.access });
    this.#segment = segment;
    this.#u8 = segment.u8;
    this.#i32 = segment.i32;
    this.#size = segment.u32(L.header.msg_size);
    this.#slots = segment.u32(L.header.slots);
    this.#mask = this.#slots - 1;
    this.#capacity = segment.u32(L.header.capacity);
    this.readAhead = publisher ? 1 : Math.max(1, Math.min(READ_AHEAD, this.#capacity >> 3));
    this.#overwrite = segment.u32(L.header.policy) === L.POLICY_OVERWRITE;
    this.#seq = segment.u32(L.header.seq_offset) >> 2;
    this.#data = segment.u32(L.header.data_offset);
    this.#subscribers = subscribers;
    this.#publishers = publishers;
    this.#maskWords = segment.u32(L.header.mask_words);
    this.#publisher = publisher;
    this.#entry = entry;
    const table = publisher ? publisherTable(subscribers, publishers) : subscriberTable(subscribers);
    this.#entryBase = (table.offset + entry * L.ENTRY_SIZE) >> 2;
    this.#bellNumber = publisher ? subscribers + entry : entry;
    this.#bell = bell;
    this.#bellId = bellId;
    this.#copier = new SlotCopier(segment, this.#data, this.#size, this.#slots);
    this.#guard = new TruncationGuard(segment);
    // A publisher may be held back by a dead subscriber: it looks again every RECOVERY_MS; an idle
    // subscriber every IDLE_RECHECK_MS (to notice a truncation).
    this.#recheck = { stuckMs: L.RECOVERY_MS, idleMs: publisher ? L.RECOVERY_MS : L.IDLE_RECHECK_MS };
    this.#sleeper = channelSleeper(this.#i32, bell, this.watch, L.SPIN, this, this.#guard);
    if (!publisher) this.#join(init.history);
    this.useWaits(
      this.#sleeper.waits({
        spots: [this.#spot(SUB_SLEEPERS, 0), this.#spot(PUB_SLEEPERS, 1)],
        recheck: this.#recheck,
        ready: (side) => (side === 0 ? this.#readable() : this.#writable()),
        recover: (side) => (side === 0 ? this.#recoverAtCursor() : this.#recoverForRoom()),
      }),
    );
  }

  /** The tail as a number (exact below 2^53): the high half is read around the low one until it holds still. */
  #tail(): number {
    const i32 = this.#i32;
    for (;;) {
      const hi = Atomics.load(i32, TAIL_HI) >>> 0;
      const lo = Atomics.load(i32, TAIL_LO) >>> 0;
      if (Atomics.load(i32, TAIL_HI) >>> 0 === hi) return hi * TWO_32 + lo;
    }
  }

  /**
   * A new subscriber: its cursor at the tail less the history it asked for, then `active` (it counts
   * for publishers from then on), then the tail again: what was published from that tail on reaches it
   * in block mode whatever publishers had computed before (docs/pubsub.md, "Joining").
   */
  #join(history: number): void {
    const tail = this.#tail();
    const start = Math.max(0, tail - Math.min(history, this.#capacity));
    this.#cursor = start;
    this.#storeCursor(start);
    Atomics.store(this.#i32, this.#entryBase + ACTIVE, process.pid);
    this.#joinTail = this.#tail();
  }

  /** Publishes the cursor: low half first (a reader that sees a half-updated cursor sees a lower one). */
  #storeCursor(position: number): void {
    const i32 = this.#i32;
    const base = this.#entryBase;
    const hi = Math.floor(position / TWO_32) | 0;
    Atomics.store(i32, base + POS_LO, position | 0);
    if (i32[base + POS_HI] !== hi) Atomics.store(i32, base + POS_HI, hi);
  }

  // --- publishing ------------------------------------------------------------------------------
  // Memory order (docs/pubsub.md, "Memory order"): x86-64 only; plain loads are acquires and plain
  // stores releases, and V8 keeps typed-array accesses in program order. The writing marks are plain
  // stores made before the data (TSO keeps them first), the first slot's publication is a seq_cst store
  // (the StoreLoad fence of the handshake with sleepers, whose masks are read right after it).

  /** Claims up to `n` positions at the tail, copies `n` messages of `source` from message `first`, publishes them. */
  #push(source: Uint8Array, first: number, n: number): number {
    const i32 = this.#i32;
    const mask = this.#mask;
    const seq = this.#seq;
    const slots = this.#slots;
    const intent = this.#entryBase + POS_LO;
    for (;;) {
      const lo = i32[TAIL_LO]! >>> 0;
      const hi = i32[TAIL_HI]!;
      let room = n;
      if (!this.#overwrite) {
        let left = (this.#limitLo - lo) | 0;
        if (left < n) left = this.#refreshLimit(lo);
        room = left < n ? Math.max(0, left) : n;
      }
      // A slot is reusable once the position a lap before is done (published or skipped).
      let k = 0;
      while (k < room) {
        const s = i32[seq + ((lo + k) & mask)]!;
        const before = lo + k - slots;
        if (s !== L.slotWord(before, PUBLISHED) && s !== L.slotWord(before, SKIPPED)) break;
        k++;
      }
      if (k === 0) return 0;
      // The intent covers the claim before the claim exists: whoever sees the claim sees who owns it.
      storeIntent(i32, intent, lo, hi, k);
      const won = claimTail(i32, this.#segment.i64, TAIL_LO, lo, hi, k, slots);
      if (won === 0) continue;
      if (won < 0) {
        i32[intent + 2] = 0;
        continue;
      }
      for (let j = 0; j < k; j++) i32[seq + ((lo + j) & mask)] = L.slotWord(lo + j, WRITING);
      this.#copier.copyIn(source, first, lo & mask, k);
      for (let j = 1; j < k; j++) i32[seq + ((lo + j) & mask)] = L.slotWord(lo + j, PUBLISHED);
      Atomics.store(i32, seq + (lo & mask), L.slotWord(lo, PUBLISHED));
      this.#published += k;
      this.#wake(SUB_SLEEPERS);
      // A publisher lapped while writing is waited for by the next lap's publishers: they sleep too.
      this.#wake(PUB_SLEEPERS);
      return k;
    }
  }

  /**
   * Block policy: how many positions from `tailLo` on the slowest active subscriber allows (capacity less
   * how far it is behind), cached as #limitLo. Cursors are compared by the int32 difference of their low
   * halves with the tail's: an active subscriber is never 2^31 behind in block mode.
   */
  #refreshLimit(tailLo: number): number {
    const i32 = this.#i32;
    let behind = 0;
    for (let e = 0; e < this.#subscribers; e++) {
      const base = (L.REGISTRY_OFFSET >> 2) + e * ENTRY_WORDS;
      if (Atomics.load(i32, base + ACTIVE) === 0) continue;
      const d = (tailLo - Atomics.load(i32, base + POS_LO)) | 0;
      if (d > behind) behind = d;
    }
    const left = this.#capacity - behind;
    this.#limitLo = (tailLo + left) | 0;
    return left;
  }

  protected writeRecords(out: Outgoing): number {
    return this.#push(out.bytes, out.sent, out.count - out.sent);
  }

  #writable(): boolean {
    const i32 = this.#i32;
    const lo = Atomics.load(i32, TAIL_LO) >>> 0;
    if (!this.#overwrite && ((this.#limitLo - lo) | 0) <= 0 && this.#refreshLimit(lo) <= 0) return false;
    const s = Atomics.load(i32, this.#seq + (lo & this.#mask));
    const before = lo - this.#slots;
    return s === L.slotWord(before, PUBLISHED) || s === L.slotWord(before, SKIPPED);
  }

  /**
   * A publisher that cannot claim: the slot at the tail may still hold a claim of a publisher that
   * died (made a skip), or in block mode a subscriber that died may hold it back (retired). Either is
   * checked at most every RECOVERY_MS; 'stuck' makes the sleep that long, so a dead peer never holds a
   * publisher longer.
   */
  #recoverForRoom(): Recovery {
    const i32 = this.#i32;
    const tail = this.#tail();
    const lo = tail >>> 0;
    const s = Atomics.load(i32, this.#seq + (lo & this.#mask));
    const before = tail - this.#slots;
    const previousDone = s === L.slotWord(before, PUBLISHED) || s === L.slotWord(before, SKIPPED);
    let held = !previousDone;
    if (previousDone && !this.#overwrite) held = this.#refreshLimit(lo) <= 0;
    if (!held) return 'idle';
    if (performance.now() < this.#nextRecovery) return 'stuck';
    this.#nextRecovery = performance.now() + L.RECOVERY_MS;
    if (!previousDone) return this.#recoverClaim(before, s);
    // Retire every active subscriber holding the tail back whose process is gone.
    let retired = false;
    for (let e = 0; e < this.#subscribers; e++) {
      const base = (L.REGISTRY_OFFSET >> 2) + e * ENTRY_WORDS;
      const owner = Atomics.load(i32, base + ACTIVE);
      if (owner === 0) continue;
      if (((lo - Atomics.load(i32, base + POS_LO)) | 0) < this.#capacity) continue;
      const start = Number(Atomics.load(this.#segment.i64, (base + (L.entry.start_time >> 2)) >> 1));
      if (alive(owner, start)) continue;
      // The owner's pid as the token: a new owner of the entry sets its own only after its start time.
      if (Atomics.compareExchange(i32, base + ACTIVE, owner, 0) === owner) {
        Atomics.add(this.#segment.i64, L.header.retired >> 3, 1n);
        retired = true;
      }
    }
    if (!retired) return 'stuck';
    this.#wake(PUB_SLEEPERS);
    return 'recovered';
  }

  /**
   * Position `position` was claimed and not published (its slot word `seen` is its writing mark or the
   * lap before). If no live publisher's intent covers it, it becomes a skip: nobody waits for it again.
   */
  #recoverClaim(position: number, seen: number): Recovery {
    if (position < 0) return 'idle';
    const i32 = this.#i32;
    const i64 = this.#segment.i64;
    const target = BigInt(position);
    const first = (L.REGISTRY_OFFSET >> 2) + this.#subscribers * ENTRY_WORDS;
    for (let e = 0; e < this.#publishers; e++) {
      const base = first + e * ENTRY_WORDS;
      const pid = Atomics.load(i32, base + PID);
      const count = Atomics.load(i32, base + COUNT) >>> 0;
      if (pid === 0 || count === 0) continue;
      const from = Atomics.load(i64, (base + POS_LO) >> 1);
      if (target < from || target - from >= BigInt(count)) continue;
      if (alive(pid, Number(Atomics.load(i64, (base + (L.entry.start_time >> 2)) >> 1)))) return 'stuck';
    }
    const index = this.#seq + (position & this.#mask);
    if (Atomics.compareExchange(i32, index, seen, L.slotWord(position >>> 0, SKIPPED)) !== seen) return 'recovered';
    Atomics.add(i64, L.header.recovered >> 3, 1n);
    this.#wake(SUB_SLEEPERS);
    this.#wake(PUB_SLEEPERS);
    return 'recovered';
  }

  // --- subscribing -----------------------------------------------------------------------------

  /**
   * Reads up to `max` messages from the cursor, decoding each in place and checking its slot word
   * again afterwards (a changed word: overwritten while read, never delivered). A slot that holds a
   * later lap means this subscriber was overrun (overwrite policy): it jumps ahead and counts the loss.
   */
  protected readRecords(max: number, into: ReceivedSink<T>): void {
    const i32 = this.#i32;
    const mask = this.#mask;
    const seq = this.#seq;
    const copier = this.#copier;
    const { codec } = this;
    const start = this.#cursor;
    // A subscriber a multiple of 2^30 positions behind would find words that look like its own.
    if (this.#overwrite && this.#tail() - start > this.#slots) this.#resync();
    let c = this.#cursor;
    let delivered = 0;
    while (delivered < max) {
      const lo = c >>> 0;
      const index = lo & mask;
      const s = i32[seq + index]!;
      if (s === L.slotWord(lo, PUBLISHED)) {
        let item: PubSubMessage<T> | Error;
        try {
          item = { value: copier.decodeAt(codec, index), priority: 0, missed: this.#missedSince };
        } catch (error) {
          item = error instanceof Error ? error : new DecodeError('', String(error));
        }
        if (Atomics.load(i32, seq + index) !== s) {
          // Overwritten while it was read: not delivered, counted as missed.
          this.#cursor = c;
          this.#resync();
          c = this.#cursor;
          continue;
        }
        into.push(item);
        this.#missedSince = 0;
        delivered++;
        c++;
      } else if (s === L.slotWord(lo, SKIPPED)) {
        this.#skipped++;
        c++;
      } else {
        const ahead = ((s >>> 2) - (lo & LOW_30)) & LOW_30;
        if (ahead === 0 || ahead >= 1 << 29) break; // being written, or the lap before: not yet
        this.#cursor = c;
        this.#resync();
        c = this.#cursor;
      }
    }
    this.#delivered += delivered;
    if (c === start) return;
    this.#cursor = c;
    if (this.#overwrite) return;
    this.#storeCursor(c);
    this.#wake(PUB_SLEEPERS);
  }

  /**
   * Overrun: the slot at the cursor was reused. Jump to half a lap behind the tail (the oldest
   * messages are the next to go) and count every position passed over, but not those before the
   * subscriber joined (history is what the buffer still holds).
   */
  #resync(): void {
    const tail = this.#tail();
    const target = Math.max(this.#cursor, tail - (this.#slots >>> 1));
    const lost = Math.max(0, target - Math.max(this.#cursor, this.#joinTail));
    this.#missed += lost;
    this.#missedSince += lost;
    this.#cursor = target;
  }

  #readable(): boolean {
    const lo = this.#cursor >>> 0;
    const s = Atomics.load(this.#i32, this.#seq + (lo & this.#mask));
    if (s === L.slotWord(lo, PUBLISHED) || s === L.slotWord(lo, SKIPPED)) return true;
    const ahead = ((s >>> 2) - (lo & LOW_30)) & LOW_30;
    return ahead !== 0 && ahead < 1 << 29;
  }

  /** A subscriber whose next position is claimed and not published: its publisher may have died. */
  #recoverAtCursor(): Recovery {
    const c = this.#cursor;
    const lo = c >>> 0;
    const s = Atomics.load(this.#i32, this.#seq + (lo & this.#mask));
    if (s === L.slotWord(lo, PUBLISHED) || s === L.slotWord(lo, SKIPPED)) return 'idle';
    if (this.#tail() <= c) return 'idle';
    if (performance.now() < this.#nextRecovery) return 'stuck';
    this.#nextRecovery = performance.now() + L.RECOVERY_MS;
    const ahead = ((s >>> 2) - (lo & LOW_30)) & LOW_30;
    if (ahead !== 0 && ahead < 1 << 29) return 'recovered'; // overrun: readRecords jumps
    return this.#recoverClaim(c, s);
  }

  // --- waiting ---------------------------------------------------------------------------------

  /** Rings every sleeper registered in the mask at int32 index `mask`, if any. */
  #wake(mask: number): void {
    const i32 = this.#i32;
    const words = this.#maskWords;
    for (let w = 0; w < words; w++) {
      if (i32[mask + w] !== 0) {
        this.#bell.ring(i32, mask, words);
        return;
      }
    }
  }

  /** This handle's bit in the sleeper mask starting at word `mask` (indexed by doorbell number). */
  #spot(mask: number, side: 0 | 1): SleepSpot {
    return { word: mask + (this.#bellNumber >> 5), bit: 1 << (this.#bellNumber & 31), side };
  }

  // --- lifecycle -------------------------------------------------------------------------------

  #removeBell(): void {
    this.#bell.unlinkOwn();
    if (fstatSync(this.#segment.fd).nlink !== 0) return;
    const count = this.#subscribers + this.#publishers;
    if (this.#guard.truncated) {
      removeBellDirectory(this.#bellId, count, () => true);
      return;
    }
    const subscribers = subscriberTable(this.#subscribers);
    const publishers = publisherTable(this.#subscribers, this.#publishers);
    removeBellDirectory(this.#bellId, count, (bell) =>
      bell < this.#subscribers
        ? entryLive(this.#segment, subscribers, bell)
        : entryLive(this.#segment, publishers, bell - this.#subscribers),
    );
  }

  protected closeResources(): void {
    if (!this.#guard.truncated) {
      const i32 = this.#i32;
      const bit = 1 << (this.#bellNumber & 31);
      this.#removeBell();
      Atomics.and(i32, SUB_SLEEPERS + (this.#bellNumber >> 5), ~bit);
      Atomics.and(i32, PUB_SLEEPERS + (this.#bellNumber >> 5), ~bit);
      if (this.#publisher) {
        Atomics.store(i32, this.#entryBase + COUNT, 0);
      } else {
        Atomics.store(i32, this.#entryBase + ACTIVE, 0);
      }
      Atomics.store(i32, this.#entryBase + PID, 0);
      // Publishers this subscriber held back may go on now.
      if (!this.#publisher) this.#wake(PUB_SLEEPERS);
    } else {
      this.#removeBell();
    }
    this.#bell.close();
    this.#segment.unmap();
  }

  info(): ChannelInfo {
    this.assertOpen();
    const i32 = this.#i32;
    const i64 = this.#segment.i64;
    const tail = this.#tail();
    let active = 0;
    for (let e = 0; e < this.#subscribers; e++) {
      if (Atomics.load(i32, (L.REGISTRY_OFFSET >> 2) + e * ENTRY_WORDS + ACTIVE) !== 0) active++;
    }
    const common = {
      url: this.url,
      transport: this.transport,
      messageSize: this.#size,
      capacity: this.#capacity,
      policy: this.#overwrite ? 'overwrite' : 'block',
      role: this.#publisher ? 'publisher' : 'subscriber',
      handle: this.#entry,
      subscribers: active,
      subscriberTable: this.#subscribers,
      publisherTable: this.#publishers,
      tail,
      recovered: Number(Atomics.load(i64, L.header.recovered >> 3)),
      retired: Number(Atomics.load(i64, L.header.retired >> 3)),
      fingerprint: fingerprintOf(this.#u8),
      creatorPid: this.#segment.view.getInt32(L.header.creator_pid, true),
      slots: this.#slots,
      bytes: this.#segment.length,
    };
    if (this.#publisher) return { ...common, published: this.#published };
    return {
      ...common,
      position: this.#cursor,
      // Messages read ahead into the inbox are past the cursor and not delivered yet.
      pending: Math.max(0, tail - this.#cursor) + this.undelivered,
      delivered: this.#delivered - this.undelivered,
      missed: this.#missed,
      skipped: this.#skipped,
    };
  }
}
