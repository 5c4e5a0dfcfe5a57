/**
 * `shm:/name`: a bounded multi-producer, multi-consumer ring of fixed-size messages in POSIX shared
 * memory (docs/ring-protocol.md; C peers use include/typed_ipc_ring.h). The transport entry: the
 * parts live in ring/ — layout.ts (the layout descriptor), segment.ts (header checks, creation, stale
 * segments, the registry of handles), segment-file.ts (what rings and pub/sub segments share as files:
 * mapping, building and publishing, the open round, the claim of an entry), liveness.ts (who is alive,
 * the registry lock), doorbell.ts (wake-ups) and channel.ts (the queue algorithm).
 */
import type { MessageCodec } from '../codecs/codec.js';
import { UnsupportedError } from '../errors.js';
import { RingChannel } from './ring/channel.js';
import { attachSegment, type ShmAddress, unlinkSegment } from './ring/segment.js';
import type { OpenOptions, Transport } from './transport.js';
import type { Address } from './url.js';

export { RingChannel } from './ring/channel.js';
export { type RingHeader, readRingHeader } from './ring/header.js';
/** The segment layout's numbers (offsets, field tables, protocol constants): for tools and tests, not package API. */
export * as ringLayout from './ring/layout.js';

function checkScheme(address: Address): asserts address is ShmAddress {
  if (address.scheme !== 'shm') throw new UnsupportedError(`${address.url}: not a shared-memory ring`);
}

/** Opens (and with `create`, creates or recovers) a ring and attaches a channel to it. */
async function openRing<T>(address: Address, codec: MessageCodec<T>, options: OpenOptions): Promise<RingChannel<T>> {
  checkScheme(address);
  const segment = await attachSegment(address, codec, options);
  return new RingChannel(address.url, codec, segment, options.ref !== false, options.wait);
}

async function unlinkRing(address: Address): Promise<void> {
  checkScheme(address);
  // Sockets of live handles stay (they keep working until closed; the last to close removes the directory).
  unlinkSegment(address.name);
}

/** The `shm:` transport: open (create, attach, recover) and unlink. */
export const transports: Partial<Record<string, Transport>> = {
  shm: { open: openRing, unlink: unlinkRing },
};
