/**
 * The socket channel: one datagram or seqpacket socket (`unix+dgram:`, `unix+seqpacket:`, `udp://`)
 * as a Channel, sending and receiving in batches (sendmmsg, recvmmsg). One datagram or record is one
 * message: the kernel keeps message boundaries, so a short or oversized datagram is reported as a
 * DecodeError and never decoded. socket.ts opens, binds, connects and adopts the sockets.
 *
 * Kernel behaviour that shapes this module:
 * - Every send passes MSG_NOSIGNAL: a dead seqpacket peer gives EPIPE (→ ChannelClosedError)
 *   instead of a SIGPIPE that would kill the process.
 * - A connected UNIX datagram socket polls writable when the *peer's* queue has room, so `send`
 *   waits on the event loop. An unconnected one (a bound receiver replying with `sendTo`) polls
 *   writable whenever its own buffer has room, even while the peer's queue is full, so `sendTo`
 *   backs off on a timer instead of spinning.
 * - recv with MSG_TRUNC returns a datagram's real length even when it did not fit the buffer.
 * - A datagram peer's death is not an event: a connected sender learns it from its next send
 *   (ECONNREFUSED → ChannelClosedError); a receiver's iterator does not end. Seqpacket sees EOF.
 * - UDP backpressure only covers this end's send buffer: a receiver whose buffer overflows drops
 *   datagrams in its kernel, and nothing tells the sender. Use unix+dgram/seqpacket where losing
 *   nothing matters.
 */

import type { MessageCodec } from '../codecs/codec.js';
import { ChannelClosedError, DecodeError, MessageSizeError, UnsupportedError, ValidationError } from '../errors.js';
import { errnoName, errnos, libc, sockets, systemError, type WaitOptions } from '../native/index.js';
import {
  type ChannelInfo,
  type DatagramChannel,
  FdChannel,
  type Message,
  type Outgoing,
  type PeerCredentials,
  type ReceivedSink,
  recordAt,
  recordEnd,
  recordStart,
  type SendOptions,
} from './channel.js';
import { MmsgBatch } from './mmsg.js';
import { type Allow, describeAllow, isAllowed, refusalHint, reportRefusal } from './peercred.js';
import { formatAddress, resolveIpAddress, SOCKADDR_MAX, type SockAddr, unixAddress } from './sockaddr.js';
import type { SocketOptions } from './transport.js';
import { type BoundFile, removeBoundFile } from './unixbind.js';
import { type Address, parseUrl } from './url.js';
import { sleepUntil } from './wait.js';

/** The schemes of socket channels. */
export type SocketScheme = 'unix+dgram' | 'unix+seqpacket' | 'udp';

/** Largest UDP payload over IPv4: 65 535 − 20 (IP header) − 8 (UDP header). */
export const UDP_IPV4_MAX = 65_507;
/** Largest UDP payload over IPv6 without jumbograms: 65 535 − 8 (the IPv6 payload length covers UDP's header). */
export const UDP_IPV6_MAX = 65_527;
/** Messages per sendmmsg/recvmmsg call: 256, fewer for large messages (about 1 MiB of buffers at most). */
function batchSlots(messageSize: number): number {
  return Math.max(1, Math.min(256, Math.floor((1 << 20) / messageSize)));
}
/**
 * Datagrams one `receive` reads from the kernel at most (the rest wait in the channel for the next
 * calls): one recvmmsg instead of a recv per message when messages queue up. Closing the channel
 * drops those read ahead, as it drops what the kernel still holds.
 */
const READ_AHEAD = 64;

/** ` from <url>` for a refused datagram's message, or nothing when the sender is unknown. */
const fromText = (from: string | undefined): string => (from === undefined ? '' : ` from ${from}`);
const SEND_FLAGS = libc.MSG_DONTWAIT | libc.MSG_NOSIGNAL;
/** The sender of a datagram that came without credentials (never expected: SO_PASSCRED is set before bind). */
const UNKNOWN_SENDER: PeerCredentials = { pid: 0, uid: 0xffff_fffe, gid: 0xffff_fffe };
const RECV_FLAGS = libc.MSG_DONTWAIT | libc.MSG_TRUNC;

/** The socket address of a `udp://host:port` URL (resolved). */
export async function ipAddressOf(address: Address): Promise<SockAddr> {
  if (address.scheme !== 'udp') throw new ValidationError('url', 'a udp://host:port URL', JSON.stringify(address.url));
  return resolveIpAddress(address.host, address.port);
}

/** What a socket channel is made of (socket.ts opens the socket). */
export interface SocketInit {
  readonly scheme: SocketScheme;
  readonly url: string;
  readonly fd: number;
  /** Connected sockets send with `send`; unconnected ones (bound receivers) only reply with `sendTo`. */
  readonly connected: boolean;
  /** The connected datagram peer's URL: the `from` of every message. */
  readonly peerUrl?: string | undefined;
  readonly localUrl?: string | undefined;
  readonly bound?: BoundFile | undefined;
  readonly peer?: PeerCredentials | undefined;
  readonly options: SocketOptions;
  /**
   * The socket has SO_PASSCRED: every received message carries its sender's SCM_CREDENTIALS (always
   * on seqpacket, where it tells an empty record from the end of the connection; on unix+dgram when
   * `allow` is enforced).
   */
  readonly credentials?: boolean;
  /** Datagrams whose sender fails this are dropped and counted (unix+dgram). */
  readonly allow?: Allow | undefined;
  /** This end connected to a listener (its errors may point at the listener's `allow`). */
  readonly connector?: boolean;
}

/** One socket as a Channel: connected (seqpacket, connected datagram) or bound (datagram receiver). */
export class SocketChannel<T> extends FdChannel<T> implements DatagramChannel<T> {
  readonly transport: SocketScheme;
  protected override readonly readAhead = READ_AHEAD;
  readonly localUrl: string | undefined;
  readonly peer: PeerCredentials | undefined;
  readonly #fd: number;
  readonly #connected: boolean;
  readonly #peerUrl: string | undefined;
  readonly #bound: BoundFile | undefined;
  #eof = false;
  readonly #credentials: boolean;
  readonly #allow: Allow | undefined;
  readonly #connector: boolean;
  readonly #options: SocketOptions;
  /** Datagrams dropped because their sender failed `allow`. */
  #refused = 0;
  /** Messages (and undecodable ones) received so far. */
  #received = 0;
  /** The last sender address seen (unconnected sockets), and its URL. */
  readonly #lastSender = new Uint8Array(SOCKADDR_MAX);
  #lastSenderLength = -1;
  #lastSenderUrl: string | undefined;
  #sendBatch: MmsgBatch | undefined;
  /** The Outgoing bytes whose records `#gatheredFirst` .. + `#gatheredCount` - 1 the send batch's slots 0.. point at. */
  #gathered: Uint8Array | undefined;
  #gatheredFirst = 0;
  #gatheredCount = 0;
  #receiveBatch: MmsgBatch | undefined;
  /** `sendTo` destinations, parsed once (replies usually go to the same few peers). */
  #destinations = new Map<string, SockAddr>();

  constructor(codec: MessageCodec<T>, init: SocketInit) {
    super(init.url, codec, init.fd, init.options);
    this.transport = init.scheme;
    this.#fd = init.fd;
    this.#connected = init.connected;
    this.#peerUrl = init.peerUrl;
    this.localUrl = init.localUrl;
    this.#bound = init.bound;
    this.peer = init.peer;
    this.#credentials = init.credentials === true;
    this.#allow = init.allow;
    this.#connector = init.connector === true;
    this.#options = init.options;
  }

  // --- sending -----------------------------------------------------------------------------------

  /**
   * Sends records of `out` from `out.sent` on: one send() for one record, else one sendmmsg of up to
   * a native batch's slots, which gathers the records from where the base encoded them. One call
   * each time: writeAll calls again while records are taken and stops at the first call that takes
   * none (EAGAIN), as a C loop over sendmmsg would.
   */
  protected writeRecords(out: Outgoing): number {
    if (!this.#connected) {
      throw new UnsupportedError(
        `${this.url} is a bound ${this.transport} socket with no peer: reply with sendTo(message.from, value), or connect() to send`,
      );
    }
    const left = out.count - out.sent;
    if (left === 1) {
      const bytes = recordAt(out, out.sent);
      if (libc.send(this.#fd, bytes, bytes.length, SEND_FLAGS) >= 0) return 1;
      this.#sendFailed('send', libc.errno(), bytes.length);
      return 0;
    }
    this.#sendBatch ??= new MmsgBatch(batchSlots(this.codec.size), this.codec.size, 0, false, false);
    const batch = this.#sendBatch;
    // The next call of a batch the kernel took part of finds its slots pointing at the records
    // still to go: it sends from there, without pointing them again.
    let slot = out.sent - this.#gatheredFirst;
    if (out.bytes !== this.#gathered || slot < 0 || slot >= this.#gatheredCount) {
      this.#gather(batch, out, Math.min(batch.slots, left));
      slot = 0;
    }
    const n = libc.sendmmsg(this.#fd, batch.headerAddress(slot), this.#gatheredCount - slot, SEND_FLAGS);
    if (n < 0) {
      this.#sendFailed('sendmmsg', libc.errno(), this.codec.size);
      return 0;
    }
    // Every gathered record is out: the slots' pointers are not used again.
    if (slot + n === this.#gatheredCount) this.#gathered = undefined;
    return n;
  }

  /**
   * Points the send batch's first `count` slots at the records of `out` from `out.sent` on, where the
   * base encoded them: the kernel copies them from there, as C's sendmmsg from its own buffers
   * (copying every record into native memory first was most of a batched 4 KiB send). The pointers
   * stay valid while `#gathered` holds `out.bytes` (V8 never moves an ArrayBuffer's backing store),
   * and the bytes of an Outgoing do not change while it lives: a new batch is a new array.
   */
  #gather(batch: MmsgBatch, out: Outgoing, count: number): void {
    const base = libc.addressOf(out.bytes);
    const first = out.sent;
    if (out.ends === undefined) {
      const stride = out.stride;
      for (let i = 0; i < count; i++) batch.gather(i, base + (first + i) * stride, stride);
    } else {
      for (let i = 0; i < count; i++) {
        const start = recordStart(out, first + i);
        batch.gather(i, base + start, recordEnd(out, first + i) - start);
      }
    }
    this.#gathered = out.bytes;
    this.#gatheredFirst = first;
    this.#gatheredCount = count;
  }

  /** Maps a failed send's errno (to `to`, or to the connected peer): false to wait and retry (EAGAIN), otherwise throws. */
  #sendFailed(syscall: string, errno: number, size: number, to?: string): false {
    if (errno === errnos.EAGAIN) return false;
    if (errno === errnos.EMSGSIZE) {
      throw new MessageSizeError(
        size,
        this.codec.size,
        `${syscall} ${to === undefined ? `on ${this.url}` : `to ${to}`}: a ${size}-byte message is too large for this ${this.transport} socket (EMSGSIZE); raise /proc/sys/net/core/wmem_max or use a smaller schema`,
      );
    }
    // The receiver is gone: one error class on every transport (ChannelClosedError), the errno as its cause.
    const peerGone =
      errno === errnos.EPIPE ||
      errno === errnos.ECONNRESET ||
      errno === errnos.ENOTCONN ||
      (errno === errnos.ECONNREFUSED && to === undefined);
    if (peerGone) {
      const cause = systemError(errno, syscall, this.#peerUrl ?? this.url);
      if (this.transport === 'udp') {
        throw new ChannelClosedError(
          `${syscall} on ${this.url}: nothing is bound at ${this.#peerUrl ?? this.url} any more (an earlier datagram drew an ICMP port unreachable, ${errnoName(errno)}); this datagram was not sent. The socket stays usable: a later send reaches a receiver that binds the port again`,
          { cause },
        );
      }
      const hint = this.#connector && this.#received === 0 ? `; ${refusalHint(this.url)}` : '';
      throw new ChannelClosedError(`${syscall} on ${this.url}: the peer closed its end (${errnoName(errno)})${hint}`, {
        cause,
      });
    }
    to ??= this.#peerUrl ?? this.url;
    const hints: Partial<Record<string, string>> = {
      ECONNREFUSED:
        this.transport === 'udp'
          ? `an earlier datagram to ${to} was refused (nothing bound there); this one was not sent, retry when the receiver is up`
          : `nobody is bound at ${to} any more`,
      ENOENT: `nobody is bound at ${to} any more`,
    };
    throw systemError(errno, syscall, to, hints[errnoName(errno)]);
  }

  async sendTo(to: string, value: T, options: SendOptions = {}): Promise<void> {
    this.assertOpen();
    this.checkPriority(options.priority);
    const address = await this.#destination(to);
    this.assertOpen();
    let bytes = this.encodeScratch(value);
    const attempt = (): boolean =>
      libc.sendto(this.#fd, bytes, bytes.length, SEND_FLAGS, address.bytes, address.length) >= 0 ||
      this.#sendFailed('sendto', libc.errno(), bytes.length, to);
    if (attempt()) return;
    // Another send may reuse the scratch buffer while this one waits.
    bytes = bytes.slice();
    // Polling writable would not wait for the peer's queue on an unconnected socket: back off instead.
    let delay = 1;
    const pause = (wait: WaitOptions): Promise<void> => {
      const ms = delay;
      delay = Math.min(delay * 2, 32);
      return sleepUntil(ms, wait);
    };
    await this.retryAlone(attempt, this.waitOptions('sendTo', options), pause);
  }

  async #destination(to: string): Promise<SockAddr> {
    const known = this.#destinations.get(to);
    if (known !== undefined) return known;
    if (this.transport === 'unix+seqpacket') {
      throw new UnsupportedError(`${this.url} is a seqpacket connection with one peer: use send(), not sendTo()`);
    }
    const address = parseUrl(to);
    const expected = this.transport === 'udp' ? 'udp' : 'unix+dgram';
    if (address.scheme !== expected) {
      throw new ValidationError('to', `a ${expected}: URL (a received message's from)`, JSON.stringify(to));
    }
    const sockaddr =
      'abstract' in address ? unixAddress(address.path, address.abstract, address.url) : await ipAddressOf(address);
    if (this.#destinations.size > 1024) this.#destinations.clear();
    this.#destinations.set(to, sockaddr);
    return sockaddr;
  }

  // --- receiving ---------------------------------------------------------------------------------

  protected readRecords(max: number, into: ReceivedSink<T>): void {
    if (!this.#fill(max, into) && this.#eof) throw this.#endOfStream();
  }

  #endOfStream(): ChannelClosedError {
    const hint = this.#connector && this.#received === 0 ? `; ${refusalHint(this.url)}` : '';
    return new ChannelClosedError(`${this.url}: the peer closed the connection${hint}`);
  }

  /**
   * One non-blocking recvmmsg of up to `max` datagrams into `into`, each decoded or replaced by its
   * DecodeError in its place; false when nothing was waiting.
   */
  #fill(max: number, into: ReceivedSink<T>): boolean {
    if (this.#eof) return false;
    const batch = this.#receiveBatch ?? this.#newReceiveBatch();
    const want = Math.min(max, batch.slots);
    const unconnected = !this.#connected;
    if (unconnected || this.#credentials) batch.prepareReceive(want);
    const n = libc.recvmmsg(this.#fd, batch.headerAddress(0), want, RECV_FLAGS, null);
    if (n < 0) return this.#receiveFailed(libc.errno());
    // Fixed-size (struct) codecs decode straight from native memory; a variable-size codec's
    // decoder may keep views of its input (msgpack binaries), so it gets one copy of the batch.
    const data = this.codec.fixedSize ? batch.data : batch.data.slice(0, n * batch.stride);
    const seqpacket = this.transport === 'unix+seqpacket';
    let taken = 0;
    for (let i = 0; i < n; i++) {
      const length = batch.receivedLength(i);
      const sender = this.#credentials ? batch.credentials(i) : undefined;
      // recv gives 0 both for an empty record and at the end of a seqpacket connection (af_unix.c,
      // unix_dgram_recvmsg: "Signal EOF on disconnected non-blocking SEQPACKET socket" returns 0 with
      // no message), and recvmmsg fills every slot after the end the same way. With SO_PASSCRED the
      // kernel puts SCM_CREDENTIALS on every real message (scm_recv), so a 0 without them is the end.
      if (seqpacket && length === 0 && sender === undefined) {
        this.#eof = true;
        break;
      }
      const from = unconnected ? this.#senderUrl(batch, i) : this.#peerUrl;
      if (this.#allow !== undefined && !isAllowed(this.#allow, sender ?? UNKNOWN_SENDER)) {
        this.#refuse(sender ?? UNKNOWN_SENDER, from);
        continue;
      }
      this.#received += 1;
      try {
        const truncated = (batch.receivedFlags(i) & libc.MSG_TRUNC) !== 0;
        into.push(this.#decode(data, i * batch.stride, length, truncated, from));
        taken += 1;
      } catch (error) {
        into.push(error as Error);
        taken += 1;
      }
    }
    return taken > 0;
  }

  /** Drops a datagram whose sender `allow` refuses: counted in info().refused, reported to onRefused. */
  #refuse(sender: PeerCredentials, from: string | undefined): void {
    this.#refused += 1;
    reportRefusal(this.#options, from === undefined ? sender : { ...sender, from });
  }

  #newReceiveBatch(): MmsgBatch {
    const address = this.#connected ? 0 : SOCKADDR_MAX;
    const batch = new MmsgBatch(batchSlots(this.codec.size), this.codec.size, address, this.#credentials);
    this.#receiveBatch = batch;
    return batch;
  }

  /** The `from` URL of slot `index`, reusing the last one when the sender is the same (the usual case). */
  #senderUrl(batch: MmsgBatch, index: number): string | undefined {
    const [bytes, length] = batch.sender(index) ?? [undefined, 0];
    if (bytes === undefined) return undefined;
    const last = this.#lastSender;
    if (length === this.#lastSenderLength && bytes.subarray(0, length).every((byte, i) => byte === last[i])) {
      return this.#lastSenderUrl;
    }
    last.set(bytes.subarray(0, length));
    this.#lastSenderLength = length;
    this.#lastSenderUrl = formatAddress(this.transport, bytes, length);
    return this.#lastSenderUrl;
  }

  /** EAGAIN → false; end of a seqpacket connection → false with #eof set; anything else throws. */
  #receiveFailed(errno: number): false {
    if (errno === errnos.EAGAIN) return false;
    if (errno === errnos.ECONNRESET && this.transport === 'unix+seqpacket') {
      this.#eof = true;
      return false;
    }
    throw systemError(errno, 'recvmmsg', this.url);
  }

  // The sender's URL is spelled out only in the messages of a refused datagram, not per message.
  /** Decodes a received datagram of `length` bytes at `offset` in `bytes`, refusing wrong sizes. */
  #decode(bytes: Uint8Array, offset: number, length: number, truncated: boolean, from: string | undefined): Message<T> {
    const { size, fixedSize, name } = this.codec;
    if (length === 0 && this.transport === 'unix+seqpacket') {
      throw new DecodeError(
        '',
        `${this.url}: discarded an empty record${fromText(from)}, expected ${fixedSize ? 'exactly' : 'at most'} ${size} bytes of ${name}; the sender uses another protocol (the connection goes on)`,
      );
    }
    if (truncated || length > size) {
      throw new DecodeError(
        '',
        `${this.url}: discarded a ${length}-byte datagram${fromText(from)}, larger than the ${size}-byte ${name} message (MSG_TRUNC); the sender uses another schema`,
      );
    }
    if (fixedSize && length !== size) {
      throw new DecodeError(
        '',
        `${this.url}: discarded a ${length}-byte datagram${fromText(from)}, expected exactly ${size} bytes of ${name}; the sender uses another schema`,
      );
    }
    // Same Uint8Array every time for struct codecs: their decoder caches its DataView per array.
    const value = fixedSize
      ? this.codec.decode(bytes, offset)
      : this.codec.decode(bytes.subarray(offset, offset + length));
    return from === undefined ? { value, priority: 0 } : { value, priority: 0, from };
  }

  // --- lifecycle ---------------------------------------------------------------------------------

  protected closeResources(): void {
    libc.close(this.#fd);
    this.#sendBatch?.free();
    this.#receiveBatch?.free();
    this.#sendBatch = undefined;
    this.#gathered = undefined;
    this.#receiveBatch = undefined;
    removeBoundFile(this.#bound);
  }

  info(): ChannelInfo {
    return this.describe(() => ({
      localUrl: this.localUrl,
      peerUrl: this.#peerUrl,
      peer: this.peer,
      ...(this.transport === 'unix+dgram' ? { admits: describeAllow(this.#allow), refused: this.#refused } : {}),
      sendBufferBytes: sockets.getIntOption(this.#fd, libc.SO_SNDBUF),
      receiveBufferBytes: sockets.getIntOption(this.#fd, libc.SO_RCVBUF),
    }));
  }
}
