/**
 * The public contract of a channel: Channel<T> and the shapes its methods take and give (messages,
 * options, info, listeners). What the user programs against; the mechanism behind it is channel.ts.
 */
import type { MessageCodec } from '../codecs/codec.js';
import type { DecodeError } from '../errors.js';
import type { WaitOption } from './wait-strategy.js';

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
  /**
   * Waits for at least one message, then returns up to `max` of those waiting, and never more than
   * RECEIVE_BATCH_LIMIT (1024) per call: larger batches made V8 tenure every received message.
   */
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

/** Options shared by every channel. */
export interface ChannelOptions {
  /** When false, the channel does not keep the process alive while waiting (see `unref()`). */
  readonly ref?: boolean;
  /** How a waiting send or receive waits: `{ spinUs }` spins that long before sleeping (docs/latency.md). */
  readonly wait?: WaitOption;
}
