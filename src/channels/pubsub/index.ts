/**
 * `shm+pubsub:/name`: publish/subscribe in POSIX shared memory (docs/pubsub.md; C peers use
 * include/typed_ipc_pubsub.h). Every subscriber sees every message, in order per publisher; the
 * policy set at create decides whether publishers wait for the slowest live subscriber (`block`) or
 * never wait (`overwrite`, losses counted). The parts: layout.ts (the layout descriptor), options.ts
 * (the options of an open), segment.ts (creation, checks, the handle tables), channel.ts (the
 * algorithm); the segment file, doorbells and liveness are the ring's (ring/).
 */
import type { MessageCodec } from '../../codecs/codec.js';
import { UnsupportedError } from '../../errors.js';
import type { OpenOptions, Transport } from '../transport.js';
import type { Address } from '../url.js';
import { PubSubChannel } from './channel.js';
import { checkOptions, type PubSubAddress, type PubSubOptions } from './options.js';
import { attachSegment, unlinkSegment } from './segment.js';

export { PubSubChannel, type PubSubMessage } from './channel.js';
export { type PubSubHeader, readPubSubHeader } from './header.js';
/** The segment layout's numbers (offsets, field tables, protocol constants): for tools and tests, not package API. */
export * as pubsubLayout from './layout.js';
export type { PubSubOptions, PubSubPolicy } from './options.js';

function checkScheme(address: Address): asserts address is PubSubAddress {
  if (address.scheme !== 'shm+pubsub')
    throw new UnsupportedError(`${address.url}: not a shared-memory pub/sub channel`);
}

/** Opens (and with `create`, creates) a pub/sub segment and attaches a publisher or a subscriber to it. */
async function openPubSub<T>(
  address: Address,
  codec: MessageCodec<T>,
  options: OpenOptions,
): Promise<PubSubChannel<T>> {
  checkScheme(address);
  const checked = checkOptions(address, codec, options as PubSubOptions);
  const segment = attachSegment(address, codec, checked);
  return new PubSubChannel(address.url, codec, segment, {
    access: checked.access,
    history: checked.history,
    ref: options.ref !== false,
    wait: options.wait,
  });
}

async function unlinkPubSub(address: Address): Promise<void> {
  checkScheme(address);
  unlinkSegment(address.name);
}

/** The `shm+pubsub:` transport: open (create, attach) and unlink. */
export const transports: Partial<Record<string, Transport>> = {
  'shm+pubsub': { open: openPubSub, unlink: unlinkPubSub },
};
