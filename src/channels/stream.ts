/**
 * Byte-stream transports: FIFOs (`fifo:`), pipes and socket pairs to child processes, UNIX stream
 * sockets (`unix+stream:`) and TCP (`tcp:`).
 *
 * Framing. A stream has no message boundaries, so the channel makes them:
 * - a fixed-size codec (a C struct) puts each record on the stream as exactly `codec.size` bytes,
 *   back to back, with nothing in between: a C peer does `read(fd, &rec, sizeof rec)` in a loop;
 * - a variable-size codec (msgpack) puts a 4-byte little-endian unsigned length N (N <= the codec's
 *   `size`, its maxSize) before the N bytes of each message.
 * Partial reads are reassembled in a receive buffer; a record never comes out torn or shifted.
 *
 * Sends. A record is never half-sent from the caller's point of view: when the kernel takes only
 * part of it, the rest is queued and written (before any later record) as soon as there is room, and
 * `send` resolves once the whole record is in the kernel. A record whose first byte is in the kernel
 * is committed: `timeoutMs`/`signal` can withdraw a queued record only before that. Queued records are
 * coalesced into one write, and `sendMany` encodes a whole batch into one buffer and writes it with
 * one call, because a koffi call costs ~250 ns and a syscall more: bytes per syscall is what wins.
 */

import { type BigIntStats, fstatSync, lstatSync } from 'node:fs';
import { chmod } from 'node:fs/promises';
import type { MessageCodec } from '../codecs/codec.js';
import {
  AbortError,
  ChannelClosedError,
  DecodeError,
  MessageSizeError,
  TimeoutError,
  UnsupportedError,
  ValidationError,
} from '../errors.js';
import { check, errnoName, errnos, libc, systemError } from '../native/index.js';
import {
  type Channel,
  type ChannelInfo,
  type ChannelOptions,
  FdChannel,
  type Listener,
  type Message,
  type SendOptions,
} from './channel.js';
import { exchangeIdentity } from './identity.js';
import { type ListenerInit, SocketListener } from './listener.js';
import { checkListener, effectiveAllow, peerCredentials, refusalHint, refuseAllow } from './peercred.js';
import { formatAddress, resolveIpAddress, SOCKADDR_MAX, type SockAddr, unixAddress } from './sockaddr.js';
import type {
  AdoptOptions,
  Direction,
  OpenOptions,
  PairOptions,
  PeerCredentials,
  PeerWaitOptions,
  SocketOptions,
  Transport,
} from './transport.js';
import { type BoundFile, bindUnix, checkMode, removeBoundFile, unlinkSocketFile } from './unixbind.js';
import type { Address } from './url.js';
import { peerWait, sleepUntil } from './wait.js';

/** Bytes of the length prefix that variable-size codecs get on a stream (u32, little-endian). */
export const LENGTH_PREFIX_BYTES = 4;
/** Receive buffer per channel: one read() takes up to this many bytes (many records per syscall). */
const RECEIVE_BUFFER = 128 * 1024;
/** Queued records are gathered into writes of up to this many bytes. */
const COALESCE = 64 * 1024;
/** A batch buffer larger than this is dropped after use rather than kept for the next sendMany. */
const MAX_KEPT_BATCH = 1024 * 1024;
const settled = Promise.resolve();

type Access = Direction;

/** A record (or batch of records) not yet wholly in the kernel. */
interface Pending {
  readonly bytes: Uint8Array;
  offset: number;
  /** Record ends inside `bytes` (variable-size records on a shared FIFO: writes end on one of them). */
  readonly ends: readonly number[] | undefined;
  /** Whether some of its bytes are in the kernel already (it can no longer be withdrawn). */
  started: boolean;
  resolve(): void;
  reject(error: unknown): void;
  /** Disarms its timeout and abort listener. */
  disarm(): void;
}

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
  readonly #access: Access;
  readonly #fifoReader: boolean;
  readonly #atomic: boolean;
  /** Bytes of one record on the stream (fixed) or of the largest one (variable: prefix + maxSize). */
  readonly #frame: number;
  readonly #fixed: boolean;
  readonly #scratch: Uint8Array;
  #batch: Uint8Array = new Uint8Array(0);
  #gatherBuffer: Uint8Array | undefined;
  // Receive buffer: bytes [#start, #end) are received and not yet decoded.
  readonly #buffer: Uint8Array;
  #start = 0;
  #end = 0;
  #eof = false;
  /** Whether any byte came in yet (a connection closed before any did may have been refused). */
  #receivedAny = false;
  readonly #connector: boolean;
  #broken: DecodeError | undefined;
  // Send queue: #queue[#head ...] in order.
  #queue: Pending[] = [];
  #head = 0;
  #pumping = false;
  #pumpCancel: AbortController | undefined;

  constructor(codec: MessageCodec<T>, init: StreamInit) {
    super(init.url, codec, init.fd, init);
    this.transport = init.transport;
    this.peer = init.peer;
    this.fd = init.fd;
    this.#fd = init.fd;
    this.#kind = init.kind;
    this.#access = init.access;
    this.#fifoReader = init.fifoReader === true;
    this.#atomic = init.atomic === true;
    this.#connector = init.connector === true;
    this.#fixed = codec.fixedSize;
    this.#frame = frameSize(codec);
    if (this.#atomic && this.#frame > libc.PIPE_BUF) throw sharedTooLarge(init.url, this.#frame);
    this.#scratch = new Uint8Array(this.#frame);
    const capacity = Math.max(RECEIVE_BUFFER, 2 * this.#frame);
    this.#buffer = new Uint8Array(init.access === 'send' ? 0 : capacity);
  }

  // --- sending ---------------------------------------------------------------------------------

  override trySend(value: T, options: Pick<SendOptions, 'priority'> = {}): boolean {
    this.#assertCan('send');
    this.checkPriority(options.priority);
    const bytes = this.#encodeOne(value);
    if (this.#queued > 0 && !this.#flushQueue()) return false;
    const ends = this.#endsOfOne(bytes);
    const written = this.#writeFrom(bytes, 0, ends);
    if (written === bytes.length) return true;
    if (written === 0) return false;
    // The kernel took part of the record: it is committed, and its tail goes out before anything else.
    this.#enqueue(bytes.slice(written), undefined, true, {}).catch(() => {});
    return true;
  }

  // Not an async function: when the kernel takes the record at once (the common case) this returns a
  // settled promise without the cost of an async frame.
  override send(value: T, options: SendOptions = {}): Promise<void> {
    let bytes: Uint8Array;
    let written = 0;
    try {
      this.#assertCan('send');
      this.checkPriority(options.priority);
      bytes = this.#encodeOne(value);
      if (this.#queued === 0) {
        written = this.#writeFrom(bytes, 0, this.#endsOfOne(bytes));
        if (written === bytes.length) return settled;
      }
    } catch (error) {
      return Promise.reject(error);
    }
    // The scratch buffer is reused by the next send: the queue keeps its own copy.
    return this.#enqueue(bytes.slice(written), this.#endsOfOne(bytes), written > 0, options);
  }

  override async sendMany(values: readonly T[], options: SendOptions = {}): Promise<void> {
    this.#assertCan('send');
    this.checkPriority(options.priority);
    if (values.length === 0) return;
    // Encode (and so validate) the whole batch first: a bad value anywhere sends nothing.
    const { bytes, ends } = this.#encodeMany(values);
    let written = 0;
    try {
      if (this.#queued === 0) {
        written = this.#writeFrom(bytes, 0, ends);
        if (written === bytes.length) return;
      }
      const rest = bytes.slice(written);
      const restEnds = ends?.filter((end) => end > written).map((end) => end - written);
      return this.#enqueue(rest, restEnds, written > 0, options);
    } finally {
      // The batch buffer is reused by the next sendMany, but a huge one is not kept for the channel's life.
      if (this.#batch.length > MAX_KEPT_BATCH) this.#batch = new Uint8Array(0);
    }
  }

  #encodeOne(value: T): Uint8Array {
    if (this.#fixed) return this.#scratch.subarray(0, this.codec.encodeInto(value, this.#scratch, 0));
    const length = this.codec.encodeInto(value, this.#scratch, LENGTH_PREFIX_BYTES);
    new DataView(this.#scratch.buffer).setUint32(0, length, true);
    return this.#scratch.subarray(0, LENGTH_PREFIX_BYTES + length);
  }

  #endsOfOne(bytes: Uint8Array): number[] | undefined {
    return this.#atomic && !this.#fixed ? [bytes.length] : undefined;
  }

  /** Encodes a batch into the reusable batch buffer; `ends` only where writes must end on records. */
  #encodeMany(values: readonly T[]): { bytes: Uint8Array; ends: number[] | undefined } {
    if (this.#fixed) {
      const size = this.#frame;
      const bytes = this.#batchBuffer(values.length * size);
      for (let i = 0; i < values.length; i++) this.codec.encodeInto(values[i] as T, bytes, i * size);
      return { bytes: bytes.subarray(0, values.length * size), ends: undefined };
    }
    const ends: number[] = [];
    let offset = 0;
    let bytes = this.#batchBuffer(Math.min(values.length, 64) * this.#frame);
    for (const value of values) {
      if (offset + this.#frame > bytes.length) bytes = this.#batchBuffer(offset + this.#frame, offset);
      const length = this.codec.encodeInto(value, bytes, offset + LENGTH_PREFIX_BYTES);
      new DataView(bytes.buffer, bytes.byteOffset).setUint32(offset, length, true);
      offset += LENGTH_PREFIX_BYTES + length;
      ends.push(offset);
    }
    return { bytes: bytes.subarray(0, offset), ends: this.#atomic ? ends : undefined };
  }

  /** The batch buffer with room for `size` bytes, keeping its first `keep` bytes when it grows. */
  #batchBuffer(size: number, keep = 0): Uint8Array {
    if (this.#batch.length < size) {
      const grown = new Uint8Array(Math.max(size, this.#batch.length * 2));
      grown.set(this.#batch.subarray(0, keep));
      this.#batch = grown;
    }
    return this.#batch;
  }

  /** How many of the bytes from `offset` one write may take: all, or whole records within PIPE_BUF. */
  #take(bytes: Uint8Array, offset: number, ends: readonly number[] | undefined, room: number): number {
    const remaining = bytes.length - offset;
    if (!this.#atomic) return Math.min(remaining, room);
    const limit = Math.min(room, libc.PIPE_BUF);
    if (ends === undefined) return Math.floor(Math.min(remaining, limit) / this.#frame) * this.#frame;
    let take = 0;
    for (const end of ends) {
      if (end <= offset) continue;
      if (end - offset > limit) break;
      take = end - offset;
    }
    return take;
  }

  /** Writes as much of `bytes` from `offset` as the kernel takes now; returns the bytes written. */
  #writeFrom(bytes: Uint8Array, offset: number, ends: readonly number[] | undefined): number {
    let done = offset;
    while (done < bytes.length) {
      const take = this.#take(bytes, done, ends, Number.POSITIVE_INFINITY);
      const n = this.#writeSome(bytes.subarray(done, done + take));
      done += n;
      if (n < take) break;
    }
    return done - offset;
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

  get #queued(): number {
    return this.#queue.length - this.#head;
  }

  #enqueue(
    bytes: Uint8Array,
    ends: readonly number[] | undefined,
    started: boolean,
    options: SendOptions,
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const { signal, timeoutMs } = options;
      // close() delivers it before releasing the descriptor; destroy() fails it with an error naming it.
      const accepted = this.acceptSend();
      let timer: NodeJS.Timeout | undefined;
      const withdraw = (error: unknown): void => {
        if (item.started) return; // committed: part of it is in the kernel, the rest must follow
        const index = this.#queue.indexOf(item, this.#head);
        if (index < 0) return;
        this.#queue.splice(index, 1);
        item.disarm();
        item.reject(error);
        if (this.#queued === 0) this.#pumpCancel?.abort();
      };
      const onAbort = (): void => withdraw(new AbortError(`send on ${this.url}`, signal?.reason));
      const item: Pending = {
        bytes,
        offset: 0,
        ends,
        started,
        resolve: () => {
          accepted.settle();
          resolve();
        },
        reject: (error) => {
          accepted.settle();
          reject(accepted.error(error));
        },
        disarm: () => {
          if (timer !== undefined) clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
        },
      };
      if (!started) {
        if (signal?.aborted) return item.reject(new AbortError(`send on ${this.url}`, signal.reason));
        if (timeoutMs !== undefined) {
          timer = setTimeout(() => withdraw(new TimeoutError(`send on ${this.url}`, timeoutMs)), timeoutMs);
        }
        signal?.addEventListener('abort', onAbort, { once: true });
      }
      this.#queue.push(item);
      this.#startPump();
    });
  }

  /** Writes queued bytes until the queue is empty (true) or the kernel is full (false). */
  #flushQueue(): boolean {
    while (this.#queued > 0) {
      const first = this.#queue[this.#head]!;
      const remaining = first.bytes.length - first.offset;
      if (this.#queued === 1 || remaining >= COALESCE) {
        const n = this.#writeFrom(first.bytes, first.offset, first.ends);
        this.#consume(n);
        if (n < remaining) return false;
        continue;
      }
      const chunk = this.#gather();
      const n = chunk.length === 0 ? 0 : this.#writeSome(chunk);
      this.#consume(n);
      if (n < chunk.length || n === 0) return false;
    }
    return true;
  }

  /** Copies the heads of several queued records into one buffer, for one write. */
  #gather(): Uint8Array {
    this.#gatherBuffer ??= new Uint8Array(COALESCE);
    const target = this.#gatherBuffer;
    // On a shared FIFO the whole write must stay within PIPE_BUF to be atomic, not just each record.
    const limit = this.#atomic ? libc.PIPE_BUF : COALESCE;
    let length = 0;
    for (let i = this.#head; i < this.#queue.length; i++) {
      const item = this.#queue[i]!;
      const take = this.#take(item.bytes, item.offset, item.ends, limit - length);
      target.set(item.bytes.subarray(item.offset, item.offset + take), length);
      length += take;
      if (take < item.bytes.length - item.offset) break;
    }
    return target.subarray(0, length);
  }

  /** Marks `n` written bytes off the head of the queue, resolving every record now wholly written. */
  #consume(n: number): void {
    while (n > 0) {
      const item = this.#queue[this.#head]!;
      const take = Math.min(n, item.bytes.length - item.offset);
      item.offset += take;
      item.started = true;
      n -= take;
      if (item.offset < item.bytes.length) break;
      this.#queue[this.#head] = undefined as unknown as Pending;
      this.#head += 1;
      item.disarm();
      item.resolve();
    }
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      // A queue that never drains (steady concurrent sends) drops its written head now and then.
      this.#queue.splice(0, this.#head);
      this.#head = 0;
    }
  }

  #startPump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    void this.#pump();
  }

  /** Waits for room and flushes, until the queue is empty; a failure fails every queued record. */
  async #pump(): Promise<void> {
    try {
      while (this.#queued > 0) {
        const cancel = new AbortController();
        this.#pumpCancel = cancel;
        try {
          await this.waitWritable({ signal: cancel.signal });
        } catch (error) {
          if (!(error instanceof AbortError)) throw error;
        } finally {
          this.#pumpCancel = undefined;
        }
        if (this.destroyed) throw new ChannelClosedError(`${this.url} was closed before the record was sent`);
        this.#flushQueue();
      }
    } catch (error) {
      this.#failQueue(error);
    } finally {
      this.#pumping = false;
    }
  }

  #failQueue(error: unknown): void {
    const items = this.#queue.slice(this.#head);
    this.#queue = [];
    this.#head = 0;
    for (const item of items) {
      item.disarm();
      item.reject(error);
    }
  }

  protected writeMessage(): boolean {
    // Unused: send, trySend and sendMany are overridden (a stream record may be taken in part).
    throw new UnsupportedError('StreamChannel writes through its own send queue');
  }

  // --- receiving -------------------------------------------------------------------------------

  protected readMessage(): Message<T> | undefined {
    if (this.#access === 'send') this.#assertCan('receive');
    for (;;) {
      const message = this.#decodeBuffered();
      if (message !== undefined) return message;
      if (this.#eof) return this.#atEnd();
      if (!this.#fill()) return undefined;
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

  #assertCan(direction: 'send' | 'receive'): void {
    this.assertOpen();
    if (this.#access !== 'both' && this.#access !== direction) {
      throw new UnsupportedError(
        `${this.url} was opened with access '${this.#access}': it cannot ${direction}; ` +
          `open another end with access: '${direction}'`,
      );
    }
  }

  /** Completes a non-blocking connect: waits for writability, then reads SO_ERROR. */
  async finishConnect(options: PeerWaitOptions, syscall = 'connect'): Promise<void> {
    await this.waitWritable(peerWait(`connect to ${this.url}`, options));
    const error = new Int32Array(1);
    check(
      libc.getsockopt(this.#fd, libc.SOL_SOCKET, libc.SO_ERROR, new Uint8Array(error.buffer), new Uint32Array([4])),
      'getsockopt',
    );
    if (error[0] !== 0) throw systemError(error[0]!, syscall, this.url);
  }

  protected closeResources(): void {
    // close() got here once the queue drained; destroy() (or close()'s timeout) fails what is left.
    this.#failQueue(new ChannelClosedError(`${this.url} was closed before the record was wholly sent`));
    libc.close(this.#fd);
  }

  info(): ChannelInfo {
    return {
      url: this.url,
      transport: this.transport,
      messageSize: this.codec.size,
      framing: this.#fixed ? `fixed ${this.#frame}-byte records` : 'u32 little-endian length prefix + message',
      ...(this.#fixed ? { pending: Math.floor((this.#end - this.#start) / this.#frame) } : {}),
      queuedRecords: this.#queued,
      shared: this.#atomic,
      ...(this.#kind === 'pipe' && !this.closed ? { pipeSize: libc.fcntl(this.#fd, libc.F_GETPIPE_SZ) } : {}),
      ...(this.peer === undefined ? {} : { peer: this.peer }),
    };
  }
}

/** Bytes one record takes on the stream: `size` (fixed), or prefix + maxSize (variable). */
function frameSize(codec: MessageCodec<unknown>): number {
  return codec.fixedSize ? codec.size : LENGTH_PREFIX_BYTES + codec.size;
}

function sharedTooLarge(url: string, frame: number): MessageSizeError {
  return new MessageSizeError(
    frame,
    libc.PIPE_BUF,
    `${url}: ${frame}-byte records cannot be shared by several writers: pipe writes are atomic only up to ` +
      `PIPE_BUF (${libc.PIPE_BUF} bytes), larger ones can interleave with other writers' records; use a ` +
      'smaller schema, or give each writer its own FIFO and open it without `shared`',
  );
}

// --- FIFOs -----------------------------------------------------------------------------------------

/** Creates the FIFO at `path` with exactly `mode` (mkfifo applies the umask, so chmod follows). */
async function createFifo(path: string, mode: number, exclusive: boolean): Promise<void> {
  if (libc.mkfifo(path, mode) === 0) {
    await chmod(path, mode);
    return;
  }
  const errno = libc.errno();
  if (errno !== errnos.EEXIST || exclusive) throw systemError(errno, 'mkfifo', path);
}

/**
 * Opens a FIFO's write end. Without a reader, a non-blocking open fails with ENXIO; the kernel offers
 * no event for "a reader opened", so this retries on a timer with exponential backoff (1 ms doubling
 * to 64 ms): no thread is parked and the event loop stays free.
 */
async function openFifoWriter(path: string, url: string, options: OpenOptions): Promise<number> {
  const wait = peerWait(`open ${url} for writing (waiting for a reader)`, options);
  for (let delay = 1; ; delay = Math.min(delay * 2, 64)) {
    const fd = libc.open(path, libc.O_WRONLY | FIFO_OPEN_FLAGS, 0);
    if (fd >= 0) return fd;
    const errno = libc.errno();
    if (errno !== errnos.ENXIO && errno !== errnos.EINTR) throw fifoOpenError(errno, path);
    await sleepUntil(delay, wait, options.ref !== false);
  }
}

/**
 * Every FIFO open: non-blocking, close-on-exec, and O_NOFOLLOW. Whoever can write the FIFO's
 * directory could otherwise swap the FIFO for a symlink to a FIFO of theirs, and read what this end
 * writes or feed what it reads (fs.protected_symlinks only guards sticky world-writable directories,
 * and is 0 on many machines). O_NOFOLLOW covers the last component; symlinks in the directories
 * above are followed, as the path is the caller's.
 */
const FIFO_OPEN_FLAGS = libc.O_NONBLOCK | libc.O_CLOEXEC | libc.O_NOFOLLOW;

function fifoOpenError(errno: number, path: string): Error {
  const hint =
    errnoName(errno) === 'ELOOP'
      ? "the path is a symbolic link, and FIFOs are opened without following one (another user could point it at a FIFO of theirs); give the FIFO's own path"
      : undefined;
  return systemError(errno, 'open', path, hint);
}

/** What lstat sees at `path`, or undefined when nothing is there. */
function lstatOf(path: string): BigIntStats | undefined {
  return lstatSync(path, { bigint: true, throwIfNoEntry: false });
}

/** Refuses, before opening it, a path that is not a FIFO (a regular file, a device, a symlink). */
function checkIsFifo(path: string): void {
  const stat = lstatOf(path);
  if (stat === undefined || stat.isFIFO()) return; // missing: open() says ENOENT
  const what = stat.isSymbolicLink() ? 'a symbolic link (FIFOs are opened without following one)' : 'not a FIFO';
  throw new ValidationError('url', 'the path of a FIFO (made by mkfifo or `create: true`)', `${path}: ${what}`);
}

/**
 * After the open: the descriptor must be a FIFO, and the very one the path names now (same device
 * and inode): a path swapped between the check and the open is refused, not used.
 */
function checkOpenedFifo(fd: number, path: string): void {
  const opened = fstatSync(fd, { bigint: true });
  const now = lstatOf(path);
  if (!opened.isFIFO()) {
    throw new ValidationError('url', 'the path of a FIFO (made by mkfifo or `create: true`)', `${path}: not a FIFO`);
  }
  if (now === undefined || now.dev !== opened.dev || now.ino !== opened.ino) {
    throw new ValidationError(
      'url',
      `the FIFO that was opened (device ${opened.dev}, inode ${opened.ino})`,
      `${path} replaced while it was being opened; someone else changes that directory: use one only you can write`,
    );
  }
}

async function openFifo<T>(address: Address, codec: MessageCodec<T>, options: OpenOptions): Promise<Channel<T>> {
  if (address.scheme !== 'fifo') throw new UnsupportedError(`${address.url}: not a fifo: URL`);
  const { path, url } = address;
  const access = options.access;
  if (access !== 'send' && access !== 'receive') {
    throw new ValidationError(
      'access',
      "'send' or 'receive' (a FIFO is one-way: open one end to send and another to receive)",
      String(access),
    );
  }
  if (options.shared === true && frameSize(codec) > libc.PIPE_BUF) throw sharedTooLarge(url, frameSize(codec));
  if (options.create === true) await createFifo(path, checkMode(options.mode ?? 0o600), options.exclusive === true);
  checkIsFifo(path);
  // A reader's open returns at once: the kernel offers no non-blocking way to learn that a writer
  // opened. Its receive waits for the first writer instead (see #fill: 0 without POLLHUP is no EOF).
  let fd: number;
  if (access === 'receive') {
    fd = libc.open(path, libc.O_RDONLY | FIFO_OPEN_FLAGS, 0);
    if (fd < 0) throw fifoOpenError(libc.errno(), path);
  } else {
    fd = await openFifoWriter(path, url, options);
  }
  try {
    checkOpenedFifo(fd, path);
    return new StreamChannel(codec, {
      url,
      transport: 'fifo',
      fd,
      kind: 'pipe',
      access,
      fifoReader: access === 'receive',
      atomic: options.shared === true,
      ...(options.ref === undefined ? {} : { ref: options.ref }),
      ...(options.wait === undefined ? {} : { wait: options.wait }),
    });
  } catch (error) {
    libc.close(fd);
    throw error;
  }
}

async function unlinkFifo(address: Address): Promise<void> {
  if (address.scheme !== 'fifo') throw new UnsupportedError(`${address.url}: not a fifo: URL`);
  check(libc.unlink(address.path), 'unlink', address.path);
}

async function unlinkStreamSocket(address: Address): Promise<void> {
  if (address.scheme !== 'unix+stream') throw new UnsupportedError(`${address.url}: not a unix+stream: URL`);
  unlinkSocketFile(address);
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
  if (kind === 'socket') {
    const type = new Int32Array(1);
    check(
      libc.getsockopt(fd, libc.SOL_SOCKET, libc.SO_TYPE, new Uint8Array(type.buffer), new Uint32Array([4])),
      'getsockopt',
    );
    if (type[0] !== libc.SOCK_STREAM) {
      throw new ValidationError(`fd ${fd}`, `a stream socket (SO_TYPE ${libc.SOCK_STREAM})`, `SO_TYPE ${type[0]}`);
    }
  } else if (!stat.isFIFO()) {
    throw new ValidationError(`fd ${fd}`, 'a pipe, FIFO or stream socket descriptor', 'another kind of file');
  }
  const access = options.direction ?? 'both';
  if (kind === 'pipe' && access === 'both') throw oneWay(`fd ${fd}`);
  check(libc.fcntl(fd, libc.F_SETFL, libc.fcntl(fd, libc.F_GETFL) | libc.O_NONBLOCK), 'fcntl', url);
  check(libc.fcntl(fd, libc.F_SETFD, libc.FD_CLOEXEC), 'fcntl', url);
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

function oneWay(what: string): ValidationError {
  return new ValidationError(
    'direction',
    "'send' or 'receive' (a pipe is one-way; use unix+stream for both directions)",
    `'both' for ${what}`,
  );
}

/** A pipe for a child: [parent's end (non-blocking), child's end (blocking)], by the parent's direction. */
function pipePair(options: PairOptions): [number, number] {
  const direction = options.direction ?? 'both';
  if (direction === 'both') throw oneWay('a pipe pair');
  const fds = new Int32Array(2);
  check(libc.pipe2(fds, libc.O_CLOEXEC), 'pipe2');
  const [readEnd = -1, writeEnd = -1] = fds;
  const [parent, child] = direction === 'receive' ? [readEnd, writeEnd] : [writeEnd, readEnd];
  check(libc.fcntl(parent, libc.F_SETFL, libc.fcntl(parent, libc.F_GETFL) | libc.O_NONBLOCK), 'fcntl');
  return [parent, child];
}

/** A UNIX stream socketpair for a child: [parent's end (non-blocking), child's end (blocking)]. */
function streamPair(): [number, number] {
  const fds = new Int32Array(2);
  check(libc.socketpair(libc.AF_UNIX, libc.SOCK_STREAM | libc.SOCK_CLOEXEC, 0, fds), 'socketpair');
  const [parent = -1, child = -1] = fds;
  check(libc.fcntl(parent, libc.F_SETFL, libc.fcntl(parent, libc.F_GETFL) | libc.O_NONBLOCK), 'fcntl');
  return [parent, child];
}

// --- stream sockets --------------------------------------------------------------------------------

async function resolveEndpoint(address: Address): Promise<SockAddr> {
  if (address.scheme === 'unix+stream') return unixAddress(address.path, address.abstract, address.url);
  if (address.scheme !== 'tcp') throw new UnsupportedError(`${address.url}: not a stream socket URL`);
  return resolveIpAddress(address.host, address.port);
}

function streamSocket(domain: number): number {
  return check(libc.socket(domain, libc.SOCK_STREAM | libc.SOCK_NONBLOCK | libc.SOCK_CLOEXEC, 0), 'socket');
}

function setIntOption(fd: number, level: number, name: number, value: number): void {
  check(libc.setsockopt(fd, level, name, new Uint8Array(new Int32Array([value]).buffer), 4), 'setsockopt');
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
    ...(options.wait === undefined ? {} : { wait: options.wait }),
  });
}

async function connectStream<T>(address: Address, codec: MessageCodec<T>, options: SocketOptions): Promise<Channel<T>> {
  if (address.scheme === 'tcp') refuseAllow('tcp', options.allow);
  else effectiveAllow(options, false);
  const endpoint = await resolveEndpoint(address);
  const unix = endpoint.family === libc.AF_UNIX;
  const wait = peerWait(`connect to ${address.url}`, options);
  const fd = streamSocket(endpoint.family);
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
    if (!unix) setIntOption(fd, libc.IPPROTO_TCP, libc.TCP_NODELAY, 1);
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
    if (this.transport === 'tcp') setIntOption(fd, libc.IPPROTO_TCP, libc.TCP_NODELAY, 1);
    if (this.options.identity === true) await exchangeIdentity(fd, this.#codec.fingerprint, this.url, false);
    return socketChannel(this.#codec, this.url, this.transport, fd, this.options, peer);
  }
}

async function listenStream<T>(address: Address, codec: MessageCodec<T>, options: SocketOptions): Promise<Listener<T>> {
  if (address.scheme === 'tcp') refuseAllow('tcp', options.allow);
  const allow = address.scheme === 'unix+stream' ? effectiveAllow(options, address.abstract) : undefined;
  const endpoint = await resolveEndpoint(address);
  const fd = streamSocket(endpoint.family);
  try {
    let bound: BoundFile | undefined;
    if (address.scheme === 'unix+stream') {
      bound = bindUnix(fd, address, libc.SOCK_STREAM, options.mode ?? 0o600);
    } else {
      setIntOption(fd, libc.SOL_SOCKET, libc.SO_REUSEADDR, 1);
      check(libc.bind(fd, endpoint.bytes, endpoint.length), 'bind', address.url);
    }
    try {
      check(libc.listen(fd, options.backlog ?? 128), 'listen', address.url);
    } catch (error) {
      removeBoundFile(bound);
      throw error;
    }
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

/** The byte-stream transports, by URL scheme. */
export const transports: Partial<Record<string, Transport>> = {
  fifo: { open: openFifo, unlink: unlinkFifo },
  /** Anonymous pipes, for child processes only (`spawnWithChannel(..., { transport: 'pipe', direction })`). */
  pipe: { pair: pipePair, adopt: adoptStream },
  'unix+stream': {
    connect: connectStream,
    listen: listenStream,
    unlink: unlinkStreamSocket,
    pair: streamPair,
    adopt: adoptStream,
  },
  tcp: { connect: connectStream, listen: listenStream },
};
