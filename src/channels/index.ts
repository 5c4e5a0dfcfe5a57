/**
 * Channels: open named objects, connect/bind/listen on sockets, unlink. One transport per module;
 * the URL's scheme picks it.
 */
import type { MessageCodec } from '../codecs/codec.js';
import { UnsupportedError } from '../errors.js';
import type { Channel, Listener } from './channel.js';
import { transports as mqTransports } from './mq.js';
import { transports as ringTransports } from './ring.js';
import { transports as socketTransports } from './socket.js';
import { transports as streamTransports } from './stream.js';
import type { OpenOptions, SocketOptions, Transport } from './transport.js';
import { type Address, parseUrl } from './url.js';

export type {
  Channel,
  ChannelInfo,
  ChannelOptions,
  Listener,
  Message,
  ReceiveOptions,
  SendOptions,
} from './channel.js';
export type { MqAccess, MqInfo } from './mq.js';
export type { OpenOptions, PeerCredentials, SocketOptions } from './transport.js';
export { type Address, parseUrl, type Scheme } from './url.js';

const registry: Partial<Record<string, Transport>> = {
  ...mqTransports,
  ...ringTransports,
  ...socketTransports,
  ...streamTransports,
};

type Operation = 'open' | 'connect' | 'bind' | 'listen' | 'unlink';

// The entry points are async functions so that a bad URL rejects the promise rather than throwing.
function lookup<K extends Operation>(url: string, operation: K): [Address, NonNullable<Transport[K]>] {
  const address = parseUrl(url);
  const transport = registry[address.scheme];
  const fn = transport?.[operation];
  if (transport === undefined) throw new UnsupportedError(`${address.scheme}: channels are not available yet`);
  if (fn === undefined) {
    const offered = (['open', 'connect', 'bind', 'listen', 'unlink'] as const).filter((op) => transport[op]);
    throw new UnsupportedError(`${address.scheme}: channels do not support ${operation}(); use ${offered.join(', ')}`);
  }
  return [address, fn.bind(transport) as NonNullable<Transport[K]>];
}

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
export async function bind<T>(url: string, codec: MessageCodec<T>, options: SocketOptions = {}): Promise<Channel<T>> {
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
