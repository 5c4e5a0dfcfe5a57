/**
 * The listening socket shared by the connection-oriented transports (unix+seqpacket, unix+stream,
 * tcp): a non-blocking accept4 loop woken by the event loop, the `allow` refusal count, async
 * iteration, and a close that stops polling before the descriptor goes and removes the socket file
 * this listener bound. A transport supplies only `admit`: how an accepted descriptor becomes a channel.
 */
import { ChannelClosedError } from '../errors.js';
import { deadlineOf, errnos, FdWatch, libc, systemError, type WaitOptions } from '../native/index.js';
import type { Channel, Listener, ReceiveOptions } from './channel.js';
import type { SocketOptions } from './transport.js';
import { type BoundFile, removeBoundFile } from './unixbind.js';

/** A listening socket whose accepted connections are channels of `C`. */
export abstract class SocketListener<T, C extends Channel<T> = Channel<T>> implements Listener<T> {
  readonly url: string;
  /** Connections dropped because their peer failed the `allow` check. */
  refusedPeers = 0;
  protected readonly options: SocketOptions;
  readonly #fd: number;
  readonly #watch: FdWatch;
  readonly #bound: BoundFile | undefined;
  #closed = false;

  protected constructor(url: string, fd: number, options: SocketOptions, bound: BoundFile | undefined) {
    this.url = url;
    this.options = options;
    this.#fd = fd;
    this.#bound = bound;
    this.#watch = new FdWatch(fd);
    if (options.ref === false) this.#watch.unref();
  }

  /**
   * Turns an accepted, non-blocking descriptor into a channel, or returns undefined to refuse the
   * peer (the listener then closes it: the peer sees EOF or EPIPE, and nothing it sent is read).
   */
  protected abstract admit(fd: number): C | undefined;

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
        channel = this.admit(fd);
      } catch (error) {
        libc.close(fd);
        throw error;
      }
      if (channel !== undefined) return channel;
      this.refusedPeers += 1;
      libc.close(fd);
    }
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
