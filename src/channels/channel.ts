/**
 * Channel<T>, the one interface every transport implements, and the machinery they share: encode
 * once before anything is sent, try the non-blocking call, wait for readiness on the event loop,
 * retry; timeouts, AbortSignal, async iteration and an idempotent close.
 */
import type { MessageCodec } from '../codecs/codec.js';
import {
  AbortError,
  ChannelClosedError,
  DecodeError,
  TimeoutError,
  UnsupportedError,
  ValidationError,
} from '../errors.js';
import { deadlineOf, FdWatch, libc, type WaitOptions } from '../native/index.js';
import { type Spin, spinOf, type WaitStrategy } from './wait-strategy.js';

const settled: Promise<void> = Promise.resolve();

/** One received message. */
export interface Message<T> {
  readonly value: T;
  /** The message's priority (0 on transports without priorities). */
  readonly priority: number;
  /** The sender's address, on transports that have one (unix+dgram, udp). */
  readonly from?: string;
}

/** Options of `send`. */
export interface SendOptions {
  /** Integer in [0, the transport's limit); transports without priorities accept only 0. */
  readonly priority?: number;
  readonly signal?: AbortSignal;
  /** Give up with TimeoutError when the channel stays full this long. */
  readonly timeoutMs?: number;
}

/** Options of `receive`. */
export interface ReceiveOptions {
  readonly signal?: AbortSignal;
  /** Give up with TimeoutError when nothing arrives this long. */
  readonly timeoutMs?: number;
}

/** Options of `close`. */
export interface CloseOptions {
  /**
   * How long close() waits for sends already accepted (still waiting for room) to reach the kernel;
   * when it runs out, those sends fail and close() rejects with TimeoutError. Default 10 000 ms;
   * 0 fails them at once (like `destroy()`, but close() reports how many were lost).
   */
  readonly timeoutMs?: number;
}

/** How long close() waits for accepted sends by default. */
export const CLOSE_TIMEOUT_MS = 10_000;

/** Options of the channel's iterator (`channel.iterate(options)`). */
export interface IterateOptions {
  /**
   * What a message that cannot be decoded (a foreign writer, another schema) does to the loop:
   * `'throw'` (the default, as `for await (… of channel)`) ends it with the DecodeError; `'yield'`
   * hands the DecodeError to the loop in the message's place and carries on with the next one.
   */
  readonly decodeErrors?: 'throw' | 'yield';
}

/** What `info()` reports; transports add their own figures. */
export interface ChannelInfo {
  readonly url: string;
  readonly transport: string;
  /** Bytes per message (fixed-size codecs) or the largest message (variable-size codecs). */
  readonly messageSize: number;
  /** How many messages fit before `send` waits, where the transport knows it. */
  readonly capacity?: number;
  /** Messages waiting to be received, where the transport knows it. */
  readonly pending?: number;
  readonly [extra: string]: unknown;
}

/** Credentials of a UNIX-socket peer (SO_PEERCRED), taken when the connection was made. */
export interface PeerCredentials {
  readonly pid: number;
  readonly uid: number;
  readonly gid: number;
}

/** A typed, bidirectional or one-way channel of messages. */
// AsyncDisposable is spelled out as a member, not extended: lib.esnext and @types/node each declare the
// interface, and TypeDoc listed the merged member twice.
export interface Channel<T> extends AsyncIterable<Message<T>> {
  readonly url: string;
  readonly codec: MessageCodec<T>;
  /** True once `close()` or `destroy()` was called: no new operation is accepted. */
  readonly closed: boolean;
  /** The peer's credentials, on connected UNIX sockets (seqpacket, stream, socketpairs). */
  readonly peer?: PeerCredentials | undefined;
  /** Sends one message, waiting while the channel is full (backpressure, never a drop). */
  send(value: T, options?: SendOptions): Promise<void>;
  /** Sends one message if there is room now; false if the channel is full. */
  trySend(value: T, options?: Pick<SendOptions, 'priority'>): boolean;
  /** Sends every value in order, waiting for room as needed; resolves when all are sent. */
  sendMany(values: readonly T[], options?: SendOptions): Promise<void>;
  /** Receives one message, waiting until one arrives. */
  receive(options?: ReceiveOptions): Promise<Message<T>>;
  /** Receives one message if one is waiting now. */
  tryReceive(): Message<T> | undefined;
  /** Waits for at least one message, then returns up to `max` of those waiting. */
  receiveMany(max: number, options?: ReceiveOptions): Promise<Message<T>[]>;
  /**
   * Closes the channel; idempotent (every call returns the same promise). Sends already accepted are
   * delivered first (within `timeoutMs`), then waiting receives end with ChannelClosedError.
   */
  close(options?: CloseOptions): Promise<void>;
  /** Closes at once; idempotent. Pending sends and receives fail with `error` (default ChannelClosedError). */
  destroy(error?: Error): void;
  /** Iterates the received messages; with `decodeErrors: 'yield'`, undecodable ones come as DecodeError items. */
  iterate(options?: IterateOptions & { decodeErrors?: 'throw' }): AsyncIterableIterator<Message<T>>;
  iterate(options: IterateOptions): AsyncIterableIterator<Message<T> | DecodeError>;
  /** Transport figures: capacity, pending messages, sizes. */
  info(): ChannelInfo;
  /** Keeps the process alive while someone waits on this channel (the default). */
  ref(): this;
  /** Lets the process exit even while someone waits on this channel. */
  unref(): this;
  /** `close()`, for `await using channel = await open(...)`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** A datagram socket (`unix+dgram:`, `udp:`): every received Message carries `from`, which `sendTo` replies to. */
export interface DatagramChannel<T> extends Channel<T> {
  /** This socket's own address as a URL, when it has one (bound, or autobound to reply to). */
  readonly localUrl: string | undefined;
  /** Sends one message to `to`, a URL such as a received message's `from`; waits while the peer is full. */
  sendTo(to: string, value: T, options?: SendOptions): Promise<void>;
}

/** What a listener's `info()` reports. */
export interface ListenerInfo {
  readonly url: string;
  readonly transport: string;
  /** Connections handed out by accept(). */
  readonly accepted: number;
  /** Connections closed unread because the peer failed the `allow` check (UNIX sockets). */
  readonly refused: number;
  /** Who is admitted, in words (UNIX sockets): e.g. `uids 1000`. */
  readonly admits?: string;
}

/** A listening socket: an async iterable of accepted connections, each a Channel<T>. */
export interface Listener<T> extends AsyncIterable<Channel<T>> {
  readonly url: string;
  readonly closed: boolean;
  /** Waits for the next connection (peers refused by `allow` are closed and counted, not returned). */
  accept(options?: ReceiveOptions): Promise<Channel<T>>;
  /** Accepted and refused connections, and who is admitted. */
  info(): ListenerInfo;
  close(): Promise<void>;
  /** `close()`, for `await using listener = await listen(...)`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** A send's place in the line of waiting sends; `wake` is set while it waits for its turn. */
interface Ticket {
  wake: (() => void) | undefined;
}

/** One accepted send in flight (see FdChannel.acceptSend). */
export interface InFlightSend {
  /** Marks it delivered or failed; close() stops waiting for it. Idempotent. */
  settle(): void;
  /** The error to reject it with: `cause`, or one naming this send when the channel was destroyed. */
  error(cause: unknown): unknown;
}

/** Options shared by every channel. */
export interface ChannelOptions {
  /** When false, the channel does not keep the process alive while waiting (see `unref()`). */
  readonly ref?: boolean;
  /** How a waiting send or receive waits: `{ spinUs }` spins that long before sleeping (see wait-strategy.ts). */
  readonly wait?: WaitStrategy;
}

/**
 * Base of the descriptor-based transports. A subclass supplies the non-blocking primitives:
 * `writeMessage` (false when the kernel says EAGAIN) and `readMessage` (undefined on EAGAIN; throws
 * DecodeError for a malformed message it has consumed, ChannelClosedError at end of stream).
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
  /** Readiness of the descriptor that send/receive wait on. */
  protected readonly watch: FdWatch;
  /** Reused encode buffer for the fast path (copied only when a send has to wait). */
  readonly #scratch: Uint8Array;
  /** close() or destroy() was called: new operations are refused. */
  #closed = false;
  /** destroy() ran: the descriptor is released and every wait has ended. */
  #destroyed = false;
  #closing: Promise<void> | undefined;
  /** Accepted sends still waiting for room (close() delivers them before it releases anything). */
  #inFlight = 0;
  /** Whether waiting keeps the process alive (see ref()/unref()). */
  #ref = true;
  /** Connected sends waiting for room, in call order (see retryUntilSent). */
  readonly #line: Ticket[] = [];
  /** Called when #inFlight drops to 0 while close() waits for it. */
  #drained: (() => void) | undefined;
  /** Why the channel was destroyed, for the errors of the sends it failed. */
  #destroyReason = '';
  #destroyError: Error | undefined;
  /** An error met by receiveMany after it had taken messages; thrown by the next receive. */
  #deferredError: unknown;
  /** The `wait` option's spin; undefined: waits sleep at once. */
  protected readonly spin: Spin | undefined;

  protected constructor(url: string, codec: MessageCodec<T>, fd: number, options: ChannelOptions = {}) {
    this.url = url;
    this.codec = codec;
    this.spin = spinOf(options.wait);
    this.watch = new FdWatch(fd);
    // Not this.unref(): a subclass's override would run before its own fields exist.
    if (options.ref === false) {
      this.#ref = false;
      this.watch.unref();
    }
    this.#scratch = new Uint8Array(codec.size);
  }

  /** Writes one encoded message without blocking; false when there is no room now. */
  protected abstract writeMessage(bytes: Uint8Array, priority: number): boolean;
  /** Reads one message without blocking; undefined when none is waiting. */
  protected abstract readMessage(): Message<T> | undefined;
  /** Releases the descriptor(s) and anything else the channel holds. Called once. */
  protected abstract closeResources(): void;
  abstract info(): ChannelInfo;

  get closed(): boolean {
    return this.#closed;
  }

  /** Whether destroy() ran (the end of close() included): the descriptor is gone, in-flight sends failed. */
  protected get destroyed(): boolean {
    return this.#destroyed;
  }

  /**
   * Registers one accepted send that has to wait (for room, or for the rest of a stream record):
   * close() waits until every one is settled. Call `settle()` once it is delivered or failed; pass
   * any error that ends it through `error()`, which names this send (its caller's stack) when the
   * channel was destroyed under it rather than the close() or destroy() that did it.
   */
  protected acceptSend(): InFlightSend {
    this.#inFlight += 1;
    let settled = false;
    const site = new Error('send');
    return {
      settle: () => {
        if (settled) return;
        settled = true;
        this.#inFlight -= 1;
        if (this.#inFlight === 0) this.#drained?.();
      },
      error: (cause: unknown) => (this.#destroyed ? this.#undelivered(site, cause) : cause),
    };
  }

  #undelivered(site: Error, cause: unknown): ChannelClosedError {
    const error = new ChannelClosedError(
      `send on ${this.url}: this message was accepted but not delivered: ${this.#destroyReason}`,
      { cause: cause === this.#destroyError ? cause : (this.#destroyError ?? cause) },
    );
    // The stack of the send() call that accepted it (the frames below the message line).
    const frames = site.stack?.split('\n').slice(1).join('\n');
    if (frames) error.stack = `${error.name}: ${error.message}\n${frames}`;
    return error;
  }

  /** Whether accepted sends are waiting in line: a new send or trySend must not overtake them. */
  protected get sendsWaiting(): boolean {
    return this.#line.length > 0;
  }

  /**
   * The waiting half of a send, registered with acceptSend so that close() delivers it first: retries
   * `attempt` until it returns true. Without `pause`, sends wait in one line in call order and only
   * the first in line retries (when the channel turns writable), so none overtakes another even when
   * room appears between two retries. With `pause` (unconnected datagram sockets, whose sends go to
   * different peers), each send retries on its own whenever `pause` ends.
   */
  protected async retryUntilSent(
    attempt: () => boolean,
    wait: WaitOptions,
    pause?: (wait: WaitOptions) => Promise<void>,
  ): Promise<void> {
    const send = this.acceptSend();
    const ticket: Ticket = { wake: undefined };
    if (pause === undefined) this.#line.push(ticket);
    try {
      for (;;) {
        if (pause !== undefined) await pause(wait);
        else if (this.#line[0] === ticket) await this.waitWritable(wait);
        else await this.#turn(ticket, wait);
        if (this.#destroyed) throw this.#destroyError;
        // First in line (or on its own): try; the others wait for their turn.
        if ((pause !== undefined || this.#line[0] === ticket) && attempt()) return;
      }
    } catch (error) {
      throw send.error(error);
    } finally {
      send.settle();
      const index = this.#line.indexOf(ticket);
      if (index >= 0) this.#line.splice(index, 1);
      // The next in line tries at once: there may be room left.
      if (index === 0) this.#line[0]?.wake?.();
    }
  }

  /** Waits until `ticket` is first in line (or the send's deadline or signal ends the wait). */
  #turn(ticket: Ticket, wait: WaitOptions): Promise<void> {
    const { signal, deadline = Number.POSITIVE_INFINITY } = wait;
    const operation = wait.operation ?? `send on ${this.url}`;
    if (signal?.aborted) return Promise.reject(new AbortError(operation, signal.reason));
    const remaining = deadline - performance.now();
    if (remaining <= 0) return Promise.reject(new TimeoutError(operation, wait.timeoutMs ?? 0));
    return new Promise((resolve, reject) => {
      const done = (error?: Error): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        ticket.wake = undefined;
        if (error === undefined) resolve();
        else reject(error);
      };
      const onAbort = (): void => done(new AbortError(operation, signal?.reason));
      const timer = Number.isFinite(remaining)
        ? this.#timer(() => done(new TimeoutError(operation, wait.timeoutMs ?? 0)), Math.ceil(remaining))
        : undefined;
      ticket.wake = () => done();
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Throws ChannelClosedError when the channel was closed. */
  protected assertOpen(): void {
    if (this.#closed) throw new ChannelClosedError(`${this.url} is closed`);
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
    const scratch = this.#scratch;
    const length = this.codec.encodeInto(value, scratch, 0);
    // No subarray for the usual full-size message: one allocation less per send.
    return length === scratch.length ? scratch : scratch.subarray(0, length);
  }

  // With a spin, data or room that turns up within it is taken without a trip through epoll. Only
  // POLLIN/POLLOUT end a spin: a bare POLLHUP (a FIFO with no writer yet) goes to the watch, or a
  // retry that finds nothing would spin again at once and starve the event loop.
  protected waitReadable(options: WaitOptions): Promise<void> {
    if (this.spin?.until(() => (libc.pollNow(this.watch.fd, libc.POLLIN) & libc.POLLIN) !== 0, options)) {
      return settled;
    }
    return this.watch.readable(options);
  }

  protected waitWritable(options: WaitOptions): Promise<void> {
    if (this.spin?.until(() => (libc.pollNow(this.watch.fd, libc.POLLOUT) & libc.POLLOUT) !== 0, options)) {
      return settled;
    }
    return this.watch.writable(options);
  }

  protected waitOptions(operation: string, options: ReceiveOptions): WaitOptions {
    return {
      deadline: deadlineOf(options.timeoutMs),
      timeoutMs: options.timeoutMs,
      signal: options.signal,
      operation: `${operation} on ${this.url}`,
    };
  }

  trySend(value: T, options: Pick<SendOptions, 'priority'> = {}): boolean {
    this.assertOpen();
    const priority = this.checkPriority(options.priority);
    const bytes = this.encodeScratch(value);
    // Sends waiting for room go first: this one would overtake them.
    return this.#line.length === 0 && this.writeMessage(bytes, priority);
  }

  // send and receive are plain functions, not async ones: when the kernel call succeeds at once (the
  // common case on a busy channel) they return a settled promise without the cost of an async frame.
  send(value: T, options: SendOptions = {}): Promise<void> {
    let bytes: Uint8Array;
    let priority: number;
    try {
      this.assertOpen();
      priority = this.checkPriority(options.priority);
      bytes = this.encodeScratch(value);
      if (this.#line.length === 0 && this.writeMessage(bytes, priority)) return settled;
    } catch (error) {
      return Promise.reject(error);
    }
    // Another send may reuse the scratch buffer while this one waits.
    const copy = bytes.slice();
    return this.retryUntilSent(() => this.writeMessage(copy, priority), this.waitOptions('send', options));
  }

  async sendMany(values: readonly T[], options: SendOptions = {}): Promise<void> {
    this.assertOpen();
    const priority = this.checkPriority(options.priority);
    // Validate everything first: a bad value anywhere sends nothing.
    const encoded = values.map((value) => this.codec.encode(value));
    const wait = this.waitOptions('send', options);
    // One place in line for the whole batch: a send called later cannot land in the middle of it.
    let next = 0;
    const attempt = (): boolean => {
      for (; next < encoded.length; next++) if (!this.writeMessage(encoded[next] as Uint8Array, priority)) return false;
      return true;
    };
    if (this.#line.length > 0 || !attempt()) await this.retryUntilSent(attempt, wait);
  }

  /** readMessage, but first the error a batch receive deferred so as not to lose its messages. */
  #read(): Message<T> | undefined {
    const deferred = this.#deferredError;
    if (deferred !== undefined) {
      this.#deferredError = undefined;
      throw deferred;
    }
    return this.readMessage();
  }

  tryReceive(): Message<T> | undefined {
    this.assertOpen();
    return this.#read();
  }

  receive(options: ReceiveOptions = {}): Promise<Message<T>> {
    try {
      this.assertOpen();
      const message = this.#read();
      if (message !== undefined) return Promise.resolve(message);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#receiveWaiting(options);
  }

  async #receiveWaiting(options: ReceiveOptions): Promise<Message<T>> {
    const wait = this.waitOptions('receive', options);
    for (;;) {
      await this.waitReadable(wait);
      this.assertOpen();
      const next = this.#read();
      if (next !== undefined) return next;
    }
  }

  async receiveMany(max: number, options: ReceiveOptions = {}): Promise<Message<T>[]> {
    if (!Number.isInteger(max) || max < 1) throw new ValidationError('max', 'an integer >= 1', String(max));
    const first = await this.receive(options);
    const batch = [first];
    while (batch.length < max) {
      let next: Message<T> | undefined;
      try {
        next = this.readMessage();
      } catch (error) {
        // The messages already taken from the kernel are delivered now, the error on the next call.
        this.#deferredError = error;
        break;
      }
      if (next === undefined) break;
      batch.push(next);
    }
    return batch;
  }

  // A hand-written iterator rather than an async generator: a generator costs several promise
  // turns per message, this one none beyond receive()'s when a message is waiting.
  [Symbol.asyncIterator](): AsyncIterableIterator<Message<T>> {
    return this.iterate();
  }

  iterate(options?: IterateOptions & { decodeErrors?: 'throw' }): AsyncIterableIterator<Message<T>>;
  iterate(options: IterateOptions): AsyncIterableIterator<Message<T> | DecodeError>;
  iterate(options: IterateOptions = {}): AsyncIterableIterator<Message<T> | DecodeError> {
    const yieldErrors = options.decodeErrors === 'yield';
    if (options.decodeErrors !== undefined && !yieldErrors && options.decodeErrors !== 'throw') {
      throw new ValidationError('decodeErrors', "'throw' or 'yield'", String(options.decodeErrors));
    }
    let yielded: unknown;
    const end = (error: unknown): IteratorResult<Message<T> | DecodeError> => {
      // End of stream, or the channel closed under the loop, ends the iteration.
      if (error instanceof ChannelClosedError) return { value: undefined, done: true };
      // The bad message was consumed: the loop gets the error and goes on. The same error twice is a
      // channel that cannot go on (a stream whose framing is lost): that one ends the loop.
      if (yieldErrors && error instanceof DecodeError && error !== yielded) {
        yielded = error;
        return { value: error, done: false };
      }
      throw error;
    };
    const iterator: AsyncIterableIterator<Message<T> | DecodeError> = {
      next: () => {
        if (this.#closed) return Promise.resolve({ value: undefined, done: true });
        let message: Message<T> | undefined;
        try {
          message = this.#read();
        } catch (error) {
          try {
            return Promise.resolve(end(error));
          } catch (thrown) {
            return Promise.reject(thrown);
          }
        }
        if (message !== undefined) return Promise.resolve({ value: message, done: false });
        return this.#receiveWaiting({}).then((value) => ({ value, done: false }), end);
      },
      return: () => Promise.resolve({ value: undefined, done: true }),
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  close(options: CloseOptions = {}): Promise<void> {
    if (this.#closing === undefined) {
      const timeoutMs = options.timeoutMs ?? CLOSE_TIMEOUT_MS;
      if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0)) {
        const expected = 'milliseconds >= 0 (Infinity waits as long as it takes)';
        return Promise.reject(new ValidationError('timeoutMs', expected, String(timeoutMs)));
      }
      this.#closing = this.#close(timeoutMs);
    }
    return this.#closing;
  }

  async #close(timeoutMs: number): Promise<void> {
    this.#closed = true;
    if (this.#inFlight > 0 && !this.#destroyed && !(await this.#drain(timeoutMs))) {
      const lost = this.#inFlight;
      const error = new TimeoutError(`close of ${this.url}`, timeoutMs);
      error.message +=
        `: ${lost} accepted message${lost === 1 ? ' was' : 's were'} still waiting for room and failed; ` +
        'the peer stopped receiving. Give close() a longer timeoutMs, or await the sends before closing';
      this.#destroy(error, `close() timed out after ${timeoutMs} ms with the channel still full`);
      throw error;
    }
    this.#destroy(new ChannelClosedError(`${this.url} was closed`), 'the channel was closed');
  }

  /** Resolves true once every accepted send is settled, false when `timeoutMs` ran out first. */
  #drain(timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = Number.isFinite(timeoutMs) ? this.#timer(() => resolve(false), timeoutMs) : undefined;
      this.#drained = () => {
        clearTimeout(timer);
        resolve(true);
      };
    });
  }

  destroy(error?: Error): void {
    this.#closed = true;
    const reason = error === undefined ? 'the channel was destroyed' : `the channel was destroyed (${error.message})`;
    this.#destroy(error ?? new ChannelClosedError(`${this.url} was destroyed`), reason);
  }

  #destroy(error: Error, reason: string): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#destroyError = error;
    this.#destroyReason = reason;
    // Stop polling before the descriptor is closed: libuv must not watch a recycled fd number.
    this.watch.close(error);
    for (const ticket of this.#line) ticket.wake?.();
    this.closeResources();
    // A close() still draining has nothing left to wait for.
    this.#drained?.();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  ref(): this {
    this.#ref = true;
    this.watch.ref();
    return this;
  }

  unref(): this {
    this.#ref = false;
    this.watch.unref();
    return this;
  }

  /** A timer of this channel's waits: it keeps the process alive only while the channel is ref()ed. */
  #timer(callback: () => void, ms: number): NodeJS.Timeout {
    const timer = setTimeout(callback, ms);
    if (!this.#ref) timer.unref();
    return timer;
  }
}
