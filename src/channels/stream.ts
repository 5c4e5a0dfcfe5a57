/**
 * A typed channel over a byte stream (FIFO, pipe, UNIX stream socket, TCP connection), and adopting
 * an inherited pipe end or stream socket. The FIFO and pipe transports are in fifo.ts, the stream
 * socket ones (`unix+stream:`, `tcp:`) in stream-socket.ts.
 *
 * Framing. A stream has no message boundaries, so the channel makes them:
 * - a fixed-size codec (a C struct) puts each record on the stream as exactly `codec.size` bytes,
 *   back to back, with nothing in between: a C peer does `read(fd, &rec, sizeof rec)` in a loop;
 * - a variable-size codec (msgpack) puts a 4-byte little-endian unsigned length N (N <= the codec's
 *   `size`, its maxSize) before the N bytes of each message.
 * Partial reads are reassembled in a receive buffer; a record never comes out torn or shifted.
 *
 * Sends. A record is never half-sent from the caller's point of view: when the kernel takes only
 * part of it, the base's send queue keeps the rest first in line and writes it as soon as there is
 * room, and `send` resolves once the whole record is in the kernel. A record whose first byte is in
 * the kernel is committed: `timeoutMs`/`signal` can withdraw a queued record only before that. Queued
 * records are coalesced into one write, and `sendMany` writes a whole batch with one call, because a
 * koffi call costs ~250 ns and a syscall more: bytes per syscall is what wins.
 */

import { fstatSync } from 'node:fs';
import type { MessageCodec } from '../codecs/codec.js';
import { ChannelClosedError, DecodeError, MessageSizeError, ValidationError } from '../errors.js';
import { errnoName, errnos, libc, sockets, systemError } from '../native/index.js';
import {
  type ChannelInfo,
  type ChannelOptions,
  FdChannel,
  type Message,
  type Outgoing,
  type ReceivedSink,
  recordEnd,
} from './channel.js';
import { peerCredentials, refusalHint } from './peercred.js';
import type { AdoptOptions, Direction, PeerCredentials, PeerWaitOptions } from './transport.js';
import { peerWait } from './wait.js';

export type { StreamListener } from './stream-socket.js';

/** Bytes of the length prefix that variable-size codecs get on a stream (u32, little-endian). */
export const LENGTH_PREFIX_BYTES = 4;
/** Receive buffer per channel: one read() takes up to this many bytes (many records per syscall). */
const RECEIVE_BUFFER = 128 * 1024;

type Access = Direction;

/** How a StreamChannel is set up (internal; the entry points below fill it in). */
export interface StreamInit extends ChannelOptions {
  readonly url: string;
  readonly transport: string;
  readonly fd: number;
  /** `socket` descriptors are written with send(MSG_NOSIGNAL); `pipe` ones with write(). */
  readonly kind: 'pipe' | 'socket';
  readonly access: Access;
  /** A FIFO's read end: read() gives 0 before the first writer came, which is not end of stream. */
  readonly fifoReader?: boolean;
  /** Every write is whole records of at most PIPE_BUF bytes (several writers share the pipe). */
  readonly atomic?: boolean;
  readonly peer?: PeerCredentials;
  /** This end connected to a listener (its errors may point at the listener's `allow`). */
  readonly connector?: boolean;
}

/** A typed channel over a byte stream (pipe, FIFO, UNIX stream socket, TCP connection). */
export class StreamChannel<T> extends FdChannel<T> {
  readonly transport: string;
  /** Credentials of the peer process (UNIX stream sockets). */
  readonly peer: PeerCredentials | undefined;
  /** The descriptor (for socket options, pipe sizes, handing to a child); owned by the channel. */
  readonly fd: number;
  readonly #fd: number;
  readonly #kind: 'pipe' | 'socket';
  readonly #fifoReader: boolean;
  readonly #atomic: boolean;
  /** Bytes of one record on the stream (fixed) or of the largest one (variable: prefix + maxSize). */
  readonly #frame: number;
  readonly #fixed: boolean;
  // Receive buffer: bytes [#start, #end) are received and not yet decoded.
  readonly #buffer: Uint8Array;
  #start = 0;
  #end = 0;
  #eof = false;
  /** Whether any byte came in yet (a connection closed before any did may have been refused). */
  #receivedAny = false;
  readonly #connector: boolean;
  #broken: DecodeError | undefined;

  constructor(codec: MessageCodec<T>, init: StreamInit) {
    super(init.url, codec, init.fd, init);
    this.transport = init.transport;
    this.peer = init.peer;
    this.fd = init.fd;
    this.#fd = init.fd;
    this.#kind = init.kind;
    this.#fifoReader = init.fifoReader === true;
    this.#atomic = init.atomic === true;
    this.#connector = init.connector === true;
    this.#fixed = codec.fixedSize;
    this.#frame = frameSize(codec);
    if (this.#atomic && this.#frame > libc.PIPE_BUF) throw sharedTooLarge(init.url, this.#frame);
    const capacity = Math.max(RECEIVE_BUFFER, 2 * this.#frame);
    this.#buffer = new Uint8Array(init.access === 'send' ? 0 : capacity);
  }

  // --- sending (the base queues what the kernel does not take; see FdChannel) -------------------

  protected override get recordBytes(): number {
    return this.#frame;
  }

  /** A variable-size record after its u32 little-endian length (a fixed-size one goes as it is). */
  protected override encodeRecord(value: T, into: Uint8Array, at: number): number {
    const length = this.codec.encodeInto(value, into, at + LENGTH_PREFIX_BYTES);
    new DataView(into.buffer, into.byteOffset).setUint32(at, length, true);
    return LENGTH_PREFIX_BYTES + length;
  }

  /**
   * Writes as many bytes of `out` as the kernel takes now (a record may be taken in part: the base
   * then keeps the rest first in line); returns how many records are now wholly written.
   */
  protected writeRecords(out: Outgoing): number {
    const bytes = out.bytes;
    let done = out.offset;
    let record = out.sent;
    while (done < bytes.length) {
      let take = bytes.length - done;
      if (this.#atomic) {
        // Several writers share the pipe: each write is whole records within PIPE_BUF (atomic).
        take = 0;
        for (let r = record; r < out.count; r++) {
          const end = recordEnd(out, r);
          if (end - done > libc.PIPE_BUF) break;
          take = end - done;
        }
        if (take === 0) break;
      }
      const n = this.#writeSome(bytes.subarray(done, done + take));
      done += n;
      while (record < out.count && recordEnd(out, record) <= done) record++;
      if (n < take) break;
    }
    out.offset = done;
    return record - out.sent;
  }

  /** One non-blocking write; 0 when the kernel has no room. EPIPE/ECONNRESET → ChannelClosedError. */
  #writeSome(chunk: Uint8Array): number {
    for (;;) {
      // Sockets get MSG_NOSIGNAL: a vanished reader is EPIPE, never a SIGPIPE. Pipes cannot take that
      // flag; there, Node's own SIG_IGN for SIGPIPE (set at startup) turns it into EPIPE as well.
      const n =
        this.#kind === 'socket'
          ? libc.send(this.#fd, chunk, chunk.length, libc.MSG_NOSIGNAL | libc.MSG_DONTWAIT)
          : libc.write(this.#fd, chunk, chunk.length);
      if (n >= 0) return n;
      const errno = libc.errno();
      if (errno === errnos.EAGAIN) return 0;
      if (errno === errnos.EINTR) continue;
      if (errno === errnos.EPIPE || errno === errnos.ECONNRESET) {
        throw new ChannelClosedError(
          `${this.url}: the receiving end is gone (${errnoName(errno)}); nothing more can be sent on this channel${this.#refusalHint()}`,
        );
      }
      throw systemError(errno, this.#kind === 'socket' ? 'send' : 'write', this.url);
    }
  }

  // --- receiving -------------------------------------------------------------------------------

  protected readRecords(max: number, into: ReceivedSink<T>): void {
    let n = 0;
    while (n < max) {
      let message: Message<T> | undefined;
      try {
        message = this.#decodeBuffered();
      } catch (error) {
        // A record that failed to decode was consumed: its error takes its place, the next one follows.
        // A lost framing (#broken) cannot go on: it ends the read, and every later one.
        if (error === this.#broken) throw error;
        into.push(error as Error);
        n++;
        continue;
      }
      if (message !== undefined) {
        into.push(message);
        n++;
        continue;
      }
      if (this.#eof) this.#atEnd();
      if (!this.#fill()) return;
    }
  }

  #decodeBuffered(): Message<T> | undefined {
    if (this.#broken !== undefined) throw this.#broken;
    const available = this.#end - this.#start;
    const at = this.#start;
    if (this.#fixed) {
      if (available < this.#frame) return undefined;
      // Consume before decoding: a record that fails to decode is gone, the next one is intact.
      this.#start += this.#frame;
      return { value: this.codec.decode(this.#buffer, at), priority: 0 };
    }
    if (available < LENGTH_PREFIX_BYTES) return undefined;
    const length = new DataView(this.#buffer.buffer).getUint32(at, true);
    if (length > this.codec.size) {
      // The stream cannot be resynchronised after a bad prefix: every later read fails the same way.
      this.#broken = new DecodeError(
        '',
        `${this.url}: length prefix ${length} exceeds the codec's maxSize ${this.codec.size}; the stream is ` +
          'not framed as typed-ipc frames it (u32 little-endian length + message): check the peer',
      );
      throw this.#broken;
    }
    if (available < LENGTH_PREFIX_BYTES + length) return undefined;
    this.#start += LENGTH_PREFIX_BYTES + length;
    const body = this.#buffer.subarray(at + LENGTH_PREFIX_BYTES, at + LENGTH_PREFIX_BYTES + length);
    return { value: this.codec.decode(body), priority: 0 };
  }

  /** Reads what the kernel has into the receive buffer; false when nothing is there now. */
  #fill(): boolean {
    if (this.#start > 0) {
      // Less than one record is left: move it to the front so the buffer takes a long read.
      this.#buffer.copyWithin(0, this.#start, this.#end);
      this.#end -= this.#start;
      this.#start = 0;
    }
    for (;;) {
      const room = this.#buffer.subarray(this.#end);
      const n = libc.read(this.#fd, room, room.length);
      if (n > 0) {
        this.#end += n;
        this.#receivedAny = true;
        return true;
      }
      if (n === 0) {
        // A FIFO's reader sees 0 before any writer opened it; only POLLHUP says a writer came and left.
        if (this.#fifoReader && (libc.pollNow(this.#fd, libc.POLLIN) & libc.POLLHUP) === 0) return false;
        this.#eof = true;
        return true;
      }
      const errno = libc.errno();
      if (errno === errnos.EAGAIN) return false;
      if (errno === errnos.EINTR) continue;
      if (errno === errnos.ECONNRESET) {
        this.#eof = true;
        return true;
      }
      throw systemError(errno, 'read', this.url);
    }
  }

  /** End of stream: a torn record is a DecodeError (once), then ChannelClosedError. */
  #atEnd(): never {
    const left = this.#end - this.#start;
    if (left > 0) {
      this.#start = this.#end;
      throw new DecodeError(
        '',
        `${this.url}: the stream ended ${left} bytes into a ${this.#frame}-byte record; the sender stopped mid-record`,
      );
    }
    throw new ChannelClosedError(`${this.url}: the sending end closed (end of stream)${this.#refusalHint()}`);
  }

  /** On a UNIX connection this end made that ended before any byte came: the listener's `allow` may have refused it. */
  #refusalHint(): string {
    return this.#connector && !this.#receivedAny && this.transport === 'unix+stream'
      ? `; ${refusalHint(this.url)}`
      : '';
  }

  // --- lifecycle -------------------------------------------------------------------------------

  /** Completes a non-blocking connect: waits for writability, then reads SO_ERROR. */
  async finishConnect(options: PeerWaitOptions, syscall = 'connect'): Promise<void> {
    await this.waitFor('writable', peerWait(`connect to ${this.url}`, options));
    const error = sockets.pendingError(this.#fd);
    if (error !== 0) throw systemError(error, syscall, this.url);
  }

  protected closeResources(): void {
    libc.close(this.#fd);
  }

  info(): ChannelInfo {
    return this.describe(() => ({
      framing: this.#fixed ? `fixed ${this.#frame}-byte records` : 'u32 little-endian length prefix + message',
      ...(this.#fixed ? { pending: Math.floor((this.#end - this.#start) / this.#frame) } : {}),
      queuedRecords: this.queuedSends,
      shared: this.#atomic,
      ...(this.#kind === 'pipe' ? { pipeSize: libc.fcntl(this.#fd, libc.F_GETPIPE_SZ) } : {}),
      ...(this.peer === undefined ? {} : { peer: this.peer }),
    }));
  }
}

/** Bytes one record takes on the stream: `size` (fixed), or prefix + maxSize (variable). */
export function frameSize(codec: MessageCodec<unknown>): number {
  return codec.fixedSize ? codec.size : LENGTH_PREFIX_BYTES + codec.size;
}

/** The refusal of records too large for several writers to share a pipe. */
export function sharedTooLarge(url: string, frame: number): MessageSizeError {
  return new MessageSizeError(
    frame,
    libc.PIPE_BUF,
    `${url}: ${frame}-byte records cannot be shared by several writers: pipe writes are atomic only up to ` +
      `PIPE_BUF (${libc.PIPE_BUF} bytes), larger ones can interleave with other writers' records; use a ` +
      'smaller schema, or give each writer its own FIFO and open it without `shared`',
  );
}

// --- inherited descriptors and child processes -----------------------------------------------------

/**
 * Makes a typed channel of a pipe end or stream socket this process holds, typically one inherited
 * from a parent (see `child.ts`). The descriptor is switched to O_NONBLOCK (which also affects other
 * processes sharing the same open file) and close-on-exec, and the channel owns it.
 */
export function adoptStream<T>(
  fd: number,
  codec: MessageCodec<T>,
  options: AdoptOptions & { readonly url?: string } = {},
): StreamChannel<T> {
  const stat = fstatSync(fd);
  const kind = stat.isSocket() ? 'socket' : 'pipe';
  const url = options.url ?? `${kind === 'socket' ? 'unix+stream' : 'pipe'}:(fd ${fd})`;
  if (kind !== 'socket' && !stat.isFIFO()) {
    throw new ValidationError(`fd ${fd}`, 'a pipe, FIFO or stream socket descriptor', 'another kind of file');
  }
  const access = options.direction ?? 'both';
  if (kind === 'pipe' && access === 'both') throw oneWay(`fd ${fd}`);
  if (kind === 'socket') {
    sockets.adoptSocket(fd, libc.SOCK_STREAM, 'a stream socket');
  } else {
    sockets.setNonBlocking(fd, url);
    sockets.setCloseOnExec(fd, url);
  }
  const peer = kind === 'socket' && options.peer !== false ? peerCredentials(fd) : undefined;
  return new StreamChannel(codec, {
    url,
    transport: kind === 'socket' ? 'unix+stream' : 'pipe',
    fd,
    kind,
    access,
    ...(peer === undefined ? {} : { peer }),
    ...(options.ref === undefined ? {} : { ref: options.ref }),
    ...(options.wait === undefined ? {} : { wait: options.wait }),
  });
}

/** The refusal of a two-way pipe. */
export function oneWay(what: string): ValidationError {
  return new ValidationError(
    'direction',
    "'send' or 'receive' (a pipe is one-way; use unix+stream for both directions)",
    `'both' for ${what}`,
  );
}
