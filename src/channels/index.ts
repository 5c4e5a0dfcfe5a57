/**
 * Channels: open named objects, connect/bind/listen on sockets, unlink. One transport per module;
 * the URL's scheme picks it.
 */
import type { MessageCodec } from '../codecs/codec.js';
import type { Channel, DatagramChannel, Listener } from './channel.js';
import type { NatsChannel, NatsOptions } from './nats.js';
import type { PubSubOptions } from './pubsub/index.js';
import { lookup } from './registry.js';
import type { OpenOptions, SocketOptions } from './transport.js';
import type { Address } from './url.js';
import { checkWaitOption } from './wait-strategy.js';

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
export { RECEIVE_BATCH_LIMIT } from './inbox.js';
export { type MqAccess, type MqInfo, type QueueAttributes, readQueueAttributes } from './mq.js';
export {
  NATS_SCHEMA_HEADER,
  type NatsAckOptions,
  type NatsChannel,
  NatsError,
  type NatsInfo,
  type NatsMessage,
  type NatsOptions,
  type NatsSendOptions,
  type NatsStreamLimits,
  type NatsTlsOptions,
} from './nats.js';
// The pub/sub, ring and System V modules load when their URL is first opened (registry.ts): from
// them only types and the header readers, which do not load them.
export { type PubSubHeader, readPubSubHeader } from './pubsub/header.js';
export type { PubSubMessage, PubSubOptions, PubSubPolicy } from './pubsub/index.js';
export { type RingHeader, readRingHeader } from './ring/header.js';
export { adoptStream, LENGTH_PREFIX_BYTES, type StreamChannel, type StreamListener } from './stream.js';
export type { SysvInfo } from './sysv/index.js';
export { type SysvQueueEntry, sysvQueues } from './sysv/queues.js';
export type {
  AdoptOptions,
  Direction,
  OpenOptions,
  PairOptions,
  PeerWaitOptions,
  SocketOptions,
} from './transport.js';
export { type Address, parseUrl, type Scheme, type SysvTarget } from './url.js';
export { MAX_SPIN_US, type WaitOption } from './wait-strategy.js';

/** A NATS subject's URL (`nats://host:port/subject`): `open` and `connect` resolve to a NatsChannel. */
export type NatsUrl = `nats://${string}`;
/** A pub/sub segment's URL (`shm+pubsub:/name`): `open` takes PubSubOptions. */
export type PubSubUrl = `shm+pubsub:${string}`;

/** What each entry point resolves to. */
interface Started<T> {
  open: Channel<T>;
  connect: Channel<T>;
  bind: DatagramChannel<T>;
  listen: Listener<T>;
}

/**
 * The URL's transport runs `verb`, after the one check every entry point makes (the `wait` option).
 * Async, so that a bad URL or option rejects the entry point's promise rather than throwing.
 */
async function start<T, K extends keyof Started<T>>(
  verb: K,
  url: string,
  codec: MessageCodec<T>,
  options: OpenOptions | SocketOptions = {},
): Promise<Started<T>[K]> {
  const [address, fn] = lookup(url, verb);
  checkWaitOption(address.scheme, options.wait);
  // The registry's operation of that name (Transport[K]), whose generic signature TypeScript cannot index.
  const run = fn as (address: Address, codec: MessageCodec<T>, options: object) => Promise<Started<T>[K]>;
  return run(address, codec, options);
}

/**
 * Opens a named object (`mq:`, `shm:`, `fifo:`, `sysv:`) or a NATS subject (`nats://host:port/subject`)
 * as a channel. Two processes that open one queue or ring should both pass `create: true` (the first
 * creates it, the second opens it), or start the creating side first.
 *
 * @example
 * ```ts
 * const Sample = struct('sample', { channel: u16, timestamp: u64, value: f64 });
 * await using tx = await open('mq:/samples', Sample, { create: true, capacity: 10 });
 * await tx.send({ channel: 1, timestamp: 1n, value: 0.5 }, { priority: 3 });
 * ```
 * @throws {@link ValidationError} for a malformed URL or bad options (nothing is opened).
 * @throws {@link SystemError} from the kernel, with errno and a hint: `ENOENT` (does not exist and no
 *   `create`), `EACCES` (its mode does not grant this user), `EMFILE`/`ENOSPC` (queue limits).
 * @throws {@link MessageSizeError} when the object carries messages of another size than the codec,
 *   or the codec's size exceeds the transport's limit (e.g. `/proc/sys/fs/mqueue/msgsize_max`).
 * @throws {@link SchemaError} when a ring was created for a codec with another fingerprint.
 * @throws {@link UnsupportedError} for a scheme that cannot be opened (sockets: use connect, bind, listen).
 */
export function open<T>(url: NatsUrl, codec: MessageCodec<T>, options?: NatsOptions): Promise<NatsChannel<T>>;
export function open<T>(url: PubSubUrl, codec: MessageCodec<T>, options?: PubSubOptions): Promise<Channel<T>>;
export function open<T>(url: string, codec: MessageCodec<T>, options?: OpenOptions): Promise<Channel<T>>;
export function open<T>(url: string, codec: MessageCodec<T>, options?: OpenOptions): Promise<Channel<T>> {
  return start('open', url, codec, options);
}

/**
 * Connects to a socket address (`unix+*:`, `udp:`, `tcp:`) or a NATS subject (same as `open`).
 *
 * @example
 * ```ts
 * await using client = await connect('unix+seqpacket:/tmp/control.sock', Sample);
 * await client.send({ channel: 1, timestamp: 1n, value: 0.5 });
 * ```
 * @throws {@link ValidationError} for a malformed URL or bad options.
 * @throws {@link SystemError} `ENOENT` or `ECONNREFUSED` when nobody listens or is bound there
 *   (start that side first), `EACCES` when the socket file's mode does not grant this user.
 * @throws {@link UnsupportedError} for a scheme without connect (`mq:`, `shm:`, `fifo:`: use open).
 */
export function connect<T>(url: NatsUrl, codec: MessageCodec<T>, options?: NatsOptions): Promise<NatsChannel<T>>;
export function connect<T>(url: string, codec: MessageCodec<T>, options?: SocketOptions): Promise<Channel<T>>;
export function connect<T>(url: string, codec: MessageCodec<T>, options?: SocketOptions): Promise<Channel<T>> {
  return start('connect', url, codec, options);
}

/**
 * Binds a datagram socket (`unix+dgram:`, `udp:`) to receive from any sender; every message carries
 * `from`, which `sendTo` replies to. A stale socket file left by a dead process is replaced.
 *
 * @example
 * ```ts
 * await using server = await bind('unix+dgram:/tmp/samples.sock', Sample);
 * const { value, from } = await server.receive({ timeoutMs: 1000 });
 * await server.sendTo(from!, value);
 * ```
 * @throws {@link ValidationError} for a malformed URL or bad options.
 * @throws {@link SystemError} `EADDRINUSE` when a live process holds the address, `EACCES` for a
 *   directory this user cannot write.
 * @throws {@link UnsupportedError} for a scheme that is not a datagram socket.
 */
export function bind<T>(url: string, codec: MessageCodec<T>, options?: SocketOptions): Promise<DatagramChannel<T>> {
  return start('bind', url, codec, options);
}

/**
 * Listens on a connection-oriented socket (`unix+seqpacket:`, `unix+stream:`, `tcp:`); `allow` admits
 * peers by uid (SO_PEERCRED).
 *
 * @example
 * ```ts
 * await using listener = await listen('unix+seqpacket:/tmp/control.sock', Sample, { allow: [process.getuid!()] });
 * for await (const connection of listener) {
 *   for await (const { value } of connection) console.log(connection.peer, value);
 * }
 * ```
 * @throws {@link ValidationError} for a malformed URL or bad options.
 * @throws {@link SystemError} `EADDRINUSE` when a live process listens there already.
 * @throws {@link UnsupportedError} for a scheme without connections (`unix+dgram:`, `udp:`: use bind).
 */
export function listen<T>(url: string, codec: MessageCodec<T>, options?: SocketOptions): Promise<Listener<T>> {
  return start('listen', url, codec, options);
}

/**
 * Removes a named object (queue, segment, FIFO, socket file). Processes that have it open keep using
 * it; the name is free at once.
 *
 * @example
 * ```ts
 * await unlink('mq:/samples');
 * ```
 * @throws {@link ValidationError} for a malformed URL.
 * @throws {@link SystemError} `ENOENT` when nothing has that name, `EACCES` when this user may not remove it.
 */
export async function unlink(url: string): Promise<void> {
  const [address, fn] = lookup(url, 'unlink');
  return fn(address);
}
