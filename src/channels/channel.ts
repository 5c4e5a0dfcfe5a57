/**
 * The base every kernel transport extends (FdChannel): it owns every public method of Channel<T>
 * once and asks a transport only for a few non-blocking primitives. The parts with their own reason
 * to change live beside it: the public contract (contract.ts), encoded records (outgoing.ts), the
 * send queue (send-queue.ts), accepted sends in flight (in-flight.ts), the receive inbox (inbox.ts),
 * iteration (iterate.ts) and how a channel waits (wait.ts, wait-strategy.ts).
 */
import type { MessageCodec } from '../codecs/codec.js';
import { ChannelClosedError, type DecodeError, TimeoutError, UnsupportedError, ValidationError } from '../errors.js';
import { deadlineOf, FdWatch, libc } from '../native/index.js';
import type {
  Channel,
  ChannelInfo,
  CloseOptions,
  IterateOptions,
  Message,
  ReceiveOptions,
  SendOptions,
} from './contract.js';
import { InFlight, type InFlightSend } from './in-flight.js';
import { Inbox, RECEIVE_BATCH_LIMIT, type ReceivedSink } from './inbox.js';
import { iterateChannel } from './iterate.js';
import { checkTimeout } from './options.js';
import { type Outgoing, OutgoingBuffers, type RecordEncoder, recordAt, writeAll } from './outgoing.js';
import { SendQueue } from './send-queue.js';
import type { DescriptorWait, WaitOptions, WaitStrategy } from './wait.js';
import { type Spin, spinOf, type WaitOption } from './wait-strategy.js';

// What transports and the rest of src/channels import from here: the base's whole vocabulary in one place.
export type {
  Channel,
  ChannelInfo,
  ChannelOptions,
  CloseOptions,
  DatagramChannel,
  IterateOptions,
  Listener,
  ListenerInfo,
  Message,
  PeerCredentials,
  ReceiveOptions,
  SendOptions,
} from './contract.js';
export type { InFlightSend } from './in-flight.js';
export type { Received, ReceivedSink } from './inbox.js';
export { type Outgoing, recordAt, recordEnd, recordStart } from './outgoing.js';
export type { DescriptorWait, WaitOptions, WaitStrategy } from './wait.js';

const settled: Promise<void> = Promise.resolve();

/** How long close() waits for accepted sends by default. */
export const CLOSE_TIMEOUT_MS = 10_000;

/** Which way a channel may be used; the other way is refused before any system call. */
export type Access = 'send' | 'receive' | 'both';

/** How the base is set up by a transport. */
export interface ChannelInit {
  readonly ref?: boolean | undefined;
  /** One-way channels (a FIFO end, a queue opened for one direction): the other direction is refused. */
  readonly access?: Access | undefined;
  /** The `wait` option (validated here; the entry points check it before creating anything). */
  readonly wait?: WaitOption | undefined;
}

/**
 * Base of every kernel transport: owns the public methods, and asks a transport only for
 * primitives:
 * - `writeRecords(out)`: write records of `out` from `out.sent` on without blocking, and say how
 *   many were wholly taken (0: no room now); a byte stream may also advance `out.offset` into a record;
 * - `readRecords(max, into)`: append up to `max` received messages to `into`, each undecodable
 *   record as its DecodeError in its place; append nothing when none is waiting; throw at end of
 *   stream (ChannelClosedError) or on a failure;
 * - `closeResources()` and `info()`; optionally `encodeRecord` (the framing of variable-size
 *   records), `recordBytes`, a `WaitStrategy` (useWaits) and `readAhead`.
 * The base owns encode-once, validation, the send queue, the receive inbox, waits, timeouts,
 * AbortSignals, iteration and close.
 */
export abstract class FdChannel<T> implements Channel<T> {
  readonly url: string;
  readonly codec: MessageCodec<T>;
  /** Name of the transport in messages, e.g. `mq` or `unix+dgram`. */
  abstract readonly transport: string;
  /** Exclusive upper bound of priorities; 1 means the transport has none. */
  protected readonly priorityLimit: number = 1;
  /** Where `priorityLimit` comes from, for error messages. */
  protected readonly priorityLimitSource: string = '';
  /** Records one `receive` may take from the kernel at once (the rest wait in the channel's inbox). */
  protected readonly readAhead: number = 1;
  /** Readiness of the descriptor that send/receive wait on (the default wait strategy). */
  protected readonly watch: DescriptorWait;
  // The native handle itself stays private: its type must not reach the published declarations.
  readonly #watch: FdWatch;
  readonly #access: Access;
  #waits: WaitStrategy;
  /** The `wait` option's spin; undefined: waits sleep at once. */
  readonly #spin: Spin | undefined;
  readonly #probe: (direction: 'readable' | 'writable') => boolean;
  /** Reused encode buffer for the fast path (copied only when a send has to wait). */
  #scratch: Uint8Array | undefined;
  readonly #buffers = new OutgoingBuffers<T>();
  /** The transport's writeRecords, bound once (handed to writeAll on every send). */
  readonly #write: (out: Outgoing) => number;
  /** The transport's encodeRecord, bound once for the batch encoder (a closure per sendMany cost ~6% of a batch's encode). */
  readonly #encoder: RecordEncoder<T>;
  /** close() or destroy() was called: new operations are refused. */
  #closed = false;
  /** destroy() ran: the descriptor is released and every wait has ended. */
  #destroyed = false;
  #closing: Promise<void> | undefined;
  /** Whether waiting keeps the process alive (see ref()/unref()). */
  #ref = true;
  /** Accepted sends still waiting for room (close() delivers them before it releases anything). */
  readonly #inFlight: InFlight;
  /** Sends waiting for room, in call order. */
  readonly #queue: SendQueue;
  /** Received and not yet delivered, in order (an Error is thrown in its turn). */
  readonly #inbox: Inbox<T>;

  protected constructor(url: string, codec: MessageCodec<T>, fd: number, init: ChannelInit = {}) {
    this.url = url;
    this.codec = codec;
    this.#watch = new FdWatch(fd);
    this.watch = this.#watch;
    this.#waits = this.#watch;
    this.#spin = spinOf(init.wait);
    this.#probe = (direction) => this.#waits.ready?.(direction) ?? this.#fdReady(direction);
    this.#access = init.access ?? 'both';
    this.#write = (out) => this.writeRecords(out);
    this.#encoder = { encodeRecord: (value, into, at) => this.encodeRecord(value, into, at) };
    this.#inFlight = new InFlight(url);
    this.#queue = new SendQueue({
      url,
      writeNow: (out) => writeAll(out, this.#write),
      waitWritable: (wait) => this.waitFor('writable', wait),
      accept: () => this.#inFlight.accept(),
      failure: () =>
        this.#destroyed ? (this.#inFlight.failure ?? new ChannelClosedError(`${url} was closed`)) : undefined,
      timer: (callback, ms) => this.#timer(callback, ms),
    });
    this.#inbox = new Inbox((max, into) => this.readRecords(max, into));
    // Not this.unref(): a subclass's override would run before its own fields exist.
    if (init.ref === false) {
      this.#ref = false;
      this.#watch.unref();
    }
  }

  /** Writes records of `out` from `out.sent` on without blocking; returns how many it wholly took (0: no room now). */
  protected abstract writeRecords(out: Outgoing): number;
  /** Appends up to `max` received messages (or the DecodeError of a consumed bad record) to `into`, without blocking. */
  protected abstract readRecords(max: number, into: ReceivedSink<T>): void;
  /** Releases the descriptor(s) and anything else the channel holds. Called once. */
  protected abstract closeResources(): void;
  abstract info(): ChannelInfo;

  /** Bytes one record takes on the wire at most (the codec's size, plus any framing). */
  protected get recordBytes(): number {
    return this.codec.size;
  }

  /**
   * Encodes `value` as one variable-size record at `at` in `into` (framing included); returns its
   * length. A fixed-size record is the codec's bytes as they are on every transport (a C struct on
   * the wire): the base encodes those with the codec itself and never calls this.
   */
  protected encodeRecord(value: T, into: Uint8Array, at: number): number {
    return this.codec.encodeInto(value, into, at);
  }

  /** Replaces the descriptor's readiness as the way this channel waits (see WaitStrategy). */
  protected useWaits(strategy: WaitStrategy): void {
    this.#waits = strategy;
    if (!this.#ref) strategy.unref?.();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Whether destroy() ran (the end of close() included): the descriptor is gone, in-flight sends failed. */
  protected get destroyed(): boolean {
    return this.#destroyed;
  }

  /**
   * Registers one accepted send that has to wait: close() waits until every one is settled. Call
   * `settle()` once it is delivered or failed; pass any error that ends it through `error()`, which
   * names this send (its caller's stack) when the channel was destroyed under it rather than the
   * close() or destroy() that did it.
   */
  protected acceptSend(): InFlightSend {
    return this.#inFlight.accept();
  }

  /** Items readRecords delivered that the caller has not taken yet (read ahead, or behind an error). */
  protected get undelivered(): number {
    return this.#inbox.size;
  }

  /** Sends queued and not yet wholly written. */
  protected get queuedSends(): number {
    return this.#queue.length;
  }

  /**
   * A send outside the queue (unconnected datagram sockets, whose sends go to different peers):
   * registered with acceptSend so that close() delivers it first, it retries `attempt` whenever
   * `pause` ends, on its own, until `attempt` returns true.
   */
  protected async retryAlone(
    attempt: () => boolean,
    wait: WaitOptions,
    pause: (wait: WaitOptions) => Promise<void>,
  ): Promise<void> {
    const send = this.acceptSend();
    try {
      for (;;) {
        await pause(wait);
        if (this.#destroyed) throw this.#inFlight.failure;
        if (attempt()) return;
      }
    } catch (error) {
      throw send.error(error);
    } finally {
      send.settle();
    }
  }

  /** Throws ChannelClosedError when the channel was closed. */
  protected assertOpen(): void {
    if (this.#closed) throw new ChannelClosedError(`${this.url} is closed`);
  }

  /**
   * For `info()`: assertOpen (info after close is a ChannelClosedError), then the fields every channel
   * reports (URL, transport, the codec's size) and the transport's own, which `more` reads only then.
   */
  protected describe(more: () => Readonly<Record<string, unknown>>): ChannelInfo {
    this.assertOpen();
    return { url: this.url, transport: this.transport, messageSize: this.codec.size, ...more() };
  }

  /** assertOpen, and UnsupportedError for the direction a one-way channel was not opened for. */
  #assertCan(direction: 'send' | 'receive'): void {
    if (this.#closed) throw new ChannelClosedError(`${this.url} is closed`);
    if (this.#access !== 'both' && this.#access !== direction) {
      throw new UnsupportedError(
        `${this.url} was opened with access '${this.#access}': it cannot ${direction}; ` +
          `open it (or another end) with access '${direction}'`,
      );
    }
  }

  /** Validates a priority against the transport's limit; returns it. */
  protected checkPriority(priority: number | undefined): number {
    if (priority === undefined || priority === 0) return 0;
    if (this.priorityLimit <= 1) {
      throw new UnsupportedError(
        `${this.transport} channels carry no priorities: priority must be 0 (got ${String(priority)})`,
      );
    }
    if (typeof priority !== 'number' || !Number.isInteger(priority) || priority < 0 || priority >= this.priorityLimit) {
      const source = this.priorityLimitSource ? `, ${this.priorityLimitSource}` : '';
      throw new ValidationError('priority', `an integer in [0, ${this.priorityLimit})${source}`, String(priority));
    }
    return priority;
  }

  /** Encodes `value` into the scratch buffer; the view is valid until the next encode. */
  protected encodeScratch(value: T): Uint8Array {
    this.#scratch ??= new Uint8Array(this.recordBytes);
    const scratch = this.#scratch;
    const length = this.codec.fixedSize
      ? this.codec.encodeInto(value, scratch, 0)
      : this.encodeRecord(value, scratch, 0);
    // No subarray for the usual full-size message: one allocation less per send.
    return length === scratch.length ? scratch : scratch.subarray(0, length);
  }

  /**
   * The one wait of every send and receive (and of a transport's connect): readable or writable,
   * through the channel's WaitStrategy, with the caller's deadline and signal.
   */
  protected waitFor(direction: 'readable' | 'writable', options: WaitOptions): Promise<void> {
    // The `wait` option's spin: what turns up within it is taken without a trip through the event loop.
    if (this.#spin?.until(() => this.#probe(direction), options)) return settled;
    return direction === 'readable' ? this.#waits.readable(options) : this.#waits.writable(options);
  }

  /**
   * Whether the descriptor is readable (writable) now. Only POLLIN/POLLOUT count: a bare POLLHUP (a
   * FIFO with no writer yet) goes to the sleeping wait, or a retry that finds nothing would spin
   * again at once and starve the event loop.
   */
  #fdReady(direction: 'readable' | 'writable'): boolean {
    const event = direction === 'readable' ? libc.POLLIN : libc.POLLOUT;
    return (libc.pollNow(this.#watch.fd, event) & event) !== 0;
  }

  protected waitOptions(operation: string, options: ReceiveOptions): WaitOptions {
    return {
      deadline: deadlineOf(options.timeoutMs),
      timeoutMs: options.timeoutMs,
      signal: options.signal,
      operation: `${operation} on ${this.url}`,
    };
  }

  // --- sending: encode once, write now, or queue what is left (send-queue.ts) ------------------

  trySend(value: T, options: Pick<SendOptions, 'priority'> = {}): boolean {
    this.#assertCan('send');
    const priority = this.checkPriority(options.priority);
    const bytes = this.encodeScratch(value);
    // Sends waiting for room go first: this one would overtake them.
    if (this.#queue.length > 0 && !this.#queue.flush()) return false;
    const one = this.#buffers.single(bytes, priority);
    if (writeAll(one, this.#write)) return true;
    if (one.offset === 0) return false;
    // The kernel took part of the record: it is committed, and its tail goes out before anything else.
    this.#queue.enqueue(one, {}).catch(() => {});
    return true;
  }

  // send and receive are plain functions, not async ones: when the kernel call succeeds at once (the
  // common case on a busy channel) they return a settled promise without the cost of an async frame.
  send(value: T, options: SendOptions = {}): Promise<void> {
    let one: Outgoing;
    try {
      this.#assertCan('send');
      checkTimeout(options.timeoutMs);
      const priority = this.checkPriority(options.priority);
      one = this.#buffers.single(this.encodeScratch(value), priority);
      if (this.#queue.length === 0 && (writeAll(one, this.#write) || this.#retrySoon(one, options))) return settled;
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#queue.enqueue(one, options);
  }

  /**
   * The first try of a send found no room: when the wait strategy sees room come within a brief look
   * (`roomSoon`), one more try before the send is queued. Not for a send that may not wait (timeout 0,
   * an aborted signal): it fails on no room, as it always has.
   */
  #retrySoon(out: Outgoing, options: SendOptions): boolean {
    const roomSoon = this.#waits.roomSoon;
    if (roomSoon === undefined || options.timeoutMs === 0 || options.signal?.aborted === true) return false;
    return roomSoon.call(this.#waits) && writeAll(out, this.#write);
  }

  sendMany(values: readonly T[], options: SendOptions = {}): Promise<void> {
    try {
      this.#assertCan('send');
      checkTimeout(options.timeoutMs);
      const priority = this.checkPriority(options.priority);
      if (values.length === 0) return settled;
      // Encode (and so validate) the whole batch first: a bad value anywhere sends nothing. It is one
      // queue entry, so no later send lands inside it.
      const out = this.codec.fixedSize
        ? this.#buffers.fixed(values, priority, this.codec)
        : this.#buffers.framed(values, priority, this.recordBytes, this.#encoder);
      if (this.#queue.length === 0 && (writeAll(out, this.#write) || this.#retrySoon(out, options))) return settled;
      // The queue keeps the batch's bytes, not a copy; the buffer comes back when they are written.
      this.#buffers.handOver(out);
      const queued = this.#queue.enqueue(out, options, true);
      const giveBack = (): void => this.#buffers.giveBack(out.bytes);
      queued.then(giveBack, giveBack);
      return queued;
    } catch (error) {
      return Promise.reject(error);
    } finally {
      this.#buffers.trim();
    }
  }

  // --- receiving: the inbox first, then readRecords, then a wait (inbox.ts) ---------------------

  tryReceive(): Message<T> | undefined {
    this.#assertCan('receive');
    return this.#inbox.next(this.readAhead);
  }

  receive(options: ReceiveOptions = {}): Promise<Message<T>> {
    try {
      this.#assertCan('receive');
      checkTimeout(options.timeoutMs);
      const message = this.#inbox.next(this.readAhead);
      if (message !== undefined) return Promise.resolve(message);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#receiveWaiting(options);
  }

  async #receiveWaiting(options: ReceiveOptions): Promise<Message<T>> {
    const wait = this.waitOptions('receive', options);
    for (;;) {
      await this.waitFor('readable', wait);
      this.assertOpen();
      const next = this.#inbox.next(this.readAhead);
      if (next !== undefined) return next;
    }
  }

  async receiveMany(max: number, options: ReceiveOptions = {}): Promise<Message<T>[]> {
    if (!Number.isInteger(max) || max < 1) throw new ValidationError('max', 'an integer >= 1', String(max));
    this.#assertCan('receive');
    checkTimeout(options.timeoutMs);
    let wait: WaitOptions | undefined;
    for (;;) {
      const batch = this.#inbox.take(Math.min(max, RECEIVE_BATCH_LIMIT));
      if (batch.length > 0) return batch;
      wait ??= this.waitOptions('receiveMany', options);
      await this.waitFor('readable', wait);
      this.assertOpen();
    }
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Message<T>> {
    return this.iterate();
  }

  iterate(options?: IterateOptions & { decodeErrors?: 'throw' }): AsyncIterableIterator<Message<T>>;
  iterate(options: IterateOptions): AsyncIterableIterator<Message<T> | DecodeError>;
  iterate(options: IterateOptions = {}): AsyncIterableIterator<Message<T> | DecodeError> {
    return iterateChannel(
      {
        closed: () => this.#closed,
        next: () => {
          if (this.#access === 'send') this.#assertCan('receive');
          return this.#inbox.next(this.readAhead);
        },
        wait: () => this.#receiveWaiting({}),
      },
      options,
    );
  }

  // --- closing ---------------------------------------------------------------------------------

  close(options: CloseOptions = {}): Promise<void> {
    if (this.#closing === undefined) {
      let timeoutMs: number;
      try {
        timeoutMs = checkTimeout(options.timeoutMs) ?? CLOSE_TIMEOUT_MS;
      } catch (error) {
        return Promise.reject(error);
      }
      this.#closing = this.#close(timeoutMs);
    }
    return this.#closing;
  }

  async #close(timeoutMs: number): Promise<void> {
    this.#closed = true;
    const inFlight = this.#inFlight;
    if (inFlight.count > 0 && !this.#destroyed && !(await inFlight.drain(timeoutMs, (f, ms) => this.#timer(f, ms)))) {
      const lost = inFlight.count;
      const error = new TimeoutError(`close of ${this.url}`, timeoutMs);
      error.message +=
        `: ${lost} accepted message${lost === 1 ? ' was' : 's were'} still waiting for room and failed; ` +
        'the peer stopped receiving. Give close() a longer timeoutMs, or await the sends before closing';
      this.#destroy(error, `close() timed out after ${timeoutMs} ms with the channel still full`);
      throw error;
    }
    this.#destroy(new ChannelClosedError(`${this.url} was closed`), 'the channel was closed');
  }

  destroy(error?: Error): void {
    this.#closed = true;
    const reason = error === undefined ? 'the channel was destroyed' : `the channel was destroyed (${error.message})`;
    this.#destroy(error ?? new ChannelClosedError(`${this.url} was destroyed`), reason);
  }

  #destroy(error: Error, reason: string): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    // From here on, a failed send's error names the send and this reason.
    this.#inFlight.destroyed(error, reason);
    // Stop polling before the descriptor is closed: libuv must not watch a recycled fd number.
    this.#watch.close(error);
    if (this.#waits !== this.#watch) this.#waits.close?.(error);
    // close() got here once the queue drained; destroy() (or close()'s timeout) fails what is left.
    this.#queue.fail(error);
    this.#inbox.clear();
    this.closeResources();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  ref(): this {
    this.#ref = true;
    this.#watch.ref();
    if (this.#waits !== this.#watch) this.#waits.ref?.();
    return this;
  }

  unref(): this {
    this.#ref = false;
    this.#watch.unref();
    if (this.#waits !== this.#watch) this.#waits.unref?.();
    return this;
  }

  /** A timer of this channel's waits: it keeps the process alive only while the channel is ref()ed. */
  #timer(callback: () => void, ms: number): NodeJS.Timeout {
    const timer = setTimeout(callback, ms);
    if (!this.#ref) timer.unref();
    return timer;
  }
}

/**
 * Base of the transports whose kernel calls carry one record each (mq_send/mq_receive,
 * msgsnd/msgrcv): they supply `writeMessage` and `readMessage`, this makes the batch primitives.
 */
export abstract class RecordChannel<T> extends FdChannel<T> {
  /** Writes one encoded message without blocking; false when there is no room now. */
  protected abstract writeMessage(bytes: Uint8Array, priority: number): boolean;
  /** Reads one message without blocking; undefined when none is waiting (throws DecodeError for a consumed bad one). */
  protected abstract readMessage(): Message<T> | undefined;

  protected writeRecords(out: Outgoing): number {
    let n = out.sent;
    while (n < out.count && this.writeMessage(recordAt(out, n), out.priority)) n++;
    return n - out.sent;
  }

  protected readRecords(max: number, into: ReceivedSink<T>): void {
    for (let n = 0; n < max; n++) {
      const message = this.readMessage();
      if (message === undefined) return;
      into.push(message);
    }
  }
}
