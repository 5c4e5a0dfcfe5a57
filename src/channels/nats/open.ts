/**
 * The `nats:` transport, loaded on first use by the registry (`../registry.ts`; this module and those it imports are the
 * only ones that import the NATS client): the URL's and the options' stream, durable and queue group
 * checked, a connection, the stream created if asked, and receiving started before the channel is
 * handed out.
 */
import type { MessageCodec } from '../../codecs/codec.js';
import { TimeoutError, UnsupportedError, ValidationError } from '../../errors.js';
import { type NatsChannel, NatsError, type NatsOptions } from '../nats.js';
import type { Transport } from '../transport.js';
import type { Address } from '../url.js';
import { NatsChannelImpl } from './channel.js';
import { connectNats } from './connect.js';
import { bounded, errorText } from './errors.js';
import { ensureStream } from './jetstream.js';
import { checkName, type NatsAddress } from './url.js';

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
  const { nc, scrub, timeoutMs } = await connectNats(address, options);
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

function checkScheme(address: Address): NatsAddress {
  if (address.scheme !== 'nats') throw new UnsupportedError(`${address.url} is not a nats:// URL`);
  return address;
}

/** The `nats:` transport: `open` and `connect` are the same (a subject is neither created nor listened on). */
export const transports: Partial<Record<string, Transport>> = {
  nats: {
    async open(address, codec, options) {
      return openNatsChannel(checkScheme(address), codec, options);
    },
    async connect(address, codec, options) {
      return openNatsChannel(checkScheme(address), codec, options);
    },
  },
};
