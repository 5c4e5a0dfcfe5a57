/**
 * Channels: open named objects, connect/bind/listen on sockets, unlink. One transport per module;
 * the URL's scheme picks it.
 */
import type { MessageCodec } from '../codecs/codec.js';
import type { Channel, DatagramChannel, Listener } from './channel.js';
import { lookup } from './registry.js';
import type { OpenOptions, SocketOptions } from './transport.js';

export type {
  Channel,
  ChannelInfo,
  ChannelOptions,
  DatagramChannel,
  Listener,
  Message,
  PeerCredentials,
  ReceiveOptions,
  SendOptions,
} from './channel.js';
export {
  type ChildChannelOptions,
  inheritedChannel,
  type SpawnedChannel,
  spawnNodeWithChannel,
  spawnWithChannel,
} from './child.js';
export type { MqAccess, MqInfo } from './mq.js';
export { adoptStream, LENGTH_PREFIX_BYTES, type StreamChannel, type StreamListener } from './stream.js';
export { type SysvInfo, type SysvQueueEntry, sysvQueues } from './sysv.js';
export type {
  AdoptOptions,
  Direction,
  OpenOptions,
  PairOptions,
  PeerWaitOptions,
  SocketOptions,
} from './transport.js';
export { type Address, parseUrl, type Scheme, type SysvTarget } from './url.js';

// The entry points are async functions so that a bad URL rejects the promise rather than throwing.

/** Opens a named object (`mq:`, `shm:`, `fifo:`) as a channel. */
export async function open<T>(url: string, codec: MessageCodec<T>, options: OpenOptions = {}): Promise<Channel<T>> {
  const [address, fn] = lookup(url, 'open');
  return fn(address, codec, options);
}

/** Connects to a socket address (`unix+*:`, `udp:`, `tcp:`). */
export async function connect<T>(
  url: string,
  codec: MessageCodec<T>,
  options: SocketOptions = {},
): Promise<Channel<T>> {
  const [address, fn] = lookup(url, 'connect');
  return fn(address, codec, options);
}

/** Binds a datagram socket (`unix+dgram:`, `udp:`) to receive from any sender. */
export async function bind<T>(
  url: string,
  codec: MessageCodec<T>,
  options: SocketOptions = {},
): Promise<DatagramChannel<T>> {
  const [address, fn] = lookup(url, 'bind');
  return fn(address, codec, options);
}

/** Listens on a connection-oriented socket (`unix+seqpacket:`, `unix+stream:`, `tcp:`). */
export async function listen<T>(
  url: string,
  codec: MessageCodec<T>,
  options: SocketOptions = {},
): Promise<Listener<T>> {
  const [address, fn] = lookup(url, 'listen');
  return fn(address, codec, options);
}

/** Removes a named object (queue, segment, FIFO, socket file). */
export async function unlink(url: string): Promise<void> {
  const [address, fn] = lookup(url, 'unlink');
  return fn(address);
}
