/**
 * JetStream publishing: each publish is confirmed by the server's PubAck (or fails with its error),
 * within the ack timeout; a message id travels in a header of its own; a batch keeps a bounded window
 * of publishes waiting for their acks.
 */
import type { JetStreamClient } from '@nats-io/jetstream';
import type { MsgHdrs } from '@nats-io/transport-node';
import { ValidationError } from '../../errors.js';
import type { NatsSendOptions } from '../nats.js';
import { bounded } from './errors.js';
import { schemaHeaders } from './schema-header.js';

/** JetStream publishes `sendMany` keeps in flight at once (each waits for its ack). */
const JS_WINDOW = 256;

/** What the publisher needs of its channel. */
export interface JetStreamPublisherHost {
  readonly js: JetStreamClient;
  readonly subject: string;
  readonly url: string;
  readonly fingerprint: string;
  /** The shared schema header of publishes without a message id. */
  readonly headers: MsgHdrs;
  /** How long a publish waits for its ack when the send gives no timeoutMs. */
  readonly ackTimeoutMs: number;
  /** The send error for a failure of the client. */
  sendError(error: unknown, timeoutMs?: number): unknown;
}

/** Throws ValidationError unless `msgId` can travel in a NATS header. */
export function checkMsgId(msgId: unknown): void {
  if (msgId !== undefined && (typeof msgId !== 'string' || !/^[^\r\n]+$/.test(msgId))) {
    throw new ValidationError(
      'msgId',
      'a non-empty string without CR or LF (it travels in a NATS header)',
      String(msgId),
    );
  }
}

export class JetStreamPublisher {
  readonly #host: JetStreamPublisherHost;

  constructor(host: JetStreamPublisherHost) {
    this.#host = host;
  }

  /** Publishes `bytes`; resolves once the server acked it. */
  publish(bytes: Uint8Array, options: NatsSendOptions): Promise<void> {
    const host = this.#host;
    const timeout = options.timeoutMs ?? host.ackTimeoutMs;
    const { msgId } = options;
    checkMsgId(msgId);
    // The client sets a message id on the header object it is given: it gets one of its own, never the shared one.
    const headers = msgId === undefined ? host.headers : schemaHeaders(host.fingerprint, msgId);
    const published = host.js.publish(host.subject, bytes, { headers, timeout });
    return bounded(
      published,
      options.signal === undefined ? {} : { signal: options.signal },
      `send on ${host.url}`,
    ).then(
      () => undefined,
      (error) => {
        throw host.sendError(error, timeout);
      },
    );
  }

  /**
   * Publishes a batch through a sliding window: JS_WINDOW lanes, each publishing the next message once
   * its previous one is acked. After a failure no lane starts another message; the first error is
   * thrown once the lanes are done.
   */
  async publishMany(encoded: readonly Uint8Array[], options: NatsSendOptions): Promise<void> {
    const { msgId: _ignored, ...perMessage } = options;
    let next = 0;
    let failure: { error: unknown } | undefined;
    const lane = async () => {
      while (failure === undefined && next < encoded.length) {
        const bytes = encoded[next++] as Uint8Array;
        try {
          await this.publish(bytes, perMessage);
        } catch (error) {
          failure ??= { error };
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(JS_WINDOW, encoded.length) }, lane));
    if (failure !== undefined) throw failure.error;
  }
}
