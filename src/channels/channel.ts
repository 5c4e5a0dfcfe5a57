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
import { deadlineOf, FdWatch, type WaitOptions } from '../native/index.js';
import { checkTimeout } from './options.js';

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
}

/**
 * Encoded records on their way to the kernel: the record of one `send`, or the batch of one
 * `sendMany`, as the transport frames them on the wire (see `encodeRecord`), back to back.
 */
export interface Outgoing {
  bytes: Uint8Array;
  /** Records in `bytes`. */
  count: number;
  /** Where record i ends in `bytes`; undefined when every record is `stride` bytes. */
  ends: readonly number[] | undefined;
  stride: number;
  priority: number;
  /** Records wholly written so far: the base advances it by what `writeRecords` returns. */
  sent: number;
  /**
   * Bytes of `bytes` written so far. A transport that may take part of a record (a byte stream)
   * advances it past the start of record `sent`; the base keeps it at least at that start.
   */
  offset: number;
}

/** Where record `index` of `out` ends in its bytes. */
export function recordEnd(out: Outgoing, index: number): number {
  return out.ends === undefined ? (index + 1) * out.stride : (out.ends[index] as number);
}

/** Where record `index` of `out` starts in its bytes. */
export function recordStart(out: Outgoing, index: number): number {
  return index === 0 ? 0 : recordEnd(out, index - 1);
}

/** Record `index` of `out` (the bytes themselves, without a copy, when it is the only one). */
export function recordAt(out: Outgoing, index: number): Uint8Array {
  const end = recordEnd(out, index);
  if (index === 0 && end === out.bytes.length) return out.bytes;
  return out.bytes.subarray(recordStart(out, index), end);
}

/** Where something received goes: a message, or the error standing for a record that cannot be delivered. */
export type Received<T> = Message<T> | Error;

/**
 * How a channel waits until it may read or write again. The default is the descriptor's readiness
 * on the event loop (FdWatch); a transport whose readiness is not its descriptor's (the ring's
 * memory, a System V queue) plugs in its own.
 */
export interface WaitStrategy {
  readable(options: WaitOptions): Promise<void>;
  writable(options: WaitOptions): Promise<void>;
  /** Waiting keeps the process alive again (ref) or no longer (unref). */
  ref?(): void;
  unref?(): void;
  /** Ends every wait with `error`; called once, when the channel is destroyed. */
  close?(error: Error): void;
}

/** Which way a channel may be used; the other way is refused before any system call. */
export type Access = 'send' | 'receive' | 'both';

/** How the base is set up by a transport. */
export interface ChannelInit {
  readonly ref?: boolean | undefined;
  /** One-way channels (a FIFO end, a queue opened for one direction): the other direction is refused. */
  readonly access?: Access | undefined;
}

/** A queued send: what is left of its Outgoing (a copy), and its promise. */
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
  readonly #accepted: InFlightSend;
  readonly #resolve: () => void;
  readonly #reject: (error: unknown) => void;

  constructor(out: Outgoing, accepted: InFlightSend, resolve: () => void, reject: (error: unknown) => void) {
    const start = recordStart(out, out.sent);
    this.bytes = out.bytes.slice(start);
    this.count = out.count - out.sent;
    this.ends = out.ends?.slice(out.sent).map((end) => end - start);
    this.stride = out.stride;
    this.priority = out.priority;
    this.offset = out.offset - start;
    this.committed = out.offset > start;
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

/** Queued records are gathered into writes of up to this many bytes. */
const COALESCE = 64 * 1024;
/** A batch buffer larger than this is dropped after use rather than kept for the next sendMany. */
const MAX_KEPT_BATCH = 1024 * 1024;

/**
 * Base of every kernel transport: owns the public methods, and asks a transport only for
 * primitives:
 * - `writeRecords(out)`: write records of `out` from `out.sent` on without blocking, and say how
 *   many were wholly taken (0: no room now); a byte stream may also advance `out.offset` into a record;
 * - `readRecords(max, into)`: append up to `max` received messages to `into`, each undecodable
 *   record as its DecodeError in its place; append nothing when none is waiting; throw at end of
 *   stream (ChannelClosedError) or on a failure;
 * - `closeResources()` and `info()`; optionally `encodeRecord` (framing), `recordBytes`, a
 *   `WaitStrategy` (useWaits) and `readAhead`.
 * The base owns encode-once, validation, the send queue (sends that found no room, in call order,
 * with their timeouts and signals, written as soon as there is room, small ones coalesced), the
 * receive inbox (read-ahead, and an error delivered after the good messages before it), waits,
 * timeouts, AbortSignals, iteration and close.
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
  protected readonly watch: FdWatch;
  readonly #access: Access;
  #waits: WaitStrategy;
  /** Reused encode buffer for the fast path (copied only when a send has to wait). */
  #scratch: Uint8Array | undefined;
  /** The Outgoing of the fast path, reused by every send. */
  readonly #one: Outgoing = {
    bytes: new Uint8Array(0),
    count: 1,
    ends: undefined,
    stride: 0,
    priority: 0,
    sent: 0,
    offset: 0,
  };
  #batch: Uint8Array = new Uint8Array(0);
  #gatherBuffer: Uint8Array | undefined;
  /** close() or destroy() was called: new operations are refused. */
  #closed = false;
  /** destroy() ran: the descriptor is released and every wait has ended. */
  #destroyed = false;
  #closing: Promise<void> | undefined;
  /** Accepted sends still waiting for room (close() delivers them before it releases anything). */
  #inFlight = 0;
  /** Whether waiting keeps the process alive (see ref()/unref()). */
  #ref = true;
  /** Called when #inFlight drops to 0 while close() waits for it. */
  #drained: (() => void) | undefined;
  /** Why the channel was destroyed, for the errors of the sends it failed. */
  #destroyReason = '';
  #destroyError: Error | undefined;
  /** Sends waiting for room, in call order: #queue[#head ...]. */
  #queue: Pending[] = [];
  #head = 0;
  #pumping = false;
  /**
   * The pump's one WaitOptions, kept while it is not aborted: a wait strategy that paces itself per
   * wait (System V's back-off) sees one long wait, and no wait costs a new AbortController. Each
   * send's own deadline and signal are its queue entry's (see #enqueue); this signal only ends the
   * wait when the queue emptied under it.
   */
  #pumpCancel = new AbortController();
  #pumpWait: WaitOptions = { signal: this.#pumpCancel.signal };
  #pumpWaiting = false;
  /** Received and not yet delivered, in order: #inbox[#inHead ...] (an Error is thrown in its turn). */
  #inbox: Received<T>[] = [];
  #inHead = 0;

  protected constructor(url: string, codec: MessageCodec<T>, fd: number, init: ChannelInit = {}) {
    this.url = url;
    this.codec = codec;
    this.watch = new FdWatch(fd);
    this.#waits = this.watch;
    this.#access = init.access ?? 'both';
    // Not this.unref(): a subclass's override would run before its own fields exist.
    if (init.ref === false) {
      this.#ref = false;
      this.watch.unref();
    }
  }

  /** Writes records of `out` from `out.sent` on without blocking; returns how many it wholly took (0: no room now). */
  protected abstract writeRecords(out: Outgoing): number;
  /** Appends up to `max` received messages (or the DecodeError of a consumed bad record) to `into`, without blocking. */
  protected abstract readRecords(max: number, into: Received<T>[]): void;
  /** Releases the descriptor(s) and anything else the channel holds. Called once. */
  protected abstract closeResources(): void;
  abstract info(): ChannelInfo;

  /** Bytes one record takes on the wire at most (the codec's size, plus any framing). */
  protected get recordBytes(): number {
    return this.codec.size;
  }

  /** Encodes `value` as one record at `at` in `into` (framing included); returns its length. */
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

  /** Sends queued and not yet wholly written. */
  protected get queuedSends(): number {
    return this.#queue.length - this.#head;
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
        if (this.#destroyed) throw this.#destroyError;
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
    const length = this.encodeRecord(value, scratch, 0);
    // No subarray for the usual full-size message: one allocation less per send.
    return length === scratch.length ? scratch : scratch.subarray(0, length);
  }

  /**
   * The one wait of every send and receive (and of a transport's connect): readable or writable,
   * through the channel's WaitStrategy, with the caller's deadline and signal.
   */
  protected waitFor(direction: 'readable' | 'writable', options: WaitOptions): Promise<void> {
    return direction === 'readable' ? this.#waits.readable(options) : this.#waits.writable(options);
  }

  protected waitOptions(operation: string, options: ReceiveOptions): WaitOptions {
    return {
      deadline: deadlineOf(options.timeoutMs),
      timeoutMs: options.timeoutMs,
      signal: options.signal,
      operation: `${operation} on ${this.url}`,
    };
  }

  // --- sending ---------------------------------------------------------------------------------

  /** The reused Outgoing of one record (valid until the next send). */
  #single(bytes: Uint8Array, priority: number): Outgoing {
    const one = this.#one;
    one.bytes = bytes;
    one.stride = bytes.length;
    one.priority = priority;
    one.sent = 0;
    one.offset = 0;
    return one;
  }

  /** Writes what the kernel takes of `out` now; true when all of it is written. */
  #writeNow(out: Outgoing): boolean {
    for (;;) {
      const n = this.writeRecords(out);
      out.sent += n;
      if (out.sent === out.count) return true;
      const start = recordStart(out, out.sent);
      if (out.offset < start) out.offset = start;
      if (n === 0) return false;
    }
  }

  trySend(value: T, options: Pick<SendOptions, 'priority'> = {}): boolean {
    this.#assertCan('send');
    const priority = this.checkPriority(options.priority);
    const bytes = this.encodeScratch(value);
    // Sends waiting for room go first: this one would overtake them.
    if (this.queuedSends > 0 && !this.#flush()) return false;
    const one = this.#single(bytes, priority);
    if (this.#writeNow(one)) return true;
    if (one.offset === 0) return false;
    // The kernel took part of the record: it is committed, and its tail goes out before anything else.
    this.#enqueue(one, {}).catch(() => {});
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
      one = this.#single(this.encodeScratch(value), priority);
      if (this.queuedSends === 0 && this.#writeNow(one)) return settled;
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#enqueue(one, options);
  }

  sendMany(values: readonly T[], options: SendOptions = {}): Promise<void> {
    let out: Outgoing;
    try {
      this.#assertCan('send');
      checkTimeout(options.timeoutMs);
      const priority = this.checkPriority(options.priority);
      if (values.length === 0) return settled;
      // Encode (and so validate) the whole batch first: a bad value anywhere sends nothing.
      out = this.#encodeMany(values, priority);
      if (this.queuedSends === 0 && this.#writeNow(out)) return settled;
      return this.#enqueue(out, options);
    } catch (error) {
      return Promise.reject(error);
    } finally {
      // The batch buffer is reused by the next sendMany, but a huge one is not kept for the channel's life.
      if (this.#batch.length > MAX_KEPT_BATCH) this.#batch = new Uint8Array(0);
    }
  }

  /** Encodes a batch into the reused batch buffer, with record ends unless every record has one size. */
  #encodeMany(values: readonly T[], priority: number): Outgoing {
    const frame = this.recordBytes;
    const fixed = this.codec.fixedSize;
    let bytes = this.#batchBuffer((fixed ? values.length : Math.min(values.length, 64)) * frame, 0);
    const ends: number[] | undefined = fixed ? undefined : [];
    let offset = 0;
    for (const value of values) {
      if (offset + frame > bytes.length) bytes = this.#batchBuffer(offset + frame, offset);
      offset += this.encodeRecord(value, bytes, offset);
      ends?.push(offset);
    }
    const stride = fixed ? offset / values.length : 0;
    return { bytes: bytes.subarray(0, offset), count: values.length, ends, stride, priority, sent: 0, offset: 0 };
  }

  /** The batch buffer with room for `size` bytes, keeping its first `keep` bytes when it grows. */
  #batchBuffer(size: number, keep: number): Uint8Array {
    if (this.#batch.length < size) {
      const grown = new Uint8Array(Math.max(size, this.#batch.length * 2));
      grown.set(this.#batch.subarray(0, keep));
      this.#batch = grown;
    }
    return this.#batch;
  }

  /**
   * Queues what the kernel did not take of `out` (a copy: its buffer is reused by the next send),
   * until the pump writes it. Until part of a record is in the kernel, its timeout or signal
   * withdraws what is left of it.
   */
  #enqueue(out: Outgoing, options: SendOptions): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      // close() delivers it before releasing the descriptor; destroy() fails it with an error naming it.
      const item = new Pending(out, this.acceptSend(), resolve, reject);
      if (!item.committed) {
        const { signal, timeoutMs } = options;
        if (signal?.aborted) return item.finish(new AbortError(`send on ${this.url}`, signal.reason));
        if (timeoutMs !== undefined) {
          const timedOut = (): void => this.#withdraw(item, new TimeoutError(`send on ${this.url}`, timeoutMs));
          item.timer = this.#timer(timedOut, timeoutMs);
        }
        if (signal !== undefined) {
          item.signal = signal;
          item.onAbort = () => this.#withdraw(item, new AbortError(`send on ${this.url}`, signal.reason));
          signal.addEventListener('abort', item.onAbort, { once: true });
        }
      }
      this.#queue.push(item);
      this.#startPump();
    });
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
    if (this.queuedSends === 0) this.#cancelPumpWait();
  }

  /** Ends the pump's wait for room: the queue emptied under it. */
  #cancelPumpWait(): void {
    if (!this.#pumpWaiting) return;
    this.#pumpCancel.abort();
    this.#pumpCancel = new AbortController();
    this.#pumpWait = { signal: this.#pumpCancel.signal };
  }

  /** Writes queued records until the queue is empty (true) or the kernel is full (false). */
  #flush(): boolean {
    while (this.queuedSends > 0) {
      const first = this.#queue[this.#head] as Pending;
      const next = this.#queue[this.#head + 1];
      if (next === undefined || next.priority !== first.priority || first.bytes.length - first.offset >= COALESCE) {
        const done = this.#writeNow(first);
        if (first.offset > recordStart(first, first.sent)) first.committed = true;
        if (!done) return false;
        this.#settleHead();
        continue;
      }
      const gathered = this.#gather();
      const done = this.#writeNow(gathered);
      this.#spread(done ? gathered.bytes.length : gathered.offset);
      if (!done) return false;
    }
    // Emptied outside the pump (by trySend): the pump's wait for room has nothing left to wait for.
    this.#cancelPumpWait();
    return true;
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
    while (left > 0 && this.queuedSends > 0) {
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

  /** Waits for room and flushes, until the queue is empty; a failure fails every queued send. */
  async #pump(): Promise<void> {
    try {
      while (this.queuedSends > 0) {
        this.#pumpWaiting = true;
        try {
          await this.waitFor('writable', this.#pumpWait);
        } catch (error) {
          if (!(error instanceof AbortError)) throw error;
        } finally {
          this.#pumpWaiting = false;
        }
        if (this.#destroyed) throw this.#destroyError ?? new ChannelClosedError(`${this.url} was closed`);
        this.#flush();
      }
    } catch (error) {
      this.#failQueue(error);
    } finally {
      this.#pumping = false;
    }
  }

  #failQueue(error: unknown): void {
    const items = this.#queue.slice(this.#head);
    this.#queue = [];
    this.#head = 0;
    for (const item of items) item.finish(error);
  }

  // --- receiving -------------------------------------------------------------------------------

  /** Reads up to `max` records into the (drained) inbox; an error thrown there is delivered in its turn. */
  #fill(max: number): void {
    const inbox = this.#inbox;
    if (this.#inHead > 0) {
      inbox.length = 0;
      this.#inHead = 0;
    }
    try {
      this.readRecords(max, inbox);
    } catch (error) {
      inbox.push(error as Error);
    }
  }

  /** The next received message, undefined when none is waiting; throws an error in its turn. */
  #next(): Message<T> | undefined {
    if (this.#inHead === this.#inbox.length) {
      this.#fill(this.readAhead);
      if (this.#inbox.length === 0) return undefined;
    }
    const item = this.#inbox[this.#inHead] as Received<T>;
    this.#inbox[this.#inHead++] = undefined as unknown as Received<T>;
    if (item instanceof Error) throw item;
    return item;
  }

  /**
   * Up to `max` messages: the inbox's, topped up from the kernel once when it runs dry. An error
   * stops the batch: it is thrown when the batch is empty, else delivered by the next call, so no
   * message before it is lost behind it.
   */
  #take(max: number): Message<T>[] {
    const out: Message<T>[] = [];
    for (let topped = false; ; topped = true) {
      const inbox = this.#inbox;
      while (this.#inHead < inbox.length && out.length < max) {
        const item = inbox[this.#inHead] as Received<T>;
        if (item instanceof Error) {
          if (out.length > 0) return out;
          inbox[this.#inHead++] = undefined as unknown as Received<T>;
          throw item;
        }
        inbox[this.#inHead++] = undefined as unknown as Received<T>;
        out.push(item);
      }
      if (topped || out.length >= max) return out;
      this.#fill(max - out.length);
    }
  }

  tryReceive(): Message<T> | undefined {
    this.#assertCan('receive');
    return this.#next();
  }

  receive(options: ReceiveOptions = {}): Promise<Message<T>> {
    try {
      this.#assertCan('receive');
      checkTimeout(options.timeoutMs);
      const message = this.#next();
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
      const next = this.#next();
      if (next !== undefined) return next;
    }
  }

  async receiveMany(max: number, options: ReceiveOptions = {}): Promise<Message<T>[]> {
    if (!Number.isInteger(max) || max < 1) throw new ValidationError('max', 'an integer >= 1', String(max));
    this.#assertCan('receive');
    checkTimeout(options.timeoutMs);
    let wait: WaitOptions | undefined;
    for (;;) {
      const batch = this.#take(max);
      if (batch.length > 0) return batch;
      wait ??= this.waitOptions('receiveMany', options);
      await this.waitFor('readable', wait);
      this.assertOpen();
    }
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
          if (this.#access === 'send') this.#assertCan('receive');
          message = this.#next();
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
    if (this.#waits !== this.watch) this.#waits.close?.(error);
    // close() got here once the queue drained; destroy() (or close()'s timeout) fails what is left.
    this.#failQueue(error);
    this.#inbox = [];
    this.#inHead = 0;
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
    if (this.#waits !== this.watch) this.#waits.ref?.();
    return this;
  }

  unref(): this {
    this.#ref = false;
    this.watch.unref();
    if (this.#waits !== this.watch) this.#waits.unref?.();
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

  protected readRecords(max: number, into: Received<T>[]): void {
    for (let n = 0; n < max; n++) {
      const message = this.readMessage();
      if (message === undefined) return;
      into.push(message);
    }
  }
}
