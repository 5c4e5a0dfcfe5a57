/**
 * Turning a received NATS message into a typed one: its schema header checked (another schema's
 * message, or one without the header under `requireSchemaHeader`, is a DecodeError and, on
 * JetStream, terminated so that it is not redelivered forever), its payload decoded.
 */
import type { JsMsg } from '@nats-io/jetstream';
import type { Msg } from '@nats-io/transport-node';
import type { MessageCodec } from '../../codecs/codec.js';
import { DecodeError } from '../../errors.js';
import { NATS_SCHEMA_HEADER, type NatsMessage } from '../nats.js';
import { type Ack, JetStreamMessage } from './message.js';
import { fingerprintOf, schemaHeaders } from './schema-header.js';
import { hasWildcard } from './url.js';

/** How a channel decodes what it receives. */
export interface DecoderInit<T> {
  readonly url: string;
  readonly subject: string;
  readonly codec: MessageCodec<T>;
  readonly requireSchemaHeader: boolean;
  /** JetStream: the ack of its messages; undefined on core NATS. */
  readonly ack: Ack | undefined;
}

export class NatsDecoder<T> {
  readonly #url: string;
  readonly #subject: string;
  readonly #codec: MessageCodec<T>;
  readonly #require: boolean;
  readonly #ack: Ack | undefined;
  readonly #wildcard: boolean;
  /** The header block every message of this schema carries, as bytes (see fingerprintOf). */
  readonly #headerBlock: Uint8Array;
  /** The codec's decode, without copies where the codec has one (see the constructor). */
  readonly #decodeData: (bytes: Uint8Array) => T;

  constructor(init: DecoderInit<T>) {
    const { codec } = init;
    this.#url = init.url;
    this.#subject = init.subject;
    this.#codec = codec;
    this.#require = init.requireSchemaHeader;
    this.#ack = init.ack;
    this.#wildcard = hasWildcard(init.subject);
    this.#headerBlock = new TextEncoder().encode(schemaHeaders(codec.fingerprint).toString());
    // Each received message is memory of its own that the client never writes again (a view of the
    // socket read it came in, a fresh buffer per read), so bytes(n) fields can be views of it: a copy
    // would buy nothing, and at 4 KiB it cost as much as the rest of a receive (allocating a buffer
    // to copy into is slow). Codecs without decodeViews (a lending codec, msgpack) decode as usual.
    const { decodeViews } = codec;
    this.#decodeData =
      decodeViews === undefined ? (bytes) => codec.decode(bytes) : (bytes) => decodeViews.call(codec, bytes);
  }

  /** The typed message; throws DecodeError (after terminating a JetStream message) for one it cannot read. */
  decode(msg: Msg | JsMsg): NatsMessage<T> {
    const codec = this.#codec;
    const js = this.#ack === undefined ? undefined : (msg as JsMsg);
    const fingerprint = fingerprintOf(msg, this.#headerBlock, codec.fingerprint);
    if (fingerprint !== codec.fingerprint && (fingerprint !== '' || this.#require)) {
      // A message this channel can never read is not redelivered forever. (No reason text: servers
      // before 2.10 ignore a `+TERM` that carries one.)
      js?.term();
      const got =
        fingerprint === '' ? `no ${NATS_SCHEMA_HEADER} header` : `schema fingerprint ${JSON.stringify(fingerprint)}`;
      throw new DecodeError(
        '',
        `${this.#url}: a message on ${msg.subject} has ${got}, but this channel reads ${codec.name} (fingerprint ${JSON.stringify(codec.fingerprint)}); publish it with the same schema, or read it with the schema of that fingerprint`,
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
    return new JetStreamMessage(value, from, js, this.#ack as Ack);
  }
}
