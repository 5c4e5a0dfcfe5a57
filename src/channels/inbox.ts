/**
 * The receive side of the base: what `readRecords` delivered and the caller has not taken yet, in
 * order, and the rule that keeps good messages from being lost behind a bad one. An error (the
 * DecodeError of a consumed bad record, or what `readRecords` threw after appending messages) is
 * delivered in its turn: a batch stops before it, and the next call throws it.
 */
import type { Message } from './contract.js';

/**
 * The most messages one `receiveMany` returns, whatever its `max`: ask again for more. Larger batches
 * made V8 allocate every received message in the old generation (allocation-site pretenuring: at a
 * scavenge, every message decoded since the last one was still alive in the batch being filled), after
 * which each scavenge promoted the whole young generation and a receive cost 4x the CPU. A stream
 * receiver reading a backlog with receiveMany(16384) did so in 4 runs of 4, with 4096 in about half
 * (docs/architecture.md, "How a receive flows"); with 1024, in none.
 */
export const RECEIVE_BATCH_LIMIT = 1024;

/** Something received: a message, or the error standing for a record that cannot be delivered. */
export type Received<T> = Message<T> | Error;

/** Where `readRecords` appends what it received, in order. */
export interface ReceivedSink<T> {
  push(item: Received<T>): void;
}

/** A transport's readRecords: appends up to `max` items to `into` without blocking (may throw). */
export type ReadRecords<T> = (max: number, into: ReceivedSink<T>) => void;

/**
 * The sink of one receiveMany that found the inbox empty: messages go straight into the batch it
 * returns (no second copy through the inbox); from the first error on, items go to the inbox, to be
 * delivered in their turn.
 */
class BatchSink<T> implements ReceivedSink<T> {
  out: Message<T>[] = [];
  #spilled = false;
  readonly #inbox: Inbox<T>;

  constructor(inbox: Inbox<T>) {
    this.#inbox = inbox;
  }

  push(item: Received<T>): void {
    if (!this.#spilled && !(item instanceof Error)) this.out.push(item);
    else {
      this.#spilled = true;
      this.#inbox.push(item);
    }
  }

  reset(): void {
    this.out = [];
    this.#spilled = false;
  }
}

/**
 * Received items not yet delivered, in order. Its slots are reused, not an array emptied and regrown
 * per receive (that cost more than the receive's system call in an A/B profile).
 */
export class Inbox<T> implements ReceivedSink<T> {
  #slots: (Received<T> | undefined)[] = [];
  #head = 0;
  #tail = 0;
  readonly #read: ReadRecords<T>;
  readonly #batch: BatchSink<T>;

  constructor(read: ReadRecords<T>) {
    this.#read = read;
    this.#batch = new BatchSink(this);
  }

  get empty(): boolean {
    return this.#head === this.#tail;
  }

  /** Items received and not yet taken. */
  get size(): number {
    return this.#tail - this.#head;
  }

  push(item: Received<T>): void {
    this.#slots[this.#tail++] = item;
  }

  /** Drops what is waiting (the channel is destroyed). */
  clear(): void {
    this.#slots = [];
    this.#head = 0;
    this.#tail = 0;
  }

  /**
   * The next received message, reading up to `readAhead` records when none is waiting; undefined
   * when the kernel has none either. Throws an error in its turn.
   */
  next(readAhead: number): Message<T> | undefined {
    if (this.#head === this.#tail) {
      this.#fill(readAhead, this);
      if (this.#head === this.#tail) return undefined;
    }
    const item = this.#shift();
    if (item instanceof Error) throw item;
    return item;
  }

  /**
   * Up to `max` messages: the inbox's, topped up from the kernel once when it runs dry (empty: none
   * waiting). An error stops the batch: it is thrown when the batch is empty, else delivered by the
   * next call, so no message before it is lost behind it.
   */
  take(max: number): Message<T>[] {
    if (this.#head === this.#tail) {
      // The usual batch: read straight into the array returned.
      const sink = this.#batch;
      sink.reset();
      this.#fill(max, sink);
      const { out } = sink;
      sink.out = [];
      if (out.length === 0 && this.#head !== this.#tail) throw this.#shift();
      return out;
    }
    const out: Message<T>[] = [];
    for (let topped = false; ; topped = true) {
      while (this.#head !== this.#tail && out.length < max) {
        if (this.#slots[this.#head] instanceof Error) {
          if (out.length > 0) return out;
          throw this.#shift();
        }
        out.push(this.#shift() as Message<T>);
      }
      if (topped || out.length >= max) return out;
      this.#fill(max - out.length, this);
    }
  }

  /** Reads up to `max` records into `into`; an error thrown there is delivered in its turn, after what came before it. */
  #fill(max: number, into: ReceivedSink<T>): void {
    try {
      this.#read(max, into);
    } catch (error) {
      into.push(error as Error);
    }
  }

  /** Takes the first item (the inbox must not be empty). */
  #shift(): Received<T> {
    const item = this.#slots[this.#head] as Received<T>;
    this.#slots[this.#head++] = undefined;
    if (this.#head === this.#tail) {
      this.#head = 0;
      this.#tail = 0;
    }
    return item;
  }
}
