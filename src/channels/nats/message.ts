/**
 * A received JetStream message and its acknowledgment: `ack` (confirmed by the server unless
 * `confirm: false`), `nak`, `term`, and the stream sequence and delivery count.
 */
import type { JsMsg } from '@nats-io/jetstream';
import type { NatsAckOptions, NatsMessage } from '../nats.js';
import { NatsError } from '../nats.js';
import { type ErrorContext, mapError } from './errors.js';

const settled: Promise<void> = Promise.resolve();

/** Acks a JetStream message (one function per channel, which every message of it calls). */
export type Ack = (msg: JsMsg, options?: NatsAckOptions) => Promise<void>;

/** The ack of a channel's messages; not async, so an unconfirmed ack costs no promise of its own. */
export function acker(context: ErrorContext): Ack {
  async function confirmed(msg: JsMsg, options: NatsAckOptions): Promise<void> {
    const timeout = options.timeoutMs ?? context.ackTimeoutMs;
    let ok: boolean;
    try {
      ok = await msg.ackAck({ timeout });
    } catch (error) {
      throw mapError(context, error, 'ack', timeout);
    }
    if (!ok) {
      throw new NatsError(
        'ERR_IPC_NATS_JETSTREAM',
        context.url,
        `${context.url}: the server did not confirm the ack of stream sequence ${msg.seq} (it was acked already, or the consumer is gone); it may be delivered again`,
      );
    }
  }
  return (msg, options = {}) => {
    if (options.confirm !== false) return confirmed(msg, options);
    try {
      msg.ack();
      return settled;
    } catch (error) {
      return Promise.reject(mapError(context, error, 'ack'));
    }
  };
}

/**
 * A received JetStream message: ack, nak and term are methods, not closures made for every message.
 * `sequence` and `deliveries` are read when asked for: the client parses them out of the reply subject,
 * a cost a consumer that never looks at them should not pay per message.
 */
export class JetStreamMessage<T> implements NatsMessage<T> {
  readonly value: T;
  readonly priority = 0;
  readonly from: string;
  readonly #msg: JsMsg;
  readonly #ack: Ack;

  constructor(value: T, from: string, msg: JsMsg, ack: Ack) {
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
