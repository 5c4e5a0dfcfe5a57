/**
 * Stream sockets as StreamChannels: UNIX stream sockets (`unix+stream:path` or `@name`, with the
 * peer's credentials and `allow`) and TCP (`tcp://host:port`, TCP_NODELAY). connect, listen/accept,
 * socketpairs for child processes.
 *
 * Kernel behaviour that shapes this module:
 * - A UNIX listener with a full backlog answers EAGAIN to a non-blocking connect (no event says when
 *   it has room: connect retries on a back-off); TCP answers EINPROGRESS, and writability then
 *   SO_ERROR say how the connect ended.
 */
import type { MessageCodec } from '../codecs/codec.js';
import { UnsupportedError } from '../errors.js';
import { check, errnos, libc, sockets, systemError } from '../native/index.js';
import type { Channel, ChannelOptions, Listener } from './channel.js';
import { exchangeIdentity } from './identity.js';
import { type ListenerInit, SocketListener } from './listener.js';
import { checkListener, effectiveAllow, refuseAllow } from './peercred.js';
import { formatAddress, resolveIpAddress, SOCKADDR_MAX, type SockAddr, unixAddress } from './sockaddr.js';
import { adoptStream, StreamChannel } from './stream.js';
import type { PeerCredentials, SocketOptions, Transport } from './transport.js';
import { type BoundFile, bindUnix, listenBound, unlinkSocketFile } from './unixbind.js';
import type { Address } from './url.js';
import { peerWait, sleepUntil } from './wait.js';

async function resolveEndpoint(address: Address): Promise<SockAddr> {
  if (address.scheme === 'unix+stream') return unixAddress(address.path, address.abstract, address.url);
  if (address.scheme !== 'tcp') throw new UnsupportedError(`${address.url}: not a stream socket URL`);
  return resolveIpAddress(address.host, address.port);
}

function socketChannel<T>(
  codec: MessageCodec<T>,
  url: string,
  transport: string,
  fd: number,
  options: ChannelOptions,
  peer?: PeerCredentials,
  connector = false,
): StreamChannel<T> {
  return new StreamChannel(codec, {
    url,
    transport,
    fd,
    kind: 'socket',
    access: 'both',
    connector,
    ...(peer === undefined ? {} : { peer }),
    ...(options.ref === undefined ? {} : { ref: options.ref }),
  });
}

async function connectStream<T>(address: Address, codec: MessageCodec<T>, options: SocketOptions): Promise<Channel<T>> {
  if (address.scheme === 'tcp') refuseAllow('tcp', options.allow);
  else effectiveAllow(options, false);
  const endpoint = await resolveEndpoint(address);
  const unix = endpoint.family === libc.AF_UNIX;
  const wait = peerWait(`connect to ${address.url}`, options);
  const fd = sockets.openSocket(endpoint.family, libc.SOCK_STREAM, address.url);
  let channel: StreamChannel<T> | undefined;
  try {
    for (let delay = 1; ; delay = Math.min(delay * 2, 64)) {
      if (libc.connect(fd, endpoint.bytes, endpoint.length) === 0) break;
      const errno = libc.errno();
      if (errno === errnos.EINPROGRESS && !unix) {
        channel = socketChannel(codec, address.url, address.scheme, fd, options);
        await channel.finishConnect(options);
        break;
      }
      // A UNIX listener with a full backlog answers EAGAIN to a non-blocking connect: try again later.
      if (errno !== errnos.EAGAIN && errno !== errnos.EINTR) throw systemError(errno, 'connect', address.url);
      await sleepUntil(delay, wait, options.ref !== false);
    }
    if (!unix) sockets.setIntOption(fd, libc.IPPROTO_TCP, libc.TCP_NODELAY, 1);
    const peer = unix ? checkListener(fd, address.url, options) : undefined;
    if (options.identity === true) await exchangeIdentity(fd, codec.fingerprint, address.url, false, options);
    if (unix) {
      return socketChannel(codec, address.url, address.scheme, fd, options, peer, true);
    }
    return channel ?? socketChannel(codec, address.url, address.scheme, fd, options);
  } catch (error) {
    if (channel === undefined) libc.close(fd);
    else await channel.close();
    throw error;
  }
}

/** A listening UNIX stream or TCP socket: each accepted connection is a StreamChannel. */
export class StreamListener<T> extends SocketListener<T> {
  readonly #codec: MessageCodec<T>;

  constructor(init: ListenerInit, codec: MessageCodec<T>) {
    super(init);
    this.#codec = codec;
  }

  protected async admit(fd: number, peer: PeerCredentials | undefined): Promise<Channel<T>> {
    if (this.transport === 'tcp') sockets.setIntOption(fd, libc.IPPROTO_TCP, libc.TCP_NODELAY, 1);
    if (this.options.identity === true) await exchangeIdentity(fd, this.#codec.fingerprint, this.url, false);
    return socketChannel(this.#codec, this.url, this.transport, fd, this.options, peer);
  }
}

async function listenStream<T>(address: Address, codec: MessageCodec<T>, options: SocketOptions): Promise<Listener<T>> {
  if (address.scheme === 'tcp') refuseAllow('tcp', options.allow);
  const allow = address.scheme === 'unix+stream' ? effectiveAllow(options, address.abstract) : undefined;
  const endpoint = await resolveEndpoint(address);
  const fd = sockets.openSocket(endpoint.family, libc.SOCK_STREAM, address.url);
  try {
    let bound: BoundFile | undefined;
    if (address.scheme === 'unix+stream') {
      bound = bindUnix(fd, address, libc.SOCK_STREAM, options.mode);
    } else {
      sockets.setIntOption(fd, libc.SOL_SOCKET, libc.SO_REUSEADDR, 1);
      check(libc.bind(fd, endpoint.bytes, endpoint.length), 'bind', address.url);
    }
    listenBound(fd, options.backlog, address.url, bound);
    let url = address.url;
    if (address.scheme === 'tcp') {
      // Port 0 asks the kernel for a free port: the listener's URL names the one it got.
      const bound = new Uint8Array(SOCKADDR_MAX);
      const length = new Uint32Array([bound.length]);
      check(libc.getsockname(fd, bound, length), 'getsockname');
      url = formatAddress('tcp', bound, length[0]!) ?? url;
    }
    const unix = address.scheme === 'unix+stream';
    return new StreamListener({ url, transport: address.scheme, fd, options, bound, unix, allow }, codec);
  } catch (error) {
    libc.close(fd);
    throw error;
  }
}

async function unlinkStreamSocket(address: Address): Promise<void> {
  if (address.scheme !== 'unix+stream') throw new UnsupportedError(`${address.url}: not a unix+stream: URL`);
  unlinkSocketFile(address);
}

/** A UNIX stream socketpair for a child: [parent's end (non-blocking), child's end (blocking)]. */
function streamPair(): [number, number] {
  return sockets.socketPair(libc.SOCK_STREAM);
}

/** The stream socket transports, by URL scheme. */
export const transports: Partial<Record<string, Transport>> = {
  'unix+stream': {
    connect: connectStream,
    listen: listenStream,
    unlink: unlinkStreamSocket,
    pair: streamPair,
    adopt: adoptStream,
  },
  tcp: { connect: connectStream, listen: listenStream },
};
