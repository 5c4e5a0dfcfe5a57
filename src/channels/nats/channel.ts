/**
 * The nats:// channel itself, loaded lazily by `../nats.ts` (this is the only module that imports the
 * NATS client). Received messages wait in a local FIFO that `receive` takes from; each is decoded
 * (and its schema header checked) when it is taken, so one bad message is one DecodeError.
 */
import { readFile } from 'node:fs/promises';
import {
  AckPolicy,
  type ConsumerMessages,
  DeliverPolicy,
  DiscardPolicy,
  type JetStreamClient,
  type JsMsg,
  jetstream,
  jetstreamManager,
  StorageType,
  type StreamConfig,
} from '@nats-io/jetstream';
import {
  connect,
  credsAuthenticator,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  type NodeConnectionOptions,
  nanos,
  headers as natsHeaders,
  nkeyAuthenticator,
  type Subscription,
} from '@nats-io/transport-node';
import type { MessageCodec } from '../../codecs/codec.js';
import {
  AbortError,
  ChannelClosedError,
  DecodeError,
  MessageSizeError,
  TimeoutError,
  UnsupportedError,
  ValidationError,
} from '../../errors.js';
import type { IterateOptions, Message, ReceiveOptions, SendOptions } from '../channel.js';
import {
  NATS_SCHEMA_HEADER,
  type NatsAckOptions,
  type NatsChannel,
  NatsError,
  type NatsInfo,
  type NatsMessage,
  type NatsOptions,
  type NatsSendOptions,
} from '../nats.js';
import { checkAccess, checkTimeout } from '../options.js';
import { checkName, checkSubject, hasWildcard, type NatsAddress } from './url.js';

const settled: Promise<void> = Promise.resolve();

/**
 * Core publishes go into the client's write buffer, which never refuses one. To give `send` the
 * backpressure the contract promises, every FLUSH_BYTES the channel asks the server for a PONG and
 * waits for the previous one: at most two windows are ever unconfirmed, and a slow or gone server
 * makes `send` wait instead of the buffer growing without bound.
 */
const FLUSH_BYTES = 256 * 1024;
/**
 * Payload bytes of queued core publishes handed to the client at once (one write(2) for many messages):
 * the client's own threshold for writing at once (32 KiB), so typed-ipc makes as many writes as a program
 * publishing on the raw client; at 16 KiB it made twice as many, and at 4 KiB writes were a fifth of the
 * publisher's CPU.
 */
const BATCH_BYTES = 32 * 1024;
/** Size of the slabs encoded messages are carved from. */
const SLAB_BYTES = 64 * 1024;
/** Core NATS: full slabs kept for reuse, waiting for the flush that proves their bytes were sent. */
const SPARE_SLABS = 16;
/** JetStream publishes `sendMany` keeps in flight at once (each waits for its ack). */
const JS_WINDOW = 256;
/** How long `close()` lets the client drain (deliver what was published) before closing hard. */
const CLOSE_DRAIN_MS = 5000;

type Waiter<T> = {
  resolve(message: NatsMessage<T>): void;
  reject(error: unknown): void;
};

/**
 * The schema header, for every publish of a channel. The client turns a header object into text and
 * then bytes on each publish (a third of a core publish's cost); this one never changes, so its bytes
 * are made once and `encode()` hands them out (the client copies them into its write buffer). Nothing
 * may `set` on it afterwards: a publish that needs another header (a JetStream message id) gets its own.
 */
function schemaHeaders(fingerprint: string, msgId?: string): MsgHdrs {
  const hdrs = natsHeaders();
  hdrs.set(NATS_SCHEMA_HEADER, fingerprint);
  if (msgId !== undefined) {
    hdrs.set('Nats-Msg-Id', msgId);
    return hdrs;
  }
  const block = new TextEncoder().encode(hdrs.toString());
  // The client's publish calls the header object's encode() (MsgHdrsImpl; not part of the MsgHdrs type).
  Object.defineProperty(hdrs, 'encode', { value: () => block });
  return hdrs;
}

/** Text with every secret of the options replaced by `***` (for messages built from the client's errors). */
function scrubber(secrets: readonly (string | undefined)[]): (text: string) => string {
  // Longest first: a secret inside another (a seed inside a creds text) must not leave the rest showing.
  const list = secrets
    .filter((s): s is string => typeof s === 'string' && s.length > 0)
    .sort((a, b) => b.length - a.length);
  return (text) => list.reduce((out, secret) => out.split(secret).join('***'), text);
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Races `promise` against `options`' timeout and signal; the operation is named in the errors. With
 * `ref: false` the timeout does not keep the process alive (an unref'd channel's wait).
 */
function bounded<R>(promise: Promise<R>, options: ReceiveOptions, operation: string, ref = true): Promise<R> {
  const { timeoutMs, signal } = options;
  if (timeoutMs === undefined && signal === undefined) return promise;
  if (signal?.aborted) return Promise.reject(new AbortError(operation, signal.reason));
  return new Promise<R>((resolve, reject) => {
    const timer =
      timeoutMs === undefined ? undefined : setTimeout(() => finish(new TimeoutError(operation, timeoutMs)), timeoutMs);
    if (!ref) timer?.unref();
    const onAbort = () => finish(new AbortError(operation, signal?.reason));
    signal?.addEventListener('abort', onAbort, { once: true });
    function finish(error: unknown, value?: R): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (error === undefined) resolve(value as R);
      else reject(error);
    }
    promise.then(
      (value) => finish(undefined, value),
      (error) => finish(error ?? new Error('failed')),
    );
  });
}

/**
 * A received JetStream message: ack, nak and term are methods, not closures made for every message.
 * `sequence` and `deliveries` are read when asked for: the client parses them out of the reply subject,
 * a cost a consumer that never looks at them should not pay per message.
 */
class JetStreamMessage<T> implements NatsMessage<T> {
  readonly value: T;
  readonly priority = 0;
  readonly from: string;
  readonly #msg: JsMsg;
  readonly #ack: (msg: JsMsg, options?: NatsAckOptions) => Promise<void>;

  constructor(value: T, from: string, msg: JsMsg, ack: (msg: JsMsg, options?: NatsAckOptions) => Promise<void>) {
    this.value = value;
    this.from = from;
    this.#msg = msg;
    this.#ack = ack;
  }

  get sequence(): number {
    return this.#msg.seq;
  }

  get deliveries(): number {
    return this.#msg.info.deliveryCount;
  }

  ack(options?: NatsAckOptions): Promise<void> {
    return this.#ack(this.#msg, options);
  }

  nak(delayMs?: number): void {
    this.#msg.nak(delayMs);
  }

  term(reason?: string): void {
    this.#msg.term(reason);
  }
}

class NatsChannelImpl<T> implements NatsChannel<T> {
  readonly url: string;
  readonly codec: MessageCodec<T>;
  readonly #nc: NatsConnection;
  readonly #subject: string;
  readonly #mode: 'core' | 'jetstream';
  readonly #options: NatsOptions;
  readonly #stream: string | undefined;
  readonly #durable: string | undefined;
  readonly #queueGroup: string | undefined;
  readonly #canSend: boolean;
  readonly #wildcard: boolean;
  /** Encoded messages are carved from this slab (see #encode). */
  #slab: Uint8Array = new Uint8Array(0);
  #slabUsed = 0;
  /** Core NATS: full slabs, oldest first, each with the number of the flush after which it is free. */
  readonly #spareSlabs: { readonly slab: Uint8Array; readonly freeAfter: number }[] = [];
  /** Core NATS: flushes started, and the highest-numbered one the server has answered. */
  #flushesStarted = 0;
  #flushesDone = 0;
  readonly #canReceive: boolean;
  readonly #maxPending: number;
  readonly #scrub: (text: string) => string;
  /** One options object for every publish: the header never changes, so it is built once. */
  readonly #publishOptions: { headers: MsgHdrs };
  /** The header block every message of this schema carries, as bytes (see #fingerprintOf). */
  readonly #headerBlock: Uint8Array;
  readonly #js: JetStreamClient | undefined;
  /** The codec's decode, without copies where the codec has one (see the constructor). */
  readonly #decodeData: (bytes: Uint8Array) => T;
  #sub: Subscription | undefined;
  #consumer: ConsumerMessages | undefined;
  readonly #queue: (Msg | JsMsg)[] = [];
  #head = 0;
  readonly #waiters: Waiter<T>[] = [];
  #closed = false;
  #closing: Promise<void> | undefined;
  #failure: unknown;
  #dropped = 0;
  #slowConsumerEvents = 0;
  /** In a run of drops (one slow-consumer event per run). */
  #overflowing = false;
  #reconnects = 0;
  /** Whether waiting keeps the process alive (see ref()/unref()). */
  #ref = true;
  #patchedHeartbeats = false;
  #unflushed = 0;
  #batch: Uint8Array[] = [];
  /** Payload bytes in #batch. */
  #batchBytes = 0;
  #batchScheduled = false;
  #flushing: Promise<void> | undefined;
  #flushDone = true;

  constructor(
    address: NatsAddress,
    codec: MessageCodec<T>,
    nc: NatsConnection,
    options: NatsOptions,
    settings: { stream?: string | undefined; durable?: string | undefined; queue?: string | undefined },
    scrub: (text: string) => string,
  ) {
    this.url = address.url;
    this.codec = codec;
    this.#nc = nc;
    this.#subject = address.subject;
    this.#options = options;
    this.#stream = settings.stream;
    this.#durable = settings.durable;
    this.#queueGroup = settings.queue;
    this.#mode = settings.stream === undefined ? 'core' : 'jetstream';
    const access = options.access ?? 'both';
    this.#canSend = access !== 'receive';
    this.#wildcard = hasWildcard(address.subject);
    this.#canReceive = access !== 'send';
    this.#maxPending = options.maxPending ?? 65536;
    this.#scrub = scrub;
    const hdrs = schemaHeaders(codec.fingerprint);
    this.#publishOptions = { headers: hdrs };
    this.#headerBlock = new TextEncoder().encode(hdrs.toString());
    this.#js = this.#mode === 'jetstream' ? jetstream(nc) : undefined;
    // Each received message is memory of its own that the client never writes again (a view of the
    // socket read it came in, a fresh buffer per read), so bytes(n) fields can be views of it: a copy
    // would buy nothing, and at 4 KiB it cost as much as the rest of a receive (allocating a buffer
    // to copy into is slow). Codecs without decodeViews (a lending codec, msgpack) decode as usual.
    const { decodeViews } = codec;
    this.#decodeData =
      decodeViews === undefined ? (bytes) => codec.decode(bytes) : (bytes) => decodeViews.call(codec, bytes);
    void this.#watchStatus();
    void nc.closed().then((error) => this.#connectionClosed(error ?? undefined));
  }

  get closed(): boolean {
    return this.#closed;
  }

  async #watchStatus(): Promise<void> {
    for await (const status of this.#nc.status()) {
      if (status.type === 'reconnect') {
        this.#reconnects += 1;
        // A reconnect brings a new socket, ref'd.
        if (!this.#ref) this.#applyRef();
      } else if (status.type === 'slowConsumer') this.#slowConsumerEvents += 1;
      else if (status.type === 'error' && /slow consumer/i.test(errorText(status.error))) this.#slowConsumerEvents += 1;
    }
  }

  #connectionClosed(error: Error | undefined): void {
    if (this.#closed) return;
    const reason = error === undefined ? 'the connection was closed' : this.#scrub(errorText(error));
    this.#failure = new NatsError(
      'ERR_IPC_NATS_CONNECTION_LOST',
      this.url,
      `${this.url}: lost the connection to NATS and could not reconnect (${reason}); open the channel again once a server is reachable`,
      { cause: error },
    );
    this.#rejectWaiters(this.#failure);
  }

  /** Subscribes (core) or starts consuming from the durable consumer (JetStream); resolves once active. */
  async start(): Promise<void> {
    if (!this.#canReceive) return;
    if (this.#mode === 'core') {
      this.#sub = this.#nc.subscribe(this.#subject, {
        ...(this.#queueGroup === undefined ? {} : { queue: this.#queueGroup }),
        callback: (error, msg) => (error === null ? this.#push(msg) : this.#fail(error)),
      });
      // The SUB reaches the server before open resolves: a publish made after it is received.
      await this.#nc.flush();
      return;
    }
    const stream = this.#stream as string;
    const durable = this.#durable;
    if (durable === undefined) return;
    const js = this.#js as JetStreamClient;
    await this.#ensureConsumer(stream, durable);
    const consumer = await js.consumers.get(stream, durable);
    const maxAckPending = this.#options.maxAckPending ?? 1000;
    this.#consumer = await consumer.consume({
      max_messages: Math.min(maxAckPending, 512),
      callback: (msg) => this.#push(msg),
    });
  }

  async #ensureConsumer(stream: string, durable: string): Promise<void> {
    const jsm = await jetstreamManager(this.#nc);
    try {
      await jsm.consumers.info(stream, durable);
      return;
    } catch (error) {
      if (!/consumer not found/i.test(errorText(error))) throw error;
    }
    await jsm.consumers.add(stream, {
      durable_name: durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: this.#subject,
      ack_wait: nanos(this.#options.ackWaitMs ?? 30_000),
      max_ack_pending: this.#options.maxAckPending ?? 1000,
    });
  }

  #fail(error: unknown): void {
    this.#failure = this.#mapError(error, 'receive');
    this.#rejectWaiters(this.#failure);
  }

  #push(msg: Msg | JsMsg): void {
    if (this.#closed) return;
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) {
      try {
        waiter.resolve(this.#decode(msg));
      } catch (error) {
        waiter.reject(error);
      }
      return;
    }
    // JetStream needs no limit here: the server stops at max_ack_pending unacknowledged messages.
    if (this.#mode === 'core' && this.#queue.length - this.#head >= this.#maxPending) {
      // nats.js buffers without bound; like the C and Go clients' pending limits, this drops the newest.
      if (!this.#overflowing) this.#slowConsumerEvents += 1;
      this.#overflowing = true;
      this.#dropped += 1;
      return;
    }
    this.#overflowing = false;
    this.#queue.push(msg);
  }

  #take(): Msg | JsMsg | undefined {
    if (this.#head >= this.#queue.length) return undefined;
    const msg = this.#queue[this.#head] as Msg | JsMsg;
    this.#queue[this.#head] = undefined as never;
    this.#head += 1;
    // Compact once the consumed prefix dominates, so taking stays O(1) amortised.
    if (this.#head >= 1024 && this.#head * 2 >= this.#queue.length) {
      this.#queue.splice(0, this.#head);
      this.#head = 0;
    }
    return msg;
  }

  /**
   * The schema header's value, or '' without one. Fast path: the client parses headers into a Map on
   * first access, which costs more than the rest of a receive; a message whose raw header block is
   * byte for byte the one this channel's schema writes (every typed-ipc publisher's) is accepted
   * without parsing. The raw fields are nats.js internals (the version is pinned); when they are not
   * there, or the block differs (other headers, another writer), the parsed headers decide.
   */
  #fingerprintOf(msg: Msg | JsMsg): string {
    const core = ((msg as { msg?: Msg }).msg ?? msg) as { _msg?: { hdr?: number }; _rdata?: Uint8Array };
    const expected = this.#headerBlock;
    const raw = core._rdata;
    if (core._msg?.hdr === expected.length && raw !== undefined && raw.length >= expected.length) {
      let same = true;
      for (let i = 0; i < expected.length; i++) {
        if (raw[i] !== expected[i]) {
          same = false;
          break;
        }
      }
      if (same) return this.codec.fingerprint;
    }
    return msg.headers?.get(NATS_SCHEMA_HEADER) ?? '';
  }

  #decode(msg: Msg | JsMsg): NatsMessage<T> {
    const js = this.#mode === 'jetstream' ? (msg as JsMsg) : undefined;
    const fingerprint = this.#fingerprintOf(msg);
    if (fingerprint !== this.codec.fingerprint && (fingerprint !== '' || this.#options.requireSchemaHeader === true)) {
      // A message this channel can never read is not redelivered forever. (No reason text: servers
      // before 2.10 ignore a `+TERM` that carries one.)
      js?.term();
      const got =
        fingerprint === '' ? `no ${NATS_SCHEMA_HEADER} header` : `schema fingerprint ${JSON.stringify(fingerprint)}`;
      throw new DecodeError(
        '',
        `${this.url}: a message on ${msg.subject} has ${got}, but this channel reads ${this.codec.name} (fingerprint ${JSON.stringify(this.codec.fingerprint)}); publish it with the same schema, or read it with the schema of that fingerprint`,
      );
    }
    let value: T;
    try {
      value = this.#decodeData(msg.data);
    } catch (error) {
      js?.term();
      throw error;
    }
    // Without wildcards every message comes on the channel's own subject: no need to decode it each time.
    const from = this.#wildcard ? msg.subject : this.#subject;
    if (js === undefined) return { value, priority: 0, from };
    return new JetStreamMessage(value, from, js, this.#ack);
  }

  /** Acks a JetStream message; not async, so an unconfirmed ack costs no promise of its own. */
  readonly #ack = (msg: JsMsg, options: NatsAckOptions = {}): Promise<void> => {
    if (options.confirm !== false) return this.#ackConfirmed(msg, options);
    try {
      msg.ack();
      return settled;
    } catch (error) {
      return Promise.reject(this.#mapError(error, 'ack'));
    }
  };

  async #ackConfirmed(msg: JsMsg, options: NatsAckOptions): Promise<void> {
    const timeout = options.timeoutMs ?? this.#options.ackTimeoutMs ?? 5000;
    let ok: boolean;
    try {
      ok = await msg.ackAck({ timeout });
    } catch (error) {
      throw this.#mapError(error, 'ack', timeout);
    }
    if (!ok) {
      throw new NatsError(
        'ERR_IPC_NATS_JETSTREAM',
        this.url,
        `${this.url}: the server did not confirm the ack of stream sequence ${msg.seq} (it was acked already, or the consumer is gone); it may be delivered again`,
      );
    }
  }

  #rejectWaiters(error: unknown): void {
    for (const waiter of this.#waiters.splice(0)) waiter.reject(error);
  }

  #assertOpen(): void {
    if (this.#closed) throw new ChannelClosedError(`${this.url} is closed`);
    if (this.#failure !== undefined) throw this.#failure;
  }

  #checkSend(priority: number | undefined): void {
    this.#assertOpen();
    if (!this.#canSend) throw new UnsupportedError(`${this.url} was opened with access: 'receive'; it cannot send`);
    if (priority !== undefined && priority !== 0) {
      throw new UnsupportedError(`nats channels carry no priorities: priority must be 0 (got ${String(priority)})`);
    }
    if (this.#wildcard) checkSubject(this.#subject, false, 'subject to publish to');
  }

  #encode(value: T): Uint8Array {
    // The client keeps a reference to each payload until it is written out, so no region is reused before
    // then: messages are carved one after the other from a 64 KiB slab (one allocation per slab, not per
    // message), and a full slab is reused only once its bytes have surely left (see #nextSlab).
    const size = this.codec.size;
    if (this.#slabUsed + size > this.#slab.length) {
      this.#slab = this.#nextSlab(Math.max(SLAB_BYTES, size));
      this.#slabUsed = 0;
    }
    const start = this.#slabUsed;
    const length = this.codec.encodeInto(value, this.#slab, start);
    this.#slabUsed = start + length;
    const bytes = this.#slab.subarray(start, start + length);
    const limit = this.#nc.info?.max_payload;
    const headerBytes = 16 + NATS_SCHEMA_HEADER.length + this.codec.fingerprint.length;
    if (limit !== undefined && bytes.length + headerBytes > limit) {
      throw new MessageSizeError(
        bytes.length,
        limit,
        `${this.codec.name} message of ${bytes.length} bytes (+${headerBytes} header bytes) exceeds the server's max_payload (${limit} bytes, set in nats-server's configuration); raise max_payload or use a smaller schema`,
      );
    }
    return bytes;
  }

  /**
   * A slab to encode into: on core NATS a full one whose bytes have surely left, else a new one. A new
   * 64 KiB buffer costs tens of microseconds on a loaded machine (a 4 KiB publisher paid more for its
   * slabs than for its messages). The client copies payloads into its write buffer when it writes, and
   * a flush (PING) goes out after every message published before it, so once the server answers flush
   * n, the slabs filled before flush n started hold nothing the client still reads. (JetStream
   * publishes keep their payload until the ack, or a retry: their slabs are left to the GC.)
   */
  #nextSlab(bytes: number): Uint8Array {
    const spare = this.#spareSlabs[0];
    if (spare !== undefined && spare.freeAfter <= this.#flushesDone && spare.slab.length === bytes) {
      this.#spareSlabs.shift();
      this.#retire();
      return spare.slab;
    }
    this.#retire();
    return new Uint8Array(bytes);
  }

  /** Keeps the full current slab for reuse after the next flush (core NATS). */
  #retire(): void {
    if (this.#mode !== 'core' || this.#slab.length === 0 || this.#spareSlabs.length >= SPARE_SLABS) return;
    this.#spareSlabs.push({ slab: this.#slab, freeAfter: this.#flushesStarted + 1 });
  }

  #mapError(error: unknown, operation: string, timeoutMs?: number): unknown {
    if (error instanceof ChannelClosedError || error instanceof NatsError) return error;
    if (error instanceof TimeoutError || error instanceof AbortError) return error;
    const text = this.#scrub(errorText(error));
    const name = error instanceof Error ? error.name : '';
    if (/timeout/i.test(name) || /timeout/i.test(text)) {
      return new TimeoutError(`${operation} on ${this.url}`, timeoutMs ?? this.#options.ackTimeoutMs ?? 5000);
    }
    if (/permission/i.test(text)) {
      return new NatsError(
        'ERR_IPC_NATS_PERMISSION',
        this.url,
        `${operation} on ${this.url}: ${text}; grant this user the subject in the server's authorization`,
        { cause: error },
      );
    }
    if (/no responders|503|jetstream is not enabled/i.test(text) && this.#mode === 'jetstream') {
      return new NatsError(
        'ERR_IPC_NATS_JETSTREAM',
        this.url,
        `${operation} on ${this.url}: no JetStream stream stores subject ${this.#subject} (or JetStream is off); create stream ${String(this.#stream)} (open with create: true) or enable JetStream on the server`,
        { cause: error },
      );
    }
    if (/closed|draining/i.test(name) || /connection closed|draining/i.test(text)) {
      return this.#closed
        ? new ChannelClosedError(`${this.url} is closed`)
        : new NatsError(
            'ERR_IPC_NATS_CONNECTION_LOST',
            this.url,
            `${operation} on ${this.url}: the connection is closed (${text}); open the channel again`,
            { cause: error },
          );
    }
    return new NatsError('ERR_IPC_NATS', this.url, `${operation} on ${this.url}: ${text}`, { cause: error });
  }

  /**
   * Queues a core publish for the next event-loop turn. The client writes to its socket in a microtask
   * after the first publish into an empty buffer, so a caller awaiting every send would otherwise cost
   * one write(2) per message (a quarter of the client's rate); batching the turn's sends gives one write.
   */
  #publishCore(bytes: Uint8Array): void {
    if (this.#nc.isClosed()) throw this.#mapError(new Error('connection closed'), 'send');
    this.#batch.push(bytes);
    this.#unflushed += bytes.length;
    this.#batchBytes += bytes.length;
    // A turn of many sends goes out as it grows, not all at the turn's end: the server and the
    // subscribers work on the first messages while the rest are encoded (a whole flush window held
    // back made the pipeline stop and go: 0.8x the raw client's rate at 24 B with the same CPU per message).
    if (this.#batchBytes >= BATCH_BYTES) this.#publishBatch();
    else if (!this.#batchScheduled) {
      this.#batchScheduled = true;
      setImmediate(this.#publishBatch);
    }
  }

  readonly #publishBatch = (): void => {
    this.#batchScheduled = false;
    const batch = this.#batch;
    if (batch.length === 0) return;
    this.#batch = [];
    this.#batchBytes = 0;
    try {
      for (const bytes of batch) this.#nc.publish(this.#subject, bytes, this.#publishOptions);
    } catch (error) {
      // Only a connection closed under us gets here (sizes were checked at send); later sends throw it.
      this.#failure ??= this.#mapError(error, 'send');
    }
  };

  /** Starts a flush once a window is full; waits for the previous one (see FLUSH_BYTES). */
  #flowControl(options: SendOptions): Promise<void> {
    if (this.#unflushed < FLUSH_BYTES) return settled;
    this.#unflushed = 0;
    // The PING of the flush must follow the window's messages.
    this.#publishBatch();
    const previous = this.#flushing;
    const flushing = this.#nc.flush();
    this.#flushesStarted += 1;
    const number = this.#flushesStarted;
    this.#flushing = flushing;
    this.#flushDone = false;
    flushing.then(
      () => {
        if (this.#flushing === flushing) this.#flushDone = true;
        // Answers come in order; a later one also covers an earlier flush that failed (a reconnect).
        if (number > this.#flushesDone) this.#flushesDone = number;
      },
      () => {},
    );
    if (previous === undefined) return settled;
    return bounded(previous, options, `send on ${this.url}`, this.#ref).catch((error) => {
      throw this.#mapError(error, 'send', options.timeoutMs);
    });
  }

  #publishJs(bytes: Uint8Array, options: NatsSendOptions): Promise<void> {
    const timeout = options.timeoutMs ?? this.#options.ackTimeoutMs ?? 5000;
    const js = this.#js as JetStreamClient;
    const { msgId } = options;
    if (msgId !== undefined && (typeof msgId !== 'string' || !/^[^\r\n]+$/.test(msgId))) {
      throw new ValidationError(
        'msgId',
        'a non-empty string without CR or LF (it travels in a NATS header)',
        String(msgId),
      );
    }
    // The client sets a message id on the header object it is given: it gets one of its own, never the shared one.
    const headers = msgId === undefined ? this.#publishOptions.headers : schemaHeaders(this.codec.fingerprint, msgId);
    const published = js.publish(this.#subject, bytes, { headers, timeout });
    return bounded(
      published,
      options.signal === undefined ? {} : { signal: options.signal },
      `send on ${this.url}`,
    ).then(
      () => undefined,
      (error) => {
        throw this.#mapError(error, 'send', timeout);
      },
    );
  }

  send(value: T, options: NatsSendOptions = {}): Promise<void> {
    try {
      this.#checkSend(options.priority);
      const bytes = this.#encode(value);
      if (this.#mode === 'jetstream') return this.#publishJs(bytes, options);
      this.#publishCore(bytes);
      return this.#flowControl(options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  trySend(value: T, options: Pick<SendOptions, 'priority'> = {}): boolean {
    this.#checkSend(options.priority);
    if (this.#mode === 'jetstream') {
      throw new UnsupportedError(
        `${this.url}: a JetStream publish is confirmed only by the server's ack, which trySend cannot wait for; use send()`,
      );
    }
    const bytes = this.#encode(value);
    // Full when a whole window is unconfirmed and the flush before it has not come back.
    if (this.#unflushed >= FLUSH_BYTES && !this.#flushDone) return false;
    this.#publishCore(bytes);
    void this.#flowControl({}).catch(() => {});
    return true;
  }

  async sendMany(values: readonly T[], options: NatsSendOptions = {}): Promise<void> {
    this.#checkSend(options.priority);
    // Validate everything first: a bad value anywhere sends nothing.
    const encoded = values.map((value) => this.#encode(value));
    if (this.#mode === 'core') {
      for (const bytes of encoded) {
        this.#publishCore(bytes);
        await this.#flowControl(options);
      }
      return;
    }
    const { msgId: _ignored, ...perMessage } = options;
    // A sliding window: JS_WINDOW lanes, each publishing the next message once its previous one is acked.
    // After a failure no lane starts another message; the first error is thrown once the lanes are done.
    let next = 0;
    let failure: { error: unknown } | undefined;
    const lane = async () => {
      while (failure === undefined && next < encoded.length) {
        const bytes = encoded[next++] as Uint8Array;
        try {
          await this.#publishJs(bytes, perMessage);
        } catch (error) {
          failure ??= { error };
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(JS_WINDOW, encoded.length) }, lane));
    if (failure !== undefined) throw failure.error;
  }

  #checkReceive(): void {
    this.#assertOpen();
    if (!this.#canReceive) throw new UnsupportedError(`${this.url} was opened with access: 'send'; it cannot receive`);
    if (this.#mode === 'jetstream' && this.#durable === undefined) {
      throw new UnsupportedError(
        `${this.url}: receiving from JetStream needs a durable consumer; add durable=NAME to the URL or the durable option`,
      );
    }
  }

  tryReceive(): NatsMessage<T> | undefined {
    this.#checkReceive();
    const msg = this.#take();
    return msg === undefined ? undefined : this.#decode(msg);
  }

  receive(options: ReceiveOptions = {}): Promise<NatsMessage<T>> {
    try {
      const message = this.tryReceive();
      if (message !== undefined) return Promise.resolve(message);
    } catch (error) {
      return Promise.reject(error);
    }
    const { signal, timeoutMs } = options;
    // Without a deadline or signal the promise's own functions are the waiter: nothing else per message.
    if (signal === undefined && timeoutMs === undefined) {
      return new Promise<NatsMessage<T>>((resolve, reject) => this.#waiters.push({ resolve, reject }));
    }
    const operation = `receive on ${this.url}`;
    if (signal?.aborted) return Promise.reject(new AbortError(operation, signal.reason));
    return new Promise<NatsMessage<T>>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const waiter: Waiter<T> = {
        resolve: (message) => {
          done();
          resolve(message);
        },
        reject: (error) => {
          done();
          reject(error);
        },
      };
      const leave = (error: unknown) => {
        const index = this.#waiters.indexOf(waiter);
        if (index >= 0) this.#waiters.splice(index, 1);
        waiter.reject(error);
      };
      const timer =
        timeoutMs === undefined
          ? undefined
          : setTimeout(() => leave(new TimeoutError(operation, timeoutMs)), timeoutMs);
      if (!this.#ref) timer?.unref();
      const onAbort = () => leave(new AbortError(operation, signal?.reason));
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  async receiveMany(max: number, options: ReceiveOptions = {}): Promise<NatsMessage<T>[]> {
    if (!Number.isInteger(max) || max < 1) throw new ValidationError('max', 'an integer >= 1', String(max));
    const batch = [await this.receive(options)];
    while (batch.length < max) {
      // A bad message stays for the next call: the ones taken so far are delivered first.
      const head = this.#queue[this.#head];
      if (head === undefined) break;
      try {
        this.#decode(head);
      } catch {
        break;
      }
      const next = this.tryReceive();
      if (next === undefined) break;
      batch.push(next);
    }
    return batch;
  }

  [Symbol.asyncIterator](): AsyncIterator<NatsMessage<T>, undefined> {
    return {
      next: () => {
        if (this.#closed) return Promise.resolve({ value: undefined, done: true });
        let ready: NatsMessage<T> | undefined;
        try {
          ready = this.tryReceive();
        } catch (error) {
          return Promise.reject(error);
        }
        // A waiting message costs one settled promise; waiting for one, one promise whose functions
        // the waiter calls (not a receive() promise and a then() on it).
        if (ready !== undefined) return Promise.resolve({ value: ready, done: false });
        return new Promise<IteratorResult<NatsMessage<T>, undefined>>((resolve, reject) =>
          this.#waiters.push({
            resolve: (value) => resolve({ value, done: false }),
            reject: (error) =>
              error instanceof ChannelClosedError ? resolve({ value: undefined, done: true }) : reject(error),
          }),
        );
      },
      return: () => Promise.resolve({ value: undefined, done: true }),
    };
  }

  info(): NatsInfo {
    // As on every transport: info() after close is use after close.
    if (this.#closed) throw new ChannelClosedError(`${this.url} is closed`);
    const server = this.#nc.isClosed() ? undefined : this.#nc.getServer();
    return {
      url: this.url,
      transport: 'nats',
      mode: this.#mode,
      subject: this.#subject,
      server: server === '' ? undefined : server,
      messageSize: this.codec.size,
      ...(this.#stream === undefined ? {} : { stream: this.#stream }),
      ...(this.#durable === undefined ? {} : { durable: this.#durable }),
      ...(this.#queueGroup === undefined ? {} : { queue: this.#queueGroup }),
      pending: this.#queue.length - this.#head,
      dropped: this.#dropped,
      slowConsumerEvents: this.#slowConsumerEvents,
      reconnects: this.#reconnects,
    };
  }

  close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    if (this.#closed) return settled;
    this.#closed = true;
    this.#closing = this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    // Messages taken but never received are not acked: JetStream delivers them again to the next consumer.
    this.#queue.length = 0;
    this.#head = 0;
    try {
      this.#publishBatch();
      this.#consumer?.stop();
      this.#sub?.unsubscribe();
      if (this.#nc.isClosed()) return;
      // drain delivers what send accepted, then closes; bounded so a gone server cannot hold close() up.
      await bounded(this.#nc.drain(), { timeoutMs: CLOSE_DRAIN_MS }, `close of ${this.url}`);
    } catch {
      await this.#nc.close().catch(() => {});
    } finally {
      // Last, in the turn close() resolves in: a caller awaiting close() before a waiting receive has
      // its handler on that receive in time (rejecting it first would be an unhandled rejection meanwhile).
      this.#rejectWaiters(new ChannelClosedError(`${this.url} was closed`));
    }
  }

  /** Abrupt end: waiting receives and sends fail at once, nothing published is drained. */
  destroy(error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#rejectWaiters(error ?? new ChannelClosedError(`${this.url} was destroyed`));
    this.#queue.length = 0;
    this.#head = 0;
    this.#consumer?.stop();
    void this.#nc.close().catch(() => {});
  }

  iterate(options?: IterateOptions & { decodeErrors?: 'throw' }): AsyncIterableIterator<NatsMessage<T>>;
  iterate(options: IterateOptions): AsyncIterableIterator<NatsMessage<T> | DecodeError>;
  async *iterate(options: IterateOptions = {}): AsyncIterableIterator<Message<T> | DecodeError> {
    // A schema mismatch is one message's DecodeError (it was taken and, on JetStream, terminated),
    // so 'yield' can carry on with the next message; a closed channel ends the loop.
    while (!this.#closed) {
      try {
        yield await this.receive();
      } catch (error) {
        if (error instanceof ChannelClosedError) return;
        if (error instanceof DecodeError && options.decodeErrors === 'yield') {
          yield error;
          continue;
        }
        throw error;
      }
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Waiting keeps the process alive again: the connection's socket and the client's ping timer are ref'd. */
  ref(): this {
    this.#ref = true;
    this.#applyRef();
    return this;
  }

  /**
   * Waiting no longer keeps the process alive. The client has no unref of its own, so this reaches its
   * socket, its ping timer and (JetStream) the consumer's heartbeat monitor, in the pinned client
   * version; the handles it makes anew (a socket after a reconnect, each ping timer) are unref'd as they
   * come. While the client is reconnecting its dial timers still hold the process, as does a JetStream
   * publish waiting for its ack (until the ack or ackTimeoutMs).
   */
  unref(): this {
    this.#ref = false;
    this.#applyRef();
    return this;
  }

  #applyRef(): void {
    const protocol = (this.#nc as unknown as { protocol?: ClientInternals }).protocol;
    const hold = (handle: { ref(): unknown; unref(): unknown } | undefined) =>
      this.#ref ? handle?.ref() : handle?.unref();
    hold(protocol?.transport?.socket);
    const heartbeats = protocol?.heartbeats;
    if (heartbeats !== undefined && typeof heartbeats._schedule === 'function') {
      hold(heartbeats.timer);
      if (!this.#patchedHeartbeats) {
        // The ping timer is a new setTimeout each interval: each one follows ref()/unref() as it is made.
        this.#patchedHeartbeats = true;
        const schedule = heartbeats._schedule;
        heartbeats._schedule = () => {
          schedule.call(heartbeats);
          hold(heartbeats.timer);
        };
      }
    }
    hold((this.#consumer as { monitor?: { timer?: NodeJS.Timeout } } | undefined)?.monitor?.timer);
  }
}

/** The parts of the client's protocol handler that ref()/unref() reach (nats-core's ProtocolHandler). */
interface ClientInternals {
  transport?: { socket?: { ref(): unknown; unref(): unknown } };
  heartbeats?: { timer?: NodeJS.Timeout; _schedule?: () => void };
}

function streamConfig(name: string, subject: string, options: NatsOptions): Partial<StreamConfig> & { name: string } {
  // OpenOptions' capacity (the CLI's --capacity) is the created stream's message limit unless limits say more.
  const limits = { ...(options.capacity === undefined ? {} : { maxMsgs: options.capacity }), ...options.limits };
  const config: Partial<StreamConfig> & { name: string } = {
    name,
    subjects: [...(limits.subjects ?? [subject])],
    storage: limits.storage === 'memory' ? StorageType.Memory : StorageType.File,
    discard: limits.discard === 'old' ? DiscardPolicy.Old : DiscardPolicy.New,
    num_replicas: limits.replicas ?? 1,
  };
  if (limits.maxMsgs !== undefined) config.max_msgs = limits.maxMsgs;
  if (limits.maxBytes !== undefined) config.max_bytes = limits.maxBytes;
  if (limits.maxAgeMs !== undefined) config.max_age = nanos(limits.maxAgeMs);
  if (limits.maxMsgSize !== undefined) config.max_msg_size = limits.maxMsgSize;
  return config;
}

async function ensureStream(nc: NatsConnection, name: string, subject: string, options: NatsOptions): Promise<void> {
  const jsm = await jetstreamManager(nc);
  try {
    await jsm.streams.info(name);
    return;
  } catch (error) {
    if (!/stream not found/i.test(errorText(error))) throw error;
  }
  await jsm.streams.add(streamConfig(name, subject, options));
}

/** The blocks of a `.creds` file (what nats.js and the C client read): the user JWT, then the nkey seed. */
const CREDS_BLOCK = /-{3,}[^\n]*-{3,}\r?\n\s*(\S+)\s*\r?\n\s*-{3,}[^\n]*-{3,}/g;
/** A user nkey seed: `SU` and 56 base32 characters. */
const USER_SEED = /^SU[A-Z2-7]{56}$/;

/** The secrets a channel's options hold (for scrubbing them out of every message it builds). */
interface Secrets {
  readonly values: readonly string[];
  readonly creds?: string;
}

/**
 * Reads and checks the credentials: a creds file's text (read once, here), an nkey seed. Never shows
 * a secret in the errors: a malformed one is named, not quoted.
 */
async function readSecrets(address: NatsAddress, options: NatsOptions): Promise<Secrets> {
  const credentials = address.credentials;
  const values = [
    options.pass,
    options.token,
    options.nkeySeed,
    credentials !== undefined && 'pass' in credentials ? credentials.pass : undefined,
    credentials !== undefined && 'token' in credentials ? credentials.token : undefined,
  ].filter((s): s is string => typeof s === 'string' && s.length > 0);
  if (options.nkeySeed !== undefined && (typeof options.nkeySeed !== 'string' || !USER_SEED.test(options.nkeySeed))) {
    throw new ValidationError('nkeySeed', 'a user nkey seed: SU and 56 base32 characters', '(not shown: a secret)');
  }
  if (options.creds === undefined && options.credsFile === undefined) return { values };
  let creds: string;
  if (options.creds !== undefined) creds = options.creds;
  else {
    try {
      creds = await readFile(options.credsFile as string, 'utf8');
    } catch (error) {
      throw new ValidationError('credsFile', 'a readable .creds file', JSON.stringify(options.credsFile), {
        message: `credsFile ${JSON.stringify(options.credsFile)}: cannot read it (${errorText(error)}); expected a readable .creds file`,
        cause: error,
      });
    }
  }
  const blocks = typeof creds === 'string' ? [...creds.matchAll(CREDS_BLOCK)].map((m) => m[1] as string) : [];
  if (blocks.length < 2 || !USER_SEED.test(blocks[1] as string)) {
    throw new ValidationError(
      options.creds === undefined ? 'credsFile' : 'creds',
      'a .creds file: a user JWT, then a user nkey seed (SU…), each between BEGIN and END lines (as nsc writes it)',
      '(not shown: a secret)',
    );
  }
  return { values: [...values, creds, ...blocks], creds };
}

function connectOptions(address: NatsAddress, options: NatsOptions, secrets: Secrets): NodeConnectionOptions {
  const credentials = address.credentials;
  const user = credentials !== undefined && 'user' in credentials ? credentials.user : options.user;
  const pass = credentials !== undefined && 'pass' in credentials ? credentials.pass : options.pass;
  const token = credentials !== undefined && 'token' in credentials ? credentials.token : options.token;
  const encoder = new TextEncoder();
  const authenticators = [];
  if (options.nkeySeed !== undefined) authenticators.push(nkeyAuthenticator(encoder.encode(options.nkeySeed)));
  if (secrets.creds !== undefined) authenticators.push(credsAuthenticator(encoder.encode(secrets.creds)));
  const tls = options.tls === true ? {} : options.tls === false || options.tls === undefined ? undefined : options.tls;
  for (const server of options.servers ?? []) {
    if (typeof server !== 'string' || !/^[^\s/@,]+$/.test(server)) {
      throw new ValidationError('servers', 'host:port strings without credentials', JSON.stringify(server));
    }
  }
  return {
    servers: [...address.servers, ...(options.servers ?? [])],
    // A channel does not receive what it sent itself, as with a socket.
    noEcho: true,
    // Otherwise each request (every JetStream publish) builds two Error objects with stacks up front, in case
    // it fails: 40% of a JetStream publisher's CPU. Errors are mapped to typed-ipc's, with the client's as cause.
    noAsyncTraces: true,
    timeout: options.timeoutMs ?? 10_000,
    maxReconnectAttempts: options.maxReconnectAttempts ?? 10,
    reconnectTimeWait: options.reconnectTimeWaitMs ?? 2000,
    ...(options.name === undefined ? {} : { name: options.name }),
    ...(user === undefined ? {} : { user }),
    ...(pass === undefined ? {} : { pass }),
    ...(token === undefined ? {} : { token }),
    ...(authenticators.length === 0 ? {} : { authenticator: authenticators }),
    ...(tls === undefined ? {} : { tls: { ...tls } }),
  };
}

function connectError(
  address: NatsAddress,
  error: unknown,
  scrub: (text: string) => string,
  timeoutMs: number,
): unknown {
  const text = scrub(errorText(error));
  const name = error instanceof Error ? error.name : '';
  if (/authoriz|authentic|auth/i.test(`${name} ${text}`)) {
    return new NatsError(
      'ERR_IPC_NATS_AUTH',
      address.url,
      `connect to ${address.url}: the server refused the credentials (${text}); check the user, password, token, nkey or creds`,
      { cause: error },
    );
  }
  if (/timeout/i.test(`${name} ${text}`)) return new TimeoutError(`connect to ${address.url}`, timeoutMs);
  return new NatsError(
    'ERR_IPC_NATS_CONNECT',
    address.url,
    `connect to ${address.url}: cannot reach a NATS server at ${address.servers.join(', ')} (${text}); is nats-server running and listening there?`,
    { cause: error },
  );
}

/** Connects, checks the options, creates the stream if asked and starts receiving; the channel is ready. */
export async function openNatsChannel<T>(
  address: NatsAddress,
  codec: MessageCodec<T>,
  options: NatsOptions,
): Promise<NatsChannel<T>> {
  const stream = address.stream ?? options.stream;
  const durable = address.durable ?? options.durable;
  const queue = address.queue ?? options.queue;
  if (stream !== undefined) checkName('stream', stream);
  if (durable !== undefined) checkName('durable', durable);
  if (queue !== undefined) checkName('queue', queue);
  if (durable !== undefined && stream === undefined) {
    throw new ValidationError('durable', 'a durable consumer together with stream=NAME', `durable ${durable}`);
  }
  if (queue !== undefined && stream !== undefined) {
    throw new UnsupportedError(
      `${address.url}: queue groups are core NATS; with JetStream, channels sharing one durable consumer share its messages`,
    );
  }
  const secrets = await readSecrets(address, options);
  const scrub = scrubber(secrets.values);
  // The rules every transport shares (options.ts): the same mistake, the same ValidationError.
  checkAccess(options.access);
  checkTimeout(options.ackTimeoutMs, 'ackTimeoutMs');
  const timeoutMs = checkTimeout(options.timeoutMs) ?? 10_000;
  let nc: NatsConnection;
  try {
    const connecting = connect(connectOptions(address, options, secrets));
    // The client's own timeout (timeoutMs) ends a connect; an abort does not, so a late connection is closed.
    connecting.then(
      (late) => (options.signal?.aborted ? late.close() : undefined),
      () => {},
    );
    nc = await bounded(
      connecting,
      options.signal === undefined ? {} : { signal: options.signal },
      `connect to ${address.url}`,
    );
  } catch (error) {
    if (error instanceof ValidationError || error instanceof AbortError || error instanceof TimeoutError) throw error;
    throw connectError(address, error, scrub, timeoutMs);
  }
  try {
    if (stream !== undefined && options.create === true) await ensureStream(nc, stream, address.subject, options);
    const channel = new NatsChannelImpl(address, codec, nc, options, { stream, durable, queue }, scrub);
    await bounded(channel.start(), { timeoutMs }, `subscribe on ${address.url}`);
    if (options.ref === false) channel.unref();
    return channel;
  } catch (error) {
    await nc.close().catch(() => {});
    if (error instanceof TimeoutError || error instanceof NatsError) throw error;
    const text = scrub(errorText(error));
    throw new NatsError(
      /permission/i.test(text) ? 'ERR_IPC_NATS_PERMISSION' : 'ERR_IPC_NATS_JETSTREAM',
      address.url,
      `open ${address.url}: ${text}${stream === undefined ? '' : `; check that JetStream is enabled and stream ${stream} exists (or open with create: true)`}`,
      { cause: error },
    );
  }
}
