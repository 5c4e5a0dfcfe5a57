/**
 * Socket transports: `unix+dgram:` (bind to receive from anyone and reply to `from`, or connect to
 * send), `unix+seqpacket:` (listen / connect, connections carry SO_PEERCRED), and `udp://host:port`
 * over IPv4 or IPv6: opening, binding, connecting, listening and adopting the sockets. The channel
 * they make is socket-channel.ts's SocketChannel.
 *
 * - A receiver's socket file gets exactly its mode (default 0600), stale files are replaced and live
 *   ones never taken over: see `unixbind.ts`, shared with `unix+stream`.
 * - A codec whose messages the socket cannot carry (UDP's payload limit, SO_SNDBUF) is refused at
 *   open (ensureMessageFits), before anything is sent.
 */

import type { MessageCodec } from '../codecs/codec.js';
import { MessageSizeError, ValidationError } from '../errors.js';
import { check, errnoName, errnos, libc, sockets, systemError } from '../native/index.js';
import type { DatagramChannel, Listener, PeerCredentials } from './channel.js';
import { exchangeIdentity } from './identity.js';
import { type ListenerInit, SocketListener } from './listener.js';
import { checkListener, effectiveAllow, passCredentials, peerCredentials, refuseAllow } from './peercred.js';
import { formatAddress, SOCKADDR_MAX, type SockAddr, unixAddress, unixAutobind } from './sockaddr.js';
import {
  ipAddressOf,
  SocketChannel,
  type SocketInit,
  type SocketScheme,
  UDP_IPV4_MAX,
  UDP_IPV6_MAX,
} from './socket-channel.js';
import type { AdoptOptions, SocketOptions, Transport } from './transport.js';
import { bindUnix, listenBound, unlinkSocketFile } from './unixbind.js';
import type { Address } from './url.js';
import { peerWait, sleepUntil } from './wait.js';

// --- helpers shared by the operations --------------------------------------------------------------

/** Closes `fd` when `body` throws, so a failed connect/bind leaks nothing. */
function closingOnError<R>(fd: number, body: () => R): R {
  try {
    return body();
  } catch (error) {
    libc.close(fd);
    throw error;
  }
}

async function closingOnErrorAsync<R>(fd: number, body: () => Promise<R>): Promise<R> {
  try {
    return await body();
  } catch (error) {
    libc.close(fd);
    throw error;
  }
}

/**
 * Refuses, before anything is sent, a codec whose messages the socket cannot carry: UDP's payload
 * limit, or a UNIX socket's send buffer (a datagram must fit in SO_SNDBUF − 32), raised if needed.
 */
function ensureMessageFits(fd: number, scheme: SocketScheme, family: number, codec: MessageCodec<unknown>): void {
  const size = codec.size;
  if (scheme === 'udp') {
    const limit = family === libc.AF_INET6 ? UDP_IPV6_MAX : UDP_IPV4_MAX;
    if (size > limit) {
      throw new MessageSizeError(
        size,
        limit,
        `${codec.name} messages of ${size} bytes exceed the largest UDP payload over ${family === libc.AF_INET6 ? 'IPv6' : 'IPv4'} (${limit} bytes); use a smaller schema or a unix+seqpacket/tcp channel`,
      );
    }
  }
  if (size <= sockets.getIntOption(fd, libc.SO_SNDBUF) - 32) return;
  // Unchecked: the kernel caps it at wmem_max, which the next line reads back.
  sockets.setIntOption(fd, libc.SOL_SOCKET, libc.SO_SNDBUF, size + 64, false);
  const sndbuf = sockets.getIntOption(fd, libc.SO_SNDBUF);
  if (size <= sndbuf - 32) return;
  throw new MessageSizeError(
    size,
    sndbuf - 32,
    `${codec.name} messages of ${size} bytes exceed what this ${scheme} socket can send (SO_SNDBUF ${sndbuf} − 32 bytes, capped by /proc/sys/net/core/wmem_max); raise wmem_max or use a smaller schema`,
  );
}

function socketName(fd: number, scheme: SocketScheme, peer = false): string | undefined {
  const address = new Uint8Array(SOCKADDR_MAX);
  const length = new Uint32Array([address.length]);
  const call = peer ? libc.getpeername : libc.getsockname;
  check(call(fd, address, length), peer ? 'getpeername' : 'getsockname');
  return formatAddress(scheme, address, length[0] ?? 0);
}

function socketTypeOf(scheme: SocketScheme): number {
  return scheme === 'unix+seqpacket' ? libc.SOCK_SEQPACKET : libc.SOCK_DGRAM;
}

function unixAddressOf(address: Address, scheme: SocketScheme): Address & { path: string; abstract: boolean } {
  if (address.scheme !== scheme || !('abstract' in address)) {
    throw new ValidationError('url', `a ${scheme}: URL`, JSON.stringify(address.url));
  }
  return address;
}

// --- unix+seqpacket -----------------------------------------------------------------------------------

/** Waits for seqpacket connections, each a Channel with the peer's credentials. */
class SeqpacketListener<T> extends SocketListener<T, SocketChannel<T>> {
  readonly localUrl: string;
  readonly #codec: MessageCodec<T>;

  constructor(init: ListenerInit, codec: MessageCodec<T>) {
    super(init);
    this.localUrl = init.url;
    this.#codec = codec;
  }

  protected async admit(fd: number, peer: PeerCredentials | undefined): Promise<SocketChannel<T>> {
    ensureMessageFits(fd, 'unix+seqpacket', libc.AF_UNIX, this.#codec);
    if (this.options.identity === true) await exchangeIdentity(fd, this.#codec.fingerprint, this.url, true);
    // SO_PASSCRED is inherited from the listener (af_unix.c, unix_sock_inherit_flags).
    return new SocketChannel(this.#codec, {
      scheme: 'unix+seqpacket',
      url: this.url,
      fd,
      connected: true,
      localUrl: this.url,
      peer,
      options: this.options,
      credentials: true,
    });
  }
}

/**
 * Connects a seqpacket socket, retrying while the listener's backlog is full (EAGAIN) until the
 * caller's `timeoutMs` or `signal` ends the wait (default: wait, like unix+stream's connect).
 */
async function connectSeqpacket(fd: number, sockaddr: SockAddr, url: string, options: SocketOptions): Promise<void> {
  const hints = {
    ENOENT: `no socket file at ${url}: start the listening side first`,
    ECONNREFUSED: `nobody listens at ${url}: start the listening side first`,
  };
  const wait = peerWait(`connect to ${url} (the listener's backlog is full)`, options);
  for (let delay = 1; ; delay = Math.min(delay * 2, 64)) {
    if (libc.connect(fd, sockaddr.bytes, sockaddr.length) === 0) return;
    const errno = libc.errno();
    if (errno !== errnos.EAGAIN && errno !== errnos.EINTR) {
      throw systemError(errno, 'connect', url, hints[errnoName(errno) as keyof typeof hints]);
    }
    await sleepUntil(delay, wait, options.ref !== false);
  }
}

const seqpacket: Transport = {
  async connect<T>(address: Address, codec: MessageCodec<T>, options: SocketOptions): Promise<SocketChannel<T>> {
    const unix = unixAddressOf(address, 'unix+seqpacket');
    effectiveAllow(options, false);
    const sockaddr = unixAddress(unix.path, unix.abstract, unix.url);
    const fd = sockets.openSocket(libc.AF_UNIX, libc.SOCK_SEQPACKET, unix.url);
    return closingOnErrorAsync(fd, async () => {
      passCredentials(fd);
      await connectSeqpacket(fd, sockaddr, unix.url, options);
      const peer = checkListener(fd, unix.url, options);
      ensureMessageFits(fd, 'unix+seqpacket', libc.AF_UNIX, codec);
      if (options.identity === true) await exchangeIdentity(fd, codec.fingerprint, unix.url, true, options);
      return new SocketChannel(codec, {
        scheme: 'unix+seqpacket',
        url: unix.url,
        fd,
        connected: true,
        peer,
        options,
        credentials: true,
        connector: true,
      });
    });
  },

  async listen<T>(address: Address, codec: MessageCodec<T>, options: SocketOptions): Promise<Listener<T>> {
    const unix = unixAddressOf(address, 'unix+seqpacket');
    const allow = effectiveAllow(options, unix.abstract);
    const fd = sockets.openSocket(libc.AF_UNIX, libc.SOCK_SEQPACKET, unix.url);
    return closingOnError(fd, () => {
      // Accepted connections inherit it: records sent before accept carry credentials too.
      passCredentials(fd);
      const bound = bindUnix(fd, unix, libc.SOCK_SEQPACKET, options.mode);
      listenBound(fd, options.backlog, unix.url, bound);
      const init = { url: unix.url, transport: 'unix+seqpacket', fd, options, bound, unix: true, allow };
      return new SeqpacketListener(init, codec);
    });
  },

  async unlink(address: Address): Promise<void> {
    unlinkSocketFile(unixAddressOf(address, 'unix+seqpacket'));
  },
};

// --- unix+dgram ------------------------------------------------------------------------------------------

const unixDgram: Transport = {
  async connect<T>(address: Address, codec: MessageCodec<T>, options: SocketOptions): Promise<SocketChannel<T>> {
    const unix = unixAddressOf(address, 'unix+dgram');
    // A connected datagram socket receives only from its peer (af_unix.c, unix_may_send), so nothing
    // is checked by default; `allow` checks each reply's sender all the same.
    const allow = effectiveAllow(options, false);
    const sockaddr = unixAddress(unix.path, unix.abstract, unix.url);
    const fd = sockets.openSocket(libc.AF_UNIX, libc.SOCK_DGRAM, unix.url);
    return closingOnError(fd, () => {
      ensureMessageFits(fd, 'unix+dgram', libc.AF_UNIX, codec);
      if (allow !== undefined) passCredentials(fd);
      // Autobind to a unique abstract name, so that the receiver can reply to this socket's `from`.
      const autobind = unixAutobind();
      check(libc.bind(fd, autobind.bytes, autobind.length), 'bind');
      check(libc.connect(fd, sockaddr.bytes, sockaddr.length), 'connect', unix.url, {
        ENOENT: `no socket file at ${unix.url}: bind the receiving side first`,
        ECONNREFUSED: `nobody is bound at ${unix.url}: bind the receiving side first`,
      });
      return new SocketChannel(codec, {
        scheme: 'unix+dgram',
        url: unix.url,
        fd,
        connected: true,
        peerUrl: unix.url,
        localUrl: socketName(fd, 'unix+dgram'),
        options,
        credentials: allow !== undefined,
        allow,
      });
    });
  },

  async bind<T>(address: Address, codec: MessageCodec<T>, options: SocketOptions): Promise<DatagramChannel<T>> {
    const unix = unixAddressOf(address, 'unix+dgram');
    const allow = effectiveAllow(options, unix.abstract);
    const fd = sockets.openSocket(libc.AF_UNIX, libc.SOCK_DGRAM, unix.url);
    return closingOnError(fd, () => {
      ensureMessageFits(fd, 'unix+dgram', libc.AF_UNIX, codec);
      // Before bind: no datagram can arrive without its sender's credentials.
      if (allow !== undefined) passCredentials(fd);
      const bound = bindUnix(fd, unix, libc.SOCK_DGRAM, options.mode);
      return new SocketChannel(codec, {
        scheme: 'unix+dgram',
        url: unix.url,
        fd,
        connected: false,
        localUrl: unix.url,
        bound,
        options,
        credentials: allow !== undefined,
        allow,
      });
    });
  },

  async unlink(address: Address): Promise<void> {
    unlinkSocketFile(unixAddressOf(address, 'unix+dgram'));
  },
};

// --- udp -----------------------------------------------------------------------------------------------

/**
 * A udp socket for `address` made a channel once `attach` connected or bound it (returning whether it
 * is connected and its peer's URL).
 */
async function udpChannel<T>(
  address: Address,
  codec: MessageCodec<T>,
  options: SocketOptions,
  attach: (fd: number, sockaddr: SockAddr) => Pick<SocketInit, 'connected' | 'peerUrl'>,
): Promise<SocketChannel<T>> {
  refuseAllow('udp', options.allow);
  const sockaddr = await ipAddressOf(address);
  const fd = sockets.openSocket(sockaddr.family, libc.SOCK_DGRAM, address.url);
  return closingOnError(fd, () => {
    ensureMessageFits(fd, 'udp', sockaddr.family, codec);
    const ends = attach(fd, sockaddr);
    return new SocketChannel(codec, {
      scheme: 'udp',
      url: address.url,
      fd,
      ...ends,
      localUrl: socketName(fd, 'udp'),
      options,
    });
  });
}

const udp: Transport = {
  async connect<T>(address: Address, codec: MessageCodec<T>, options: SocketOptions): Promise<SocketChannel<T>> {
    return udpChannel(address, codec, options, (fd, sockaddr) => {
      check(libc.connect(fd, sockaddr.bytes, sockaddr.length), 'connect', address.url);
      return { connected: true, peerUrl: socketName(fd, 'udp', true) };
    });
  },

  async bind<T>(address: Address, codec: MessageCodec<T>, options: SocketOptions): Promise<DatagramChannel<T>> {
    return udpChannel(address, codec, options, (fd, sockaddr) => {
      check(libc.bind(fd, sockaddr.bytes, sockaddr.length), 'bind', address.url, {
        EADDRINUSE: `another socket is bound to ${address.url}; pick another port (or port 0 for any free one)`,
        EADDRNOTAVAIL: `${address.url} is not an address of this machine`,
      });
      return { connected: false };
    });
  },
};

// --- adopting inherited descriptors (see child.ts) -------------------------------------------------------

/** Creates a connected pair of UNIX sockets of `scheme`'s type: [parent's end (non-blocking), child's end]. */
function socketPair(scheme: 'unix+dgram' | 'unix+seqpacket'): [number, number] {
  return sockets.socketPair(socketTypeOf(scheme));
}

/**
 * Wraps an already connected socket descriptor (a socketpair end, possibly inherited) as a channel.
 * The descriptor is made non-blocking and close-on-exec; its type must match `scheme`.
 */
function adoptSocket<T>(
  scheme: 'unix+dgram' | 'unix+seqpacket',
  fd: number,
  codec: MessageCodec<T>,
  options: AdoptOptions,
): SocketChannel<T> {
  const notSocket = `descriptor ${fd} is not a socket: the parent did not pass a ${scheme} socketpair end there`;
  sockets.adoptSocket(fd, socketTypeOf(scheme), `a ${scheme} socket`, notSocket);
  ensureMessageFits(fd, scheme, libc.AF_UNIX, codec);
  const url = `${scheme}:(fd ${fd})`;
  const peer = options.peer === false ? undefined : peerCredentials(fd);
  // Seqpacket: tells an empty record from the end of the connection (see #fill).
  const credentials = scheme === 'unix+seqpacket';
  if (credentials) passCredentials(fd);
  return new SocketChannel(codec, { scheme, url, fd, connected: true, peer, options, credentials });
}

function pairable(scheme: 'unix+dgram' | 'unix+seqpacket'): Pick<Transport, 'pair' | 'adopt'> {
  return {
    pair: () => socketPair(scheme),
    adopt: <T>(fd: number, codec: MessageCodec<T>, options: AdoptOptions) => adoptSocket(scheme, fd, codec, options),
  };
}

/** The socket transports, by scheme, for the entry points in `index.ts` and the child helper. */
export const transports: Partial<Record<string, Transport>> = {
  'unix+dgram': { ...unixDgram, ...pairable('unix+dgram') },
  'unix+seqpacket': { ...seqpacket, ...pairable('unix+seqpacket') },
  udp,
};
