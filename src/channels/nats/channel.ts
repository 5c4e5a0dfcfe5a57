/**
 * The nats:// channel itself: the public methods over the parts beside it (the receive queue and the
 * decoder, the core and JetStream publishers, acks, ref/unref of the client). Received messages wait
 * in a local FIFO that `receive` takes from; each is decoded (and its schema header checked) when it
 * is taken, so one bad message is one DecodeError.
 */
import { type ConsumerMessages, type JetStreamClient, type JsMsg, jetstream } from '@nats-io/jetstream';
import type { Msg, MsgHdrs, NatsConnection, Subscription } from '@nats-io/transport-node';
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
import { RECEIVE_BATCH_LIMIT } from '../inbox.js';
import type { NatsChannel, NatsInfo, NatsMessage, NatsOptions, NatsSendOptions } from '../nats.js';
import { NatsError } from '../nats.js';
import { ClientRef } from './client-ref.js';
import { CorePublisher } from './core-publisher.js';
import { NatsDecoder } from './decode.js';
import { bounded, type ErrorContext, errorText, mapError } from './errors.js';
import { consumeDurable } from './jetstream.js';
import { JetStreamPublisher } from './js-publisher.js';
import { acker } from './message.js';
import { ReceiveQueue } from './queue.js';
import { headerBytes, schemaHeaders } from './schema-header.js';
import { Slabs } from './slabs.js';
import { checkSubject, hasWildcard, type NatsAddress } from './url.js';

const settled: Promise<void> = Promise.resolve();

/** How long `close()` lets the client drain (deliver what was published) before closing hard. */
const CLOSE_DRAIN_MS = 5000;

type Waiter<T> = {
  resolve(message: NatsMessage<T>): void;
  reject(error: unknown): void;
};

/** Where a channel publishes and receives: the query's (or the options') stream, durable and queue group. */
export interface NatsSettings {
  readonly stream?: string | undefined;
  readonly durable?: string | undefined;
  readonly queue?: string | undefined;
}

export class NatsChannelImpl<T> implements NatsChannel<T> {
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
  readonly #canReceive: boolean;
  readonly #errors: ErrorContext;
  readonly #slabs: Slabs;
  readonly #core: CorePublisher;
  readonly #publisher: JetStreamPublisher | undefined;
  readonly #decoder: NatsDecoder<T>;
  readonly #clientRef: ClientRef;
  readonly #js: JetStreamClient | undefined;
  #sub: Subscription | undefined;
  #consumer: ConsumerMessages | undefined;
  readonly #queue: ReceiveQueue;
  readonly #waiters: Waiter<T>[] = [];
  /** The DecodeError of a message a receiveMany took and could not decode: the next receive throws it, in its turn. */
  #undelivered: Error | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;
  #failure: unknown;
  #slowConsumerEvents = 0;
  #reconnects = 0;

  constructor(
    address: NatsAddress,
    codec: MessageCodec<T>,
    nc: NatsConnection,
    options: NatsOptions,
    settings: NatsSettings,
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
    // JetStream needs no limit here: the server stops at max_ack_pending unacknowledged messages.
    this.#queue = new ReceiveQueue(this.#mode === 'core' ? (options.maxPending ?? 65536) : Number.POSITIVE_INFINITY);
    this.#errors = {
      url: this.url,
      subject: this.#subject,
      stream: this.#stream,
      ackTimeoutMs: options.ackTimeoutMs ?? 5000,
      scrub,
      closed: () => this.#closed,
    };
    const headers: MsgHdrs = schemaHeaders(codec.fingerprint);
    const sendError = (error: unknown, timeoutMs?: number) => mapError(this.#errors, error, 'send', timeoutMs);
    this.#core = new CorePublisher({
      nc,
      subject: this.#subject,
      url: this.url,
      publishOptions: { headers },
      failed: (error) => {
        this.#failure ??= sendError(error);
      },
      sendError,
      ref: () => this.#clientRef.ref,
    });
    this.#slabs = new Slabs(this.#mode === 'core' ? this.#core : undefined);
    this.#js = this.#mode === 'jetstream' ? jetstream(nc) : undefined;
    this.#publisher =
      this.#js === undefined
        ? undefined
        : new JetStreamPublisher({
            js: this.#js,
            subject: this.#subject,
            url: this.url,
            fingerprint: codec.fingerprint,
            headers,
            ackTimeoutMs: this.#errors.ackTimeoutMs,
            sendError,
          });
    this.#decoder = new NatsDecoder({
      url: this.url,
      subject: this.#subject,
      codec,
      requireSchemaHeader: options.requireSchemaHeader === true,
      ack: this.#mode === 'jetstream' ? acker(this.#errors) : undefined,
    });
    this.#clientRef = new ClientRef(nc);
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
        if (!this.#clientRef.ref) this.#clientRef.apply();
      } else if (status.type === 'slowConsumer') this.#slowConsumerEvents += 1;
      else if (status.type === 'error' && /slow consumer/i.test(errorText(status.error))) this.#slowConsumerEvents += 1;
    }
  }

  #connectionClosed(error: Error | undefined): void {
    if (this.#closed) return;
    const reason = error === undefined ? 'the connection was closed' : this.#errors.scrub(errorText(error));
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
    this.#consumer = await consumeDurable(
      this.#nc,
      this.#js as JetStreamClient,
      { stream, durable, subject: this.#subject },
      this.#options,
      (msg) => this.#push(msg),
    );
    this.#clientRef.consumer = this.#consumer;
  }

  #fail(error: unknown): void {
    this.#failure = mapError(this.#errors, error, 'receive');
    this.#rejectWaiters(this.#failure);
  }

  #push(msg: Msg | JsMsg): void {
    if (this.#closed) return;
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) {
      try {
        waiter.resolve(this.#decoder.decode(msg));
      } catch (error) {
        waiter.reject(error);
      }
      return;
    }
    this.#queue.push(msg);
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
    const size = this.codec.size;
    const slab = this.#slabs.room(size);
    const length = this.codec.encodeInto(value, slab, this.#slabs.used);
    const bytes = this.#slabs.commit(length);
    const limit = this.#nc.info?.max_payload;
    const extra = headerBytes(this.codec.fingerprint);
    if (limit !== undefined && bytes.length + extra > limit) {
      throw new MessageSizeError(
        bytes.length,
        limit,
        `${this.codec.name} message of ${bytes.length} bytes (+${extra} header bytes) exceeds the server's max_payload (${limit} bytes, set in nats-server's configuration); raise max_payload or use a smaller schema`,
      );
    }
    return bytes;
  }

  send(value: T, options: NatsSendOptions = {}): Promise<void> {
    try {
      this.#checkSend(options.priority);
      const bytes = this.#encode(value);
      if (this.#publisher !== undefined) return this.#publisher.publish(bytes, options);
      this.#core.publish(bytes);
      return this.#core.flowControl(options);
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
    if (this.#core.full) return false;
    this.#core.publish(bytes);
    void this.#core.flowControl({}).catch(() => {});
    return true;
  }

  async sendMany(values: readonly T[], options: NatsSendOptions = {}): Promise<void> {
    this.#checkSend(options.priority);
    // Validate everything first: a bad value anywhere sends nothing.
    const encoded = values.map((value) => this.#encode(value));
    if (this.#publisher === undefined) {
      for (const bytes of encoded) {
        this.#core.publish(bytes);
        await this.#core.flowControl(options);
      }
      return;
    }
    await this.#publisher.publishMany(encoded, options);
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
    const undelivered = this.#undelivered;
    if (undelivered !== undefined) {
      this.#undelivered = undefined;
      throw undelivered;
    }
    const msg = this.#queue.take();
    return msg === undefined ? undefined : this.#decoder.decode(msg);
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
      if (!this.#clientRef.ref) timer?.unref();
      const onAbort = () => leave(new AbortError(operation, signal?.reason));
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  async receiveMany(max: number, options: ReceiveOptions = {}): Promise<NatsMessage<T>[]> {
    if (!Number.isInteger(max) || max < 1) throw new ValidationError('max', 'an integer >= 1', String(max));
    const limit = Math.min(max, RECEIVE_BATCH_LIMIT);
    const batch = [await this.receive(options)];
    while (batch.length < limit) {
      const msg = this.#queue.take();
      if (msg === undefined) break;
      try {
        batch.push(this.#decoder.decode(msg));
      } catch (error) {
        // Decoded once (a JetStream message it cannot read is terminated once): the messages taken so
        // far are delivered now, its DecodeError by the next call.
        this.#undelivered = error as Error;
        break;
      }
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
      pending: this.#queue.length,
      dropped: this.#queue.dropped,
      slowConsumerEvents: this.#slowConsumerEvents + this.#queue.overflows,
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
    this.#queue.clear();
    try {
      this.#core.publishBatch();
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
    this.#queue.clear();
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
    this.#clientRef.set(true);
    return this;
  }

  /**
   * Waiting no longer keeps the process alive (see client-ref.ts). While the client is reconnecting its
   * dial timers still hold the process, as does a JetStream publish waiting for its ack (until the ack
   * or ackTimeoutMs).
   */
  unref(): this {
    this.#clientRef.set(false);
    return this;
  }
}
