/**
 * What a transport module provides to the entry points (`open`, `connect`, `bind`, `listen`,
 * `unlink`). Each transport implements the operations that make sense for it.
 */
import type { MessageCodec } from '../codecs/codec.js';
import type { Channel, ChannelOptions, DatagramChannel, Listener, PeerCredentials } from './channel.js';
import type { Address } from './url.js';

/** How long opening or connecting may wait for the other end (a FIFO writer for its reader, connect). */
export interface PeerWaitOptions {
  /** Give up with TimeoutError when the other end does not show up this long; default: wait forever. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/** Options of `open` for named objects; each transport reads the fields that concern it. */
export interface OpenOptions extends ChannelOptions, PeerWaitOptions {
  /** Create the object when it does not exist. */
  readonly create?: boolean;
  /** With `create`: fail with EEXIST when it exists already (claim the name). */
  readonly exclusive?: boolean;
  /** Permission bits of a created object; default 0o600. */
  readonly mode?: number;
  /** How many messages the object holds before `send` waits. */
  readonly capacity?: number;
  /** Which directions this end uses; default both (a FIFO is one-way and needs 'send' or 'receive'). */
  readonly access?: 'send' | 'receive' | 'both';
  /**
   * FIFO writers: this end shares the FIFO with other writers. Every write is then a whole number of
   * records of at most PIPE_BUF bytes (atomic, never interleaved); larger records are refused.
   */
  readonly shared?: boolean;
  /** System V queues (`sysv:`): `msg_qbytes` of a created queue, in bytes of message text (default msgmnb). */
  readonly capacityBytes?: number;
  /**
   * System V queues: which messages `receive` takes (msgrcv's msgtyp): 0 any (the default), n > 0 only
   * type n, n < 0 the lowest type <= -n.
   */
  readonly receiveType?: number;
  /** System V queues, with `receiveType` > 0: every type but that one (MSG_EXCEPT). */
  readonly except?: boolean;
  /** System V queues: the longest pause, in ms, between two tries of a waiting send or receive (default 10). */
  readonly pollMaxMs?: number;
}

export type { PeerCredentials };

/** Options of `connect`, `bind` and `listen` for sockets. */
export interface SocketOptions extends ChannelOptions, PeerWaitOptions {
  /** Permission bits of a socket file created by bind/listen; default 0o600. */
  readonly mode?: number;
  /**
   * Only peers with these uids, or for which the function returns true, are admitted: SO_PEERCRED per
   * connection on unix+seqpacket and unix+stream, SCM_CREDENTIALS per datagram on unix+dgram (refused
   * datagrams are dropped and counted). Default: on an abstract (`@name`) address, only this process's
   * effective uid; on a path, anyone the socket file's mode lets in. `'anyone'` admits every uid
   * (an abstract name then has no protection at all). Refused with UnsupportedError on udp.
   */
  readonly allow?: readonly number[] | ((peer: PeerCredentials) => boolean) | 'anyone';
  /** Called (on a later microtask) with the credentials of every peer or datagram `allow` refused. */
  readonly onRefused?: (peer: PeerCredentials & { readonly from?: string | undefined }) => void;
  /** listen backlog. */
  readonly backlog?: number;
  /**
   * Exchange and check the codec's fingerprint when the connection is made (unix+seqpacket,
   * unix+stream, tcp; see identity.ts): a peer with another schema fails connect/accept with
   * SchemaMismatchError naming both fingerprints. Both ends must set it (C: typed_ipc_identity.h).
   */
  readonly identity?: boolean;
}

/** Which way the parent's end of a pair carries messages (the child's end goes the other way). */
export type Direction = 'send' | 'receive' | 'both';

/** Options of a transport's `pair`. */
export interface PairOptions {
  /** The parent's direction; one-way transports (pipes) need it, sockets are always both. */
  readonly direction?: Direction;
}

/** Options of a transport's `adopt`. */
export interface AdoptOptions extends ChannelOptions {
  /** This end's direction, for one-way transports. */
  readonly direction?: Direction;
  /**
   * Whether to read the peer's credentials (SO_PEERCRED). False in the parent of a socketpair, where
   * the kernel reports the parent itself (the pair's creator).
   */
  readonly peer?: boolean;
}

/** The operations one transport offers. */
export interface Transport {
  open?<T>(address: Address, codec: MessageCodec<T>, options: OpenOptions): Promise<Channel<T>>;
  connect?<T>(address: Address, codec: MessageCodec<T>, options: SocketOptions): Promise<Channel<T>>;
  bind?<T>(address: Address, codec: MessageCodec<T>, options: SocketOptions): Promise<DatagramChannel<T>>;
  listen?<T>(address: Address, codec: MessageCodec<T>, options: SocketOptions): Promise<Listener<T>>;
  unlink?(address: Address): Promise<void>;
  /**
   * Creates a connected pair of descriptors for a child process (see `child.ts`): the parent's end
   * non-blocking and close-on-exec, the child's end blocking (a C child may use it as-is).
   */
  pair?(options: PairOptions): [parentFd: number, childFd: number];
  /** Wraps a connected descriptor (a pair's end, possibly inherited) as a channel; takes ownership of it. */
  adopt?<T>(fd: number, codec: MessageCodec<T>, options: AdoptOptions): Channel<T>;
}
