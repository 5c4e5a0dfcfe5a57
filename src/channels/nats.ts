/**
 * `nats://host:port/subject`: typed channels over NATS. Core NATS (publish/subscribe, at most once)
 * by default; JetStream (publish acknowledged by the server, durable consumers, at least once) with
 * `stream` (and `durable` to receive). The payload is the codec's bytes unchanged; the schema's
 * fingerprint travels in the `Typed-Ipc-Schema` header. This module holds the types and errors; the
 * transport (nats/open.ts) and the NATS client load on the first open (registry.ts), so programs that
 * never open a nats:// URL do not load them (the client is some 200 KiB of JavaScript).
 */
import { IpcError } from '../errors.js';
import type { Channel, ChannelInfo, Message, ReceiveOptions, SendOptions } from './channel.js';
import type { OpenOptions } from './transport.js';

export { checkSubject, type NatsAddress, parseNatsUrl } from './nats/url.js';

/** The NATS header that carries the schema fingerprint of every message typed-ipc publishes. */
export const NATS_SCHEMA_HEADER = 'Typed-Ipc-Schema';

/** Limits of a stream created with `create: true` (JetStream). Unset limits are the server's defaults. */
export interface NatsStreamLimits {
  /** Subjects the stream stores; default: the URL's subject. */
  readonly subjects?: readonly string[];
  /** Messages kept at most. */
  readonly maxMsgs?: number;
  /** Bytes kept at most. */
  readonly maxBytes?: number;
  /** Age in milliseconds after which messages are removed. */
  readonly maxAgeMs?: number;
  /** Largest message the stream accepts (payload and headers). */
  readonly maxMsgSize?: number;
  /** Where the stream lives; default 'file'. */
  readonly storage?: 'file' | 'memory';
  /** Copies in a cluster (1..5); default 1. */
  readonly replicas?: number;
  /**
   * What a full stream does: 'new' (default) refuses the publish with an error, so nothing stored is lost
   * silently; 'old' removes the oldest messages to make room.
   */
  readonly discard?: 'new' | 'old';
}

/** TLS settings passed to the NATS client (PEM text or file paths). */
export interface NatsTlsOptions {
  readonly ca?: string;
  readonly caFile?: string;
  readonly cert?: string;
  readonly certFile?: string;
  readonly key?: string;
  readonly keyFile?: string;
  /** TLS before the NATS INFO line (servers configured with `handshake_first`). */
  readonly handshakeFirst?: boolean;
}

/** Options of a nats:// channel (`open` or `connect`); the query's `stream`, `durable`, `queue` win if both are set. */
export interface NatsOptions extends OpenOptions {
  /** More seed servers (`host:port`) beside the URL's, for fail-over. */
  readonly servers?: readonly string[];
  /** Core NATS: join this queue group (each message goes to one member of the group). */
  readonly queue?: string;
  /** JetStream: publish to this stream (send waits for the server's ack). */
  readonly stream?: string;
  /** JetStream: receive through this durable consumer (created if missing), at least once, acked explicitly. */
  readonly durable?: string;
  /** JetStream, with `create: true`: the stream's limits (created only when it does not exist). */
  readonly limits?: NatsStreamLimits;
  /** JetStream: how long the server waits for an ack before delivering again; default 30000. */
  readonly ackWaitMs?: number;
  /** JetStream: unacknowledged messages the server lets this consumer hold; default 1000. */
  readonly maxAckPending?: number;
  /** Core NATS: messages buffered for `receive` before new ones are dropped and counted; default 65536. */
  readonly maxPending?: number;
  /** A received message without the schema header is a DecodeError (default: accepted, C peers may omit it). */
  readonly requireSchemaHeader?: boolean;
  readonly user?: string;
  readonly pass?: string;
  readonly token?: string;
  /** An nkey seed (`SU…`): the client signs the server's nonce with it. */
  readonly nkeySeed?: string;
  /** The text of a `.creds` file (JWT and nkey seed). */
  readonly creds?: string;
  /** A path to a `.creds` file. */
  readonly credsFile?: string;
  /** TLS: true for the system's CAs, or settings. */
  readonly tls?: boolean | NatsTlsOptions;
  /** Client name the server shows in its monitoring. */
  readonly name?: string;
  /** Reconnect attempts per server after a connection is lost (-1: forever); default 10. */
  readonly maxReconnectAttempts?: number;
  /** Wait between reconnect attempts to one server; default 2000. */
  readonly reconnectTimeWaitMs?: number;
  /** JetStream: how long `send` waits for the server's ack when no `timeoutMs` is given; default 5000. */
  readonly ackTimeoutMs?: number;
}

/** Options of `send` on a nats:// channel. */
export interface NatsSendOptions extends SendOptions {
  /**
   * JetStream: a message id the stream deduplicates on (within its duplicate window, 2 min by default), so a
   * send retried after a lost ack is stored once.
   */
  readonly msgId?: string;
}

/** How a JetStream message is acknowledged. */
export interface NatsAckOptions {
  /** Wait until the server confirms it recorded the ack (default true); false sends it and returns. */
  readonly confirm?: boolean;
  readonly timeoutMs?: number;
}

/** A received NATS message: `from` is its subject; JetStream messages carry acks and delivery figures. */
export interface NatsMessage<T> extends Message<T> {
  readonly from: string;
  /** JetStream: the stream sequence number. */
  readonly sequence?: number;
  /** JetStream: how many times the server has delivered it (1 the first time). */
  readonly deliveries?: number;
  /** JetStream: marks it processed; until then the server delivers it again after `ackWaitMs`. */
  ack?(options?: NatsAckOptions): Promise<void>;
  /** JetStream: asks for delivery again (after `delayMs`). */
  nak?(delayMs?: number): void;
  /** JetStream: never deliver it again. */
  term?(reason?: string): void;
}

/** What `info()` reports for a nats:// channel. Never holds credentials. */
export interface NatsInfo extends ChannelInfo {
  readonly transport: 'nats';
  readonly mode: 'core' | 'jetstream';
  readonly subject: string;
  /** The server this channel is connected to now (`host:port`), if connected. */
  readonly server: string | undefined;
  readonly stream?: string;
  readonly durable?: string;
  readonly queue?: string;
  /** Messages waiting in this process for `receive`. */
  readonly pending: number;
  /** Core NATS: messages dropped because `maxPending` were already waiting (slow consumer). */
  readonly dropped: number;
  /** Slow-consumer reports from the client or the server. */
  readonly slowConsumerEvents: number;
  /** Reconnections since the channel was opened. */
  readonly reconnects: number;
}

/** A nats:// channel. */
export interface NatsChannel<T> extends Channel<T> {
  send(value: T, options?: NatsSendOptions): Promise<void>;
  receive(options?: ReceiveOptions): Promise<NatsMessage<T>>;
  tryReceive(): NatsMessage<T> | undefined;
  receiveMany(max: number, options?: ReceiveOptions): Promise<NatsMessage<T>[]>;
  [Symbol.asyncIterator](): AsyncIterator<NatsMessage<T>, undefined>;
  info(): NatsInfo;
}

/**
 * A NATS failure: `ERR_IPC_NATS_CONNECT` (unreachable), `ERR_IPC_NATS_AUTH` (credentials refused),
 * `ERR_IPC_NATS_PERMISSION`, `ERR_IPC_NATS_JETSTREAM` (stream or consumer problems),
 * `ERR_IPC_NATS_CONNECTION_LOST`. The message names the URL without credentials.
 */
export class NatsError extends IpcError {
  /** The channel's URL, without credentials. */
  readonly url: string;

  constructor(code: string, url: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.url = url;
  }
}
