/**
 * Channel<T>, the one interface every transport implements, and the machinery they share: encode
 * once before anything is sent, try the non-blocking call, wait for readiness on the event loop,
 * retry; timeouts, AbortSignal, async iteration and an idempotent close.
 */
import type { MessageCodec } from '../codecs/codec.js';
import { ChannelClosedError, UnsupportedError, ValidationError } from '../errors.js';
import { deadlineOf, FdWatch, type WaitOptions } from '../native/index.js';

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
  /** True once `close()` was called. */
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
  /** Closes the channel; idempotent. Pending waits reject with ChannelClosedError. */
  close(): Promise<void>;
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

/** A listening socket: an async iterable of accepted connections, each a Channel<T>. */
export interface Listener<T> extends AsyncIterable<Channel<T>> {
  readonly url: string;
  readonly closed: boolean;
  /** Waits for the next connection. */
  accept(options?: ReceiveOptions): Promise<Channel<T>>;
  close(): Promise<void>;
  /** `close()`, for `await using listener = await listen(...)`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** Options shared by every channel. */
export interface ChannelOptions {
  /** When false, the channel does not keep the process alive while waiting (see `unref()`). */
  readonly ref?: boolean;
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
  #closed = false;
  /** An error met by receiveMany after it had taken messages; thrown by the next receive. */
  #deferredError: unknown;

  protected constructor(url: string, codec: MessageCodec<T>, fd: number, options: ChannelOptions = {}) {
    this.url = url;
    this.codec = codec;
    this.watch = new FdWatch(fd);
    if (options.ref === false) this.watch.unref();
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

  protected waitReadable(options: WaitOptions): Promise<void> {
    return this.watch.readable(options);
  }

  protected waitWritable(options: WaitOptions): Promise<void> {
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
    return this.writeMessage(this.encodeScratch(value), priority);
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
      if (this.writeMessage(bytes, priority)) return settled;
    } catch (error) {
      return Promise.reject(error);
    }
    // Another send may reuse the scratch buffer while this one waits.
    return this.#sendWaiting(bytes.slice(), priority, this.waitOptions('send', options));
  }

  async #sendWaiting(bytes: Uint8Array, priority: number, wait: WaitOptions): Promise<void> {
    for (;;) {
      await this.waitWritable(wait);
      this.assertOpen();
      if (this.writeMessage(bytes, priority)) return;
    }
  }

  async sendMany(values: readonly T[], options: SendOptions = {}): Promise<void> {
    this.assertOpen();
    const priority = this.checkPriority(options.priority);
    // Validate everything first: a bad value anywhere sends nothing.
    const encoded = values.map((value) => this.codec.encode(value));
    const wait = this.waitOptions('send', options);
    for (const bytes of encoded) {
      if (!this.writeMessage(bytes, priority)) await this.#sendWaiting(bytes, priority, wait);
    }
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
  [Symbol.asyncIterator](): AsyncIterator<Message<T>, undefined> {
    const done = (error: unknown): IteratorResult<Message<T>, undefined> => {
      if (error instanceof ChannelClosedError) return { value: undefined, done: true };
      throw error;
    };
    return {
      next: () => {
        if (this.#closed) return Promise.resolve({ value: undefined, done: true });
        let message: Message<T> | undefined;
        try {
          message = this.#read();
        } catch (error) {
          // End of stream found without waiting (EOF already queued) ends the iteration too.
          return error instanceof ChannelClosedError ? Promise.resolve(done(error)) : Promise.reject(error);
        }
        if (message !== undefined) return Promise.resolve({ value: message, done: false });
        return this.#receiveWaiting({}).then((value) => ({ value, done: false }), done);
      },
      return: () => Promise.resolve({ value: undefined, done: true }),
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Stop polling before the descriptor is closed: libuv must not watch a recycled fd number.
    this.watch.close(new ChannelClosedError(`${this.url} was closed`));
    this.closeResources();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  ref(): this {
    this.watch.ref();
    return this;
  }

  unref(): this {
    this.watch.unref();
    return this;
  }
}
