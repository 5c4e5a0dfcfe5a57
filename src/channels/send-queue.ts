/**
 * The one send queue of a channel: sends that found no room wait here in call order, each with its
 * own timeout and signal, and one pump writes them as soon as there is room, small queued sends of
 * one priority gathered into one write (bytes per system call is what wins). A send part of whose
 * record is in the kernel (a byte stream) is committed: the rest must follow, whatever its timeout.
 */
import { AbortError, TimeoutError } from '../errors.js';
import { deadlineOf } from '../native/index.js';
import type { InFlightSend } from './in-flight.js';
import { type Outgoing, recordEnd, recordStart } from './outgoing.js';
import type { WaitOptions } from './wait.js';

/** The wait of a send without deadline or signal, and of a committed one. */
const UNTIMED: WaitOptions = {};

/** Queued records are gathered into writes of up to this many bytes. */
const COALESCE = 64 * 1024;

/**
 * A queued send and its promise: the Outgoing itself when the queue was given its bytes (records and
 * counts as they were: a transport that staged some of them for the kernel finds them again), else a
 * copy of what is left of it.
 */
class Pending implements Outgoing {
  readonly bytes: Uint8Array;
  readonly count: number;
  readonly ends: readonly number[] | undefined;
  readonly stride: number;
  readonly priority: number;
  sent = 0;
  offset: number;
  /** Some of a record is in the kernel (a byte stream): it can no longer be withdrawn. */
  committed: boolean;
  timer: NodeJS.Timeout | undefined;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  /**
   * The send's deadline and signal, which the pump waits with while this send is first in line (one
   * object for all its waits: a strategy that paces itself per wait, System V's, sees one long wait).
   */
  wait: WaitOptions = UNTIMED;
  readonly #accepted: InFlightSend;
  readonly #resolve: () => void;
  readonly #reject: (error: unknown) => void;

  constructor(
    out: Outgoing,
    owned: boolean,
    accepted: InFlightSend,
    resolve: () => void,
    reject: (error: unknown) => void,
  ) {
    const start = recordStart(out, out.sent);
    this.stride = out.stride;
    this.priority = out.priority;
    this.committed = out.offset > start;
    if (owned) {
      this.bytes = out.bytes;
      this.count = out.count;
      this.ends = out.ends;
      this.sent = out.sent;
      this.offset = out.offset;
    } else {
      this.bytes = out.bytes.slice(start);
      this.count = out.count - out.sent;
      this.ends = out.ends?.slice(out.sent).map((end) => end - start);
      this.offset = out.offset - start;
    }
    this.#accepted = accepted;
    this.#resolve = resolve;
    this.#reject = reject;
  }

  /** Settles it: delivered (no error) or failed; disarms its timeout and abort listener. */
  finish(error?: unknown): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.onAbort !== undefined) this.signal?.removeEventListener('abort', this.onAbort);
    this.#accepted.settle();
    if (error === undefined) this.#resolve();
    else this.#reject(this.#accepted.error(error));
  }
}

/** What the queue needs of its channel. */
export interface SendQueueHost {
  readonly url: string;
  /** Writes what the kernel takes of `out` now (see writeAll); true when all of it is written. */
  writeNow(out: Outgoing): boolean;
  /** The channel's one wait for room (FdChannel.waitFor). */
  waitWritable(wait: WaitOptions): Promise<void>;
  /** Registers an accepted send, which close() delivers first (FdChannel.acceptSend). */
  accept(): InFlightSend;
  /** The error of a destroyed channel; undefined while it lives. */
  failure(): Error | undefined;
  /** A timer that keeps the process alive only while the channel is ref()ed. */
  timer(callback: () => void, ms: number): NodeJS.Timeout;
}

/** Timeout and signal of a queued send. */
export interface QueuedSendOptions {
  readonly signal?: AbortSignal | undefined;
  readonly timeoutMs?: number | undefined;
}

/** Sends waiting for room, in call order, and the pump that writes them. */
export class SendQueue {
  readonly #host: SendQueueHost;
  /** #queue[#head ...] is the line. */
  #queue: Pending[] = [];
  #head = 0;
  #pumping = false;
  #gatherBuffer: Uint8Array | undefined;

  constructor(host: SendQueueHost) {
    this.#host = host;
  }

  /** Sends queued and not yet wholly written. */
  get length(): number {
    return this.#queue.length - this.#head;
  }

  /**
   * Queues what the kernel did not take of `out` until the pump writes it: a copy, as its buffer is
   * reused by the next send, unless `owned` (the caller hands its bytes over and leaves them alone
   * until the promise settles). Until part of a record is in the kernel, its timeout or signal
   * withdraws what is left of it.
   */
  enqueue(out: Outgoing, options: QueuedSendOptions, owned = false): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      // close() delivers it before releasing the descriptor; destroy() fails it with an error naming it.
      const item = new Pending(out, owned, this.#host.accept(), resolve, reject);
      const { signal, timeoutMs } = options;
      if (!item.committed && (signal !== undefined || timeoutMs !== undefined)) {
        const operation = `send on ${this.#host.url}`;
        if (signal?.aborted) return item.finish(new AbortError(operation, signal.reason));
        item.wait = { deadline: deadlineOf(timeoutMs), timeoutMs, signal, operation };
        // The pump's wait ends when the first in line times out; these end the sends behind it.
        if (timeoutMs !== undefined) {
          const timedOut = (): void => this.#withdraw(item, new TimeoutError(operation, timeoutMs));
          item.timer = this.#host.timer(timedOut, timeoutMs);
        }
        if (signal !== undefined) {
          item.signal = signal;
          item.onAbort = () => this.#withdraw(item, new AbortError(operation, signal.reason));
          signal.addEventListener('abort', item.onAbort, { once: true });
        }
      }
      this.#queue.push(item);
      this.#startPump();
    });
  }

  /** Writes queued records until the queue is empty (true) or the kernel is full (false). */
  flush(): boolean {
    while (this.length > 0) {
      const first = this.#queue[this.#head] as Pending;
      const next = this.#queue[this.#head + 1];
      if (next === undefined || next.priority !== first.priority || first.bytes.length - first.offset >= COALESCE) {
        const done = this.#host.writeNow(first);
        if (first.offset > recordStart(first, first.sent)) first.committed = true;
        if (!done) return false;
        this.#settleHead();
        continue;
      }
      const gathered = this.#gather();
      const done = this.#host.writeNow(gathered);
      this.#spread(done ? gathered.bytes.length : gathered.offset);
      if (!done) return false;
    }
    return true;
  }

  /** Fails every queued send with `error` (the channel is destroyed, or the pump failed). */
  fail(error: unknown): void {
    const items = this.#queue.slice(this.#head);
    this.#queue = [];
    this.#head = 0;
    for (const item of items) item.finish(error);
  }

  /** A queued send's timeout or signal: what is left of it leaves the queue, unless part of a record is in the kernel. */
  #withdraw(item: Pending, error: Error): void {
    if (item.committed) return; // the rest must follow
    const index = this.#queue.indexOf(item, this.#head);
    if (index < 0) return;
    this.#queue.splice(index, 1);
    if (item.sent > 0) {
      error.message += `: ${item.sent} of the ${item.count} messages of this call were sent, the rest withdrawn`;
    }
    item.finish(error);
  }

  /**
   * Copies what is left of several queued sends of one priority (whole records, up to COALESCE
   * bytes) into one Outgoing, for one write: bytes per system call is what wins.
   */
  #gather(): Outgoing {
    this.#gatherBuffer ??= new Uint8Array(COALESCE);
    const target = this.#gatherBuffer;
    const ends: number[] = [];
    const priority = (this.#queue[this.#head] as Pending).priority;
    let length = 0;
    for (let i = this.#head; i < this.#queue.length; i++) {
      const item = this.#queue[i] as Pending;
      if (item.priority !== priority) break;
      let r = item.sent;
      let from = item.offset;
      // Whole records that fit (the head's first one may be partly written already).
      while (r < item.count && length + recordEnd(item, r) - from <= COALESCE) {
        const end = recordEnd(item, r);
        target.set(item.bytes.subarray(from, end), length);
        length += end - from;
        ends.push(length);
        from = end;
        r++;
      }
      if (r < item.count) break;
    }
    return { bytes: target.subarray(0, length), count: ends.length, ends, stride: 0, priority, sent: 0, offset: 0 };
  }

  /** Marks `written` bytes of a gathered write off the head of the queue, settling every send now wholly written. */
  #spread(written: number): void {
    let left = written;
    while (left > 0 && this.length > 0) {
      const item = this.#queue[this.#head] as Pending;
      const take = Math.min(left, item.bytes.length - item.offset);
      item.offset += take;
      left -= take;
      while (item.sent < item.count && recordEnd(item, item.sent) <= item.offset) item.sent++;
      if (item.sent < item.count) {
        if (item.offset > recordStart(item, item.sent)) item.committed = true;
        return;
      }
      this.#settleHead();
    }
  }

  /** The head of the queue was wholly written: resolve it and drop it. */
  #settleHead(): void {
    const item = this.#queue[this.#head] as Pending;
    this.#queue[this.#head] = undefined as unknown as Pending;
    this.#head += 1;
    item.finish();
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      // A queue that never drains (steady concurrent sends) drops its written head now and then.
      this.#queue.splice(0, this.#head);
      this.#head = 0;
    }
  }

  #startPump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    void this.#pump();
  }

  /**
   * Waits for room and flushes, until the queue is empty; a failure fails every queued send. It
   * waits with the deadline and signal of the send first in line (as that send would on its own):
   * when they end the wait, that send is withdrawn and the next one's turn begins.
   */
  async #pump(): Promise<void> {
    try {
      while (this.length > 0) {
        const first = this.#queue[this.#head] as Pending;
        try {
          await this.#host.waitWritable(first.committed ? UNTIMED : first.wait);
        } catch (error) {
          if (!(error instanceof TimeoutError || error instanceof AbortError)) throw error;
          if (this.#queue[this.#head] === first) this.#withdraw(first, error);
        }
        const failure = this.#host.failure();
        if (failure !== undefined) throw failure;
        this.flush();
      }
    } catch (error) {
      this.fail(error);
    } finally {
      this.#pumping = false;
    }
  }
}
