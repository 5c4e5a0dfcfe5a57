/**
 * The listening socket shared by the connection-oriented transports (unix+seqpacket, unix+stream,
 * tcp): a non-blocking accept4 loop woken by the event loop, the `allow` check of UNIX peers (with
 * the refusal count in info() and the `onRefused` callback), async iteration, and a close that stops
 * polling before the descriptor goes and removes the socket file this listener bound. A transport
 * supplies only `admit`: how an accepted (and admitted) descriptor becomes a channel.
 */
import { ChannelClosedError } from '../errors.js';
import { deadlineOf, errnos, FdWatch, libc, systemError, type WaitOptions } from '../native/index.js';
import type { Channel, Listener, ListenerInfo, PeerCredentials, ReceiveOptions } from './channel.js';
import { type Allow, describeAllow, isAllowed, peerCredentials, reportRefusal } from './peercred.js';
import type { SocketOptions } from './transport.js';
import { type BoundFile, removeBoundFile } from './unixbind.js';

/** How a listener was set up (internal). */
export interface ListenerInit {
  readonly url: string;
  readonly transport: string;
  readonly fd: number;
  readonly options: SocketOptions;
  readonly bound?: BoundFile | undefined;
  /** UNIX listeners read each peer's SO_PEERCRED and check it against `allow` (TCP has none). */
  readonly unix: boolean;
  /** The allow list enforced (see effectiveAllow: the option, or the abstract-name default). */
  readonly allow?: Allow | undefined;
}

/** A listening socket whose accepted connections are channels of `C`. */
export abstract class SocketListener<T, C extends Channel<T> = Channel<T>> implements Listener<T> {
  readonly url: string;
  readonly transport: string;
  protected readonly options: SocketOptions;
  readonly #fd: number;
  readonly #watch: FdWatch;
  readonly #bound: BoundFile | undefined;
  readonly #unix: boolean;
  readonly #allow: Allow | undefined;
  #refused = 0;
  #accepted = 0;
  #closed = false;

  protected constructor(init: ListenerInit) {
    this.url = init.url;
    this.transport = init.transport;
    this.options = init.options;
    this.#fd = init.fd;
    this.#bound = init.bound;
    this.#unix = init.unix;
    this.#allow = init.allow;
    this.#watch = new FdWatch(init.fd);
    if (init.options.ref === false) this.#watch.unref();
  }

  /**
   * Turns an accepted, non-blocking descriptor of an admitted peer (`peer`: its SO_PEERCRED, on UNIX
   * sockets) into a channel.
   */
  protected abstract admit(fd: number, peer: PeerCredentials | undefined): C | Promise<C>;

  /** Connections closed because their peer failed the `allow` check. */
  get refusedPeers(): number {
    return this.#refused;
  }

  info(): ListenerInfo {
    return {
      url: this.url,
      transport: this.transport,
      accepted: this.#accepted,
      refused: this.#refused,
      ...(this.#unix ? { admits: describeAllow(this.#allow) } : {}),
    };
  }

  get closed(): boolean {
    return this.#closed;
  }

  async accept(options: ReceiveOptions = {}): Promise<C> {
    const wait: WaitOptions = {
      deadline: deadlineOf(options.timeoutMs),
      timeoutMs: options.timeoutMs,
      signal: options.signal,
      operation: `accept on ${this.url}`,
    };
    for (;;) {
      if (this.#closed) throw new ChannelClosedError(`${this.url} is closed`);
      const fd = libc.accept4(this.#fd, null, null, libc.SOCK_NONBLOCK | libc.SOCK_CLOEXEC);
      if (fd < 0) {
        const errno = libc.errno();
        if (errno === errnos.EAGAIN) await this.#watch.readable(wait);
        else if (errno !== errnos.ECONNABORTED && errno !== errnos.EINTR) throw systemError(errno, 'accept4', this.url);
        continue;
      }
      let channel: C | undefined;
      try {
        const peer = this.#unix ? peerCredentials(fd) : undefined;
        if (peer === undefined || isAllowed(this.#allow, peer)) channel = await this.admit(fd, peer);
        else this.#refuse(peer);
      } catch (error) {
        libc.close(fd);
        throw error;
      }
      if (channel !== undefined) {
        this.#accepted += 1;
        return channel;
      }
      // Refused: closed unread, so the peer sees EOF or EPIPE and nothing it sent is read.
      libc.close(fd);
    }
  }

  #refuse(peer: PeerCredentials): void {
    this.#refused += 1;
    reportRefusal(this.options, peer);
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<C, void, undefined> {
    for (;;) {
      try {
        yield await this.accept();
      } catch (error) {
        if (error instanceof ChannelClosedError && this.#closed) return;
        throw error;
      }
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Stop polling before the descriptor is closed: libuv must not watch a recycled fd number.
    this.#watch.close(new ChannelClosedError(`${this.url} was closed`));
    libc.close(this.#fd);
    removeBoundFile(this.#bound);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
