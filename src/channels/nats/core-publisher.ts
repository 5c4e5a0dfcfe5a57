/**
 * Core NATS publishing: sends of one event-loop turn handed to the client together (one write(2) for
 * many messages), and the flow control that gives `send` backpressure on a client whose write buffer
 * never refuses a publish: a flush (PING/PONG) per window of bytes, at most two windows unconfirmed.
 */
import type { MsgHdrs, NatsConnection } from '@nats-io/transport-node';
import type { ReceiveOptions } from '../channel.js';
import { bounded } from './errors.js';
import type { FlushCount } from './slabs.js';

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

/** What the publisher needs of its channel. */
export interface CorePublisherHost {
  readonly nc: NatsConnection;
  readonly subject: string;
  readonly url: string;
  /** One options object for every publish: the header never changes, so it is built once. */
  readonly publishOptions: { headers: MsgHdrs };
  /** A publish failed under us (the connection closed): later sends throw `error`. */
  failed(error: unknown): void;
  /** The send error for a failure of the client. */
  sendError(error: unknown, timeoutMs?: number): unknown;
  /** Whether waits keep the process alive. */
  readonly ref: () => boolean;
}

export class CorePublisher implements FlushCount {
  readonly #host: CorePublisherHost;
  #unflushed = 0;
  #batch: Uint8Array[] = [];
  /** Payload bytes in #batch. */
  #batchBytes = 0;
  #batchScheduled = false;
  #flushing: Promise<void> | undefined;
  #flushDone = true;
  /** Flushes started, and the highest-numbered one the server has answered. */
  flushesStarted = 0;
  flushesDone = 0;

  constructor(host: CorePublisherHost) {
    this.#host = host;
  }

  /** Full when a whole window is unconfirmed and the flush before it has not come back. */
  get full(): boolean {
    return this.#unflushed >= FLUSH_BYTES && !this.#flushDone;
  }

  /**
   * Queues a core publish for the next event-loop turn. The client writes to its socket in a microtask
   * after the first publish into an empty buffer, so a caller awaiting every send would otherwise cost
   * one write(2) per message (a quarter of the client's rate); batching the turn's sends gives one write.
   */
  publish(bytes: Uint8Array): void {
    if (this.#host.nc.isClosed()) throw this.#host.sendError(new Error('connection closed'));
    this.#batch.push(bytes);
    this.#unflushed += bytes.length;
    this.#batchBytes += bytes.length;
    // A turn of many sends goes out as it grows, not all at the turn's end: the server and the
    // subscribers work on the first messages while the rest are encoded (a whole flush window held
    // back made the pipeline stop and go: 0.8x the raw client's rate at 24 B with the same CPU per message).
    if (this.#batchBytes >= BATCH_BYTES) this.publishBatch();
    else if (!this.#batchScheduled) {
      this.#batchScheduled = true;
      setImmediate(this.publishBatch);
    }
  }

  /** Hands the queued publishes to the client now. */
  readonly publishBatch = (): void => {
    this.#batchScheduled = false;
    const batch = this.#batch;
    if (batch.length === 0) return;
    this.#batch = [];
    this.#batchBytes = 0;
    const { nc, subject, publishOptions } = this.#host;
    try {
      for (const bytes of batch) nc.publish(subject, bytes, publishOptions);
    } catch (error) {
      // Only a connection closed under us gets here (sizes were checked at send); later sends throw it.
      this.#host.failed(error);
    }
  };

  /** Starts a flush once a window is full; waits for the previous one (see FLUSH_BYTES). */
  flowControl(options: ReceiveOptions): Promise<void> {
    if (this.#unflushed < FLUSH_BYTES) return settled;
    this.#unflushed = 0;
    // The PING of the flush must follow the window's messages.
    this.publishBatch();
    const previous = this.#flushing;
    const flushing = this.#host.nc.flush();
    this.flushesStarted += 1;
    const number = this.flushesStarted;
    this.#flushing = flushing;
    this.#flushDone = false;
    flushing.then(
      () => {
        if (this.#flushing === flushing) this.#flushDone = true;
        // Answers come in order; a later one also covers an earlier flush that failed (a reconnect).
        if (number > this.flushesDone) this.flushesDone = number;
      },
      () => {},
    );
    if (previous === undefined) return settled;
    return bounded(previous, options, `send on ${this.#host.url}`, this.#host.ref()).catch((error) => {
      throw this.#host.sendError(error, options.timeoutMs);
    });
  }
}
