/**
 * The ring's channel: the queue algorithm of docs/ring-protocol.md ("Sending", "Receiving", "Waiting
 * and waking", "Dead peers") over a mapped segment, read and written in place through Atomics.
 * Steady state makes no system call: a doorbell datagram is sent only to peers that registered as
 * sleeping.
 */
import { fstatSync } from 'node:fs';
import type { MessageCodec } from '../../codecs/codec.js';
import { ChannelClosedError, TimeoutError, ValidationError } from '../../errors.js';
import type { WaitOptions } from '../../native/index.js';
import { type ChannelInfo, FdChannel, type Message, type ReceiveOptions, type SendOptions } from '../channel.js';
import { Doorbell, removeBellDirectory } from './doorbell.js';
import { ringLayout } from './layout.js';
import { alive } from './liveness.js';
import { handleLive, registerHandle, ringFingerprint, type Segment } from './segment.js';

const {
  OFF_MSG_SIZE,
  OFF_SLOTS,
  OFF_CREATOR_PID,
  OFF_RING_ID,
  OFF_SEQ,
  OFF_DATA,
  OFF_CAPACITY,
  OFF_TAIL,
  OFF_HEAD,
  OFF_CONSUMERS_WAITING,
  OFF_PRODUCERS_WAITING,
  OFF_RECOVERED,
  OFF_ABANDONED,
  OFF_REGISTRY,
  HANDLES,
  ENTRY_SIZE,
  E_PID,
  E_START_TIME,
  E_PROD_POS,
  E_PROD_COUNT,
  E_CONS_POS,
  E_CONS_COUNT,
  SKIP,
  SPIN,
  RECOVERY_MS,
  PRODUCER_RECHECK_MS,
  CONSUMER_RECHECK_MS,
} = ringLayout;

/** Largest encode buffer a channel keeps between sendMany calls (bytes). */
const BATCH_KEPT = 1 << 20;
const LOW_32 = 0xffffffffn;
/** Int32 indexes of the low and high halves of the 64-bit tail and head (little-endian). */
const TAIL_LO = OFF_TAIL >> 2;
const TAIL_HI = TAIL_LO + 1;
const HEAD_LO = OFF_HEAD >> 2;
const HEAD_HI = HEAD_LO + 1;
/** Words of a sleeper mask (one bit per handle). */
const MASK_WORDS = HANDLES / 32;

/** A claimed message that failed to decode, waiting for its turn to be thrown. */
class Undecodable {
  constructor(readonly error: unknown) {}
}

/** A channel on a shared-memory ring. */
export class RingChannel<T> extends FdChannel<T> {
  readonly transport = 'shm';
  readonly #segment: Segment;
  readonly #u8: Uint8Array;
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
  readonly #bell: Doorbell;
  readonly #ringId: bigint;
  #batch = new Uint8Array(0);
  /** Messages claimed after one that failed to decode, and that failure, in ring order: served first. */
  readonly #stash: (Message<T> | Undecodable)[] = [];
  /** Pending waits of this channel for a message ([0]) and for room ([1]). */
  readonly #sleepers = [0, 0];
  #nextRecovery = 0;
  /** Set when the segment was found truncated: the mapping must not be touched again. */
  #truncated = false;

  constructor(url: string, codec: MessageCodec<T>, segment: Segment, ref: boolean) {
    const ringId = segment.view.getBigUint64(OFF_RING_ID, true);
    let bell: Doorbell;
    let entry: number;
    try {
      bell = new Doorbell(ringId, url);
    } catch (error) {
      segment.unmap();
      throw error;
    }
    try {
      entry = registerHandle(segment, bell, url);
    } catch (error) {
      bell.close();
      segment.unmap();
      throw error;
    }
    super(url, codec, bell.fd, { ref });
    this.#segment = segment;
    this.#u8 = segment.u8;
    this.#i32 = segment.i32;
    this.#i64 = segment.i64;
    this.#size = segment.u32(OFF_MSG_SIZE);
    this.#slots = segment.u32(OFF_SLOTS);
    this.#capacity = segment.u32(OFF_CAPACITY);
    this.#mask = this.#slots - 1;
    this.#seq = segment.u32(OFF_SEQ) >> 2;
    this.#data = segment.u32(OFF_DATA);
    this.#ringId = ringId;
    this.#bell = bell;
    this.#entry = entry;
    this.#entryBase = (OFF_REGISTRY + entry * ENTRY_SIZE) >> 2;
  }

  // --- producing -------------------------------------------------------------------------------
  /**
   * Claims up to `n` free slots at the tail, copies `n` messages from `source` (starting at message
   * `first`) and publishes them. Returns how many were sent; 0 when the ring is full.
   */
  #push(source: Uint8Array, first: number, n: number): number {
    const i32 = this.#i32;
    const mask = this.#mask;
    const seq = this.#seq;
    const intent = this.#entryBase + (E_PROD_POS >> 2);
    let claimed = false;
    for (;;) {
      const tail = Atomics.load(this.#i64, OFF_TAIL >> 3);
      // Positions are 64-bit; slot words and intents need the two halves, read as int32 words after
      // the atomic load (no BigInt arithmetic per batch). Halves of a later tail than `tail` make the
      // CAS below fail (tail only grows), so a claim is only ever made with the halves of `tail`.
      const lo = i32[TAIL_LO]! >>> 0;
      const hi = i32[TAIL_HI]!;
      const room = this.#capacity < this.#slots ? Math.min(n, this.#room(lo)) : n;
      let k = 0;
      // The first seq is read atomically; the others were written before a store we have seen
      // (docs/ring-protocol.md, "Batches").
      if (room > 0 && Atomics.load(i32, seq + (lo & mask)) === (lo | 0)) {
        k = 1;
        while (k < room && i32[seq + ((lo + k) & mask)] === ((lo + k) | 0)) k++;
      }
      if (k === 0) {
        if (claimed) Atomics.store(i32, intent + 2, 0);
        return 0;
      }
      // The intent (position, count) is visible before the claim: a recoverer that sees the claim sees it.
      i32[intent] = lo | 0;
      i32[intent + 1] = hi;
      i32[intent + 2] = k;
      claimed = true;
      if (Atomics.compareExchange(this.#i64, OFF_TAIL >> 3, tail, tail + BigInt(k)) !== tail) continue;
      const size = this.#size;
      const index = lo & mask;
      const run = Math.min(k, this.#slots - index);
      const start = first * size;
      this.#u8.set(source.subarray(start, start + run * size), this.#data + index * size);
      if (run < k) this.#u8.set(source.subarray(start + run * size, start + k * size), this.#data);
      for (let j = 1; j < k; j++) i32[seq + ((lo + j) & mask)] = (lo + j + 1) | 0;
      // One seq_cst store publishes the whole batch.
      Atomics.store(i32, seq + index, (lo + 1) | 0);
      this.#ringBells(OFF_CONSUMERS_WAITING);
      return k;
    }
  }

  protected writeMessage(bytes: Uint8Array): boolean {
    return this.#push(bytes, 0, 1) === 1;
  }

  override async sendMany(values: readonly T[], options: SendOptions = {}): Promise<void> {
    this.assertOpen();
    this.checkPriority(options.priority);
    const size = this.#size;
    const total = values.length * size;
    // Encode everything first (a bad value anywhere sends nothing) into a reused buffer (up to
    // 1 MiB is kept); it is copied when this call has to wait, as another sendMany could reuse it.
    if (this.#batch.length < total && total <= BATCH_KEPT) this.#batch = new Uint8Array(total);
    let buffer = total <= this.#batch.length ? this.#batch : new Uint8Array(total);
    const { codec } = this;
    for (let i = 0; i < values.length; i++) codec.encodeInto(values[i] as T, buffer, i * size);
    let sent = this.sendsWaiting ? 0 : this.#push(buffer, 0, values.length);
    if (sent === values.length) return;
    if (buffer === this.#batch) buffer = buffer.slice(0, total);
    const rest = (): boolean => {
      sent += this.#push(buffer, sent, values.length - sent);
      return sent === values.length;
    };
    await this.retryUntilSent(rest, this.waitOptions('send', options));
  }

  // --- consuming -------------------------------------------------------------------------------
  /** Claims up to `max` published slots at the head, decodes them and releases them. */
  #pop(max: number, out: Message<T>[]): Message<T>[] {
    const i32 = this.#i32;
    const mask = this.#mask;
    const seq = this.#seq;
    const intent = this.#entryBase + (E_CONS_POS >> 2);
    let claimed = false;
    for (;;) {
      const head = Atomics.load(this.#i64, OFF_HEAD >> 3);
      // As in #push: the halves of a later head only lead to a failing CAS.
      const lo = i32[HEAD_LO]! >>> 0;
      const hi = i32[HEAD_HI]!;
      let k = 0;
      let s = Atomics.load(i32, seq + (lo & mask));
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
        if (claimed) Atomics.store(i32, intent + 2, 0);
        return out;
      }
      i32[intent] = lo | 0;
      i32[intent + 1] = hi;
      i32[intent + 2] = k;
      claimed = true;
      if (Atomics.compareExchange(this.#i64, OFF_HEAD >> 3, head, head + BigInt(k)) !== head) continue;
      const { codec } = this;
      const size = this.#size;
      const data = this.#data;
      const u8 = this.#u8;
      const slots = this.#slots;
      const stash = this.#stash;
      for (let j = 0; j < k; j++) {
        const index = (lo + j) & mask;
        if (i32[seq + index] !== ((lo + j + 1) | 0)) continue; // a skip left by recovery
        try {
          const message = { value: codec.decode(u8, data + index * size), priority: 0 };
          if (stash.length === 0) out.push(message);
          else stash.push(message);
        } catch (error) {
          // Consumed either way: the failure is thrown after the messages before it, and before those after it.
          stash.push(new Undecodable(error));
        }
      }
      for (let j = 1; j < k; j++) i32[seq + ((lo + j) & mask)] = (lo + j + slots) | 0;
      Atomics.store(i32, seq + (lo & mask), (lo + slots) | 0);
      this.#ringBells(OFF_PRODUCERS_WAITING);
      if (out.length > 0 || stash.length > 0) return out;
    }
  }

  /** Up to `max` messages: stashed ones first (throwing a stashed decode failure in its turn), then the ring's. */
  #take(max: number): Message<T>[] {
    const stash = this.#stash;
    if (stash.length === 0) {
      const out = this.#pop(max, []);
      if (out.length > 0 || stash.length === 0) return out;
    }
    const first = stash[0];
    if (first instanceof Undecodable) {
      stash.shift();
      throw first.error;
    }
    let n = 0;
    while (n < max && n < stash.length && !(stash[n] instanceof Undecodable)) n++;
    return stash.splice(0, n) as Message<T>[];
  }

  protected readMessage(): Message<T> | undefined {
    return this.#take(1)[0];
  }

  override async receiveMany(max: number, options: ReceiveOptions = {}): Promise<Message<T>[]> {
    if (!Number.isInteger(max) || max < 1) throw new ValidationError('max', 'an integer >= 1', String(max));
    this.assertOpen();
    const batch = this.#take(max);
    if (batch.length > 0) return batch;
    const wait = this.waitOptions('receive', options);
    for (;;) {
      await this.waitReadable(wait);
      this.assertOpen();
      const next = this.#take(max);
      if (next.length > 0) return next;
    }
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
    const used = (tailLo - Atomics.load(this.#i32, HEAD_LO)) | 0;
    return used >= this.#capacity ? 0 : this.#capacity - Math.max(0, used);
  }

  /** Sends a doorbell datagram to every sleeper registered in the mask at `offset`, clearing it. */
  #ringBells(offset: number): void {
    this.#bell.ring(this.#i32, offset >> 2, MASK_WORDS);
  }

  /** Whether `alive` holds for a registry entry whose intent (at `field`) covers `position`. */
  #liveIntentCovers(field: number, position: bigint): boolean {
    for (let e = 0; e < HANDLES; e++) {
      const base = OFF_REGISTRY + e * ENTRY_SIZE;
      const pid = Atomics.load(this.#i32, (base + E_PID) >> 2);
      if (pid === 0) continue;
      const count = Atomics.load(this.#i32, (base + field + 8) >> 2);
      const start = Atomics.load(this.#i64, (base + field) >> 3);
      if (count === 0 || position < start || position - start >= BigInt(count)) continue;
      if (alive(pid, Number(Atomics.load(this.#i64, (base + E_START_TIME) >> 3)))) return true;
    }
    return false;
  }

  /**
   * The head slot was claimed by a producer that has not published it. Returns 'recovered' when its
   * owner was dead and the slot became a skip, 'stuck' while its owner lives, 'idle' otherwise.
   */
  #recoverProducer(): 'recovered' | 'stuck' | 'idle' {
    const position = Atomics.load(this.#i64, OFF_HEAD >> 3);
    const head = Number(position & LOW_32);
    const index = this.#seq + (head & this.#mask);
    if (Atomics.load(this.#i32, index) !== (head | 0)) return 'idle';
    if (Atomics.load(this.#i64, OFF_TAIL >> 3) <= position) return 'idle';
    if (performance.now() < this.#nextRecovery) return 'stuck';
    this.#nextRecovery = performance.now() + RECOVERY_MS;
    if (this.#liveIntentCovers(E_PROD_POS, position)) return 'stuck';
    if (Atomics.compareExchange(this.#i32, index, head | 0, (head + 1) ^ SKIP) !== (head | 0)) return 'recovered';
    Atomics.add(this.#i64, OFF_RECOVERED >> 3, 1n);
    this.#ringBells(OFF_CONSUMERS_WAITING);
    return 'recovered';
  }

  /** The tail slot still holds a message claimed by a consumer that has not released it. */
  #recoverConsumer(): 'recovered' | 'stuck' | 'idle' {
    const position = Atomics.load(this.#i64, OFF_TAIL >> 3);
    if (position < BigInt(this.#slots)) return 'idle';
    const held = position - BigInt(this.#slots);
    const tail = Number(position & LOW_32);
    const previous = Number(held & LOW_32);
    const index = this.#seq + (tail & this.#mask);
    const s = Atomics.load(this.#i32, index);
    if (s !== ((previous + 1) | 0) && s !== ((previous + 1) ^ SKIP)) return 'idle';
    if (Atomics.load(this.#i64, OFF_HEAD >> 3) <= held) return 'idle';
    if (performance.now() < this.#nextRecovery) return 'stuck';
    this.#nextRecovery = performance.now() + RECOVERY_MS;
    if (this.#liveIntentCovers(E_CONS_POS, held)) return 'stuck';
    if (Atomics.compareExchange(this.#i32, index, s, tail | 0) !== s) return 'recovered';
    Atomics.add(this.#i64, OFF_ABANDONED >> 3, 1n);
    this.#ringBells(OFF_PRODUCERS_WAITING);
    return 'recovered';
  }

  protected override waitReadable(options: WaitOptions): Promise<void> {
    return this.#sleep(
      OFF_CONSUMERS_WAITING,
      () => this.#readable(),
      () => this.#recoverProducer(),
      CONSUMER_RECHECK_MS,
      options,
    );
  }

  protected override waitWritable(options: WaitOptions): Promise<void> {
    const recover = (): 'recovered' | 'stuck' | 'idle' => this.#recoverConsumer();
    return this.#sleep(OFF_PRODUCERS_WAITING, () => this.#writable(), recover, PRODUCER_RECHECK_MS, options);
  }

  /**
   * Spins briefly, then registers in the sleeper mask and waits on the doorbell. `idleRecheck`
   * (0: none) bounds the wait when nothing looks stuck; a stuck slot is rechecked every RECOVERY_MS.
   */
  async #sleep(
    mask: number,
    ready: () => boolean,
    recover: () => 'recovered' | 'stuck' | 'idle',
    idleRecheck: number,
    options: WaitOptions,
  ): Promise<void> {
    for (let i = 0; i < SPIN; i++) if (ready()) return;
    const state = recover();
    if (state === 'recovered') return;
    const word = (mask >> 2) + (this.#entry >> 5);
    const bit = 1 << (this.#entry & 31);
    const side = mask === OFF_CONSUMERS_WAITING ? 0 : 1;
    // Drain stale rings so the wait below ends only for a new one, but only when no other wait of
    // this channel is pending: a ring meant for it may not have reached its poll callback yet.
    if (!this.watch.waiting) {
      this.#bell.drain();
    }
    this.#sleepers[side]! += 1;
    Atomics.or(this.#i32, word, bit);
    try {
      // Dekker with the waker: it stores (publish/release) then loads the mask; we set the bit and
      // look at the ring again, both seq_cst, so one of us sees the other.
      if (ready()) return;
      const recheck = state === 'stuck' ? RECOVERY_MS : idleRecheck;
      const deadline = options.deadline ?? Number.POSITIVE_INFINITY;
      const internal = recheck > 0 && performance.now() + recheck < deadline;
      try {
        await this.watch.readable(internal ? { ...options, deadline: performance.now() + recheck } : options);
      } catch (error) {
        // A timeout (the caller's or ours) looks at the segment too before anything touches it.
        this.#assertIntact();
        if (!(internal && error instanceof TimeoutError)) throw error;
      }
      this.#assertIntact();
    } finally {
      // The bit is shared by this channel's waits on one side: the last one out clears it. After
      // close() the mapping is gone: touch it only while open.
      this.#sleepers[side]! -= 1;
      if (this.#sleepers[side] === 0 && !this.closed) Atomics.and(this.#i32, word, ~bit);
    }
  }

  /**
   * Fails, and closes the channel without touching the mapping again, when the segment's file was
   * truncated below the mapping: an access past its new end would kill the process with SIGBUS.
   * Called on every wake-up and timeout, before the ring is looked at (docs/ring-protocol.md, "Trust model").
   */
  #assertIntact(): void {
    if (this.closed) return;
    const size = this.#segment.shrunk();
    if (size === undefined) return;
    this.#truncated = true;
    const error = new ChannelClosedError(
      `${this.url}: the segment was truncated to ${size} bytes under this channel (the ring is ` +
        `${this.#segment.length}); whoever can write /dev/shm${this.url.slice(4)} did it. The channel is closed ` +
        'without touching the ring again; recreate the ring (unlink, then open with create)',
    );
    // destroy, not close: a graceful close would keep pending sends retrying against the shrunk mapping.
    this.destroy(error);
    throw error;
  }

  // --- lifecycle -------------------------------------------------------------------------------
  /** Removes this handle's doorbell file, and the directory once the ring is unlinked and this was the last. */
  #removeBell(): void {
    this.#bell.unlinkOwn();
    if (fstatSync(this.#segment.fd).nlink !== 0) return;
    // Unlinked ring: the sockets of dead handles go too (nobody will take their entries again), and
    // the directory with them unless a live handle remains. A truncated registry cannot be read.
    if (this.#truncated) removeBellDirectory(this.#ringId, HANDLES, () => true);
    else removeBellDirectory(this.#ringId, HANDLES, (e) => handleLive(this.#segment, e));
  }

  protected closeResources(): void {
    if (this.#truncated) {
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
    Atomics.and(i32, (OFF_CONSUMERS_WAITING >> 2) + (this.#entry >> 5), ~bit);
    Atomics.and(i32, (OFF_PRODUCERS_WAITING >> 2) + (this.#entry >> 5), ~bit);
    Atomics.store(i32, this.#entryBase + (E_PROD_COUNT >> 2), 0);
    Atomics.store(i32, this.#entryBase + (E_CONS_COUNT >> 2), 0);
    Atomics.store(i32, this.#entryBase + (E_PID >> 2), 0);
    this.#bell.close();
    this.#segment.unmap();
  }

  info(): ChannelInfo {
    this.assertOpen();
    const segment = this.#segment;
    const head = Atomics.load(this.#i64, OFF_HEAD >> 3);
    const tail = Atomics.load(this.#i64, OFF_TAIL >> 3);
    return {
      url: this.url,
      transport: this.transport,
      messageSize: this.#size,
      capacity: this.#capacity,
      pending: Number(tail > head ? tail - head : 0n),
      fingerprint: ringFingerprint(segment),
      creatorPid: segment.view.getInt32(OFF_CREATOR_PID, true),
      handle: this.#entry,
      recovered: Number(Atomics.load(this.#i64, OFF_RECOVERED >> 3)),
      abandoned: Number(Atomics.load(this.#i64, OFF_ABANDONED >> 3)),
      slots: this.#slots,
      bytes: segment.length,
    };
  }
}
