/**
 * `sysv:`: System V message queues (msgget/msgsnd/msgrcv). Every message is one msgsnd of the codec's
 * size with a message type (mtype >= 1) in place of a priority; receivers take any type, one type,
 * the lowest type up to a bound, or every type but one (MSG_EXCEPT), chosen when the channel is opened.
 *
 * A System V queue has no file descriptor, so nothing can wait for it on the event loop. Waiting
 * sends and receives retry the non-blocking call (IPC_NOWAIT) instead: for a spin window that adapts to
 * the channel (0.05 to 2 ms; up to 50 ms while the peer process is runnable, on queues of < 256
 * messages) each pause probes the queue for up to 20 us with sched_yield between probes, then gives the
 * loop a turn; after the window, on timers of 1 ms (eight times), then 2, 4, 8 ms up to `pollMaxMs`
 * (default 10). Timers cost no thread, an idle waiting channel costs about 100 system calls a second,
 * and a busy one stays in the fast phase; docs/sysv.md has the figures and reasons.
 */
import { readFileSync } from 'node:fs';
import type { MessageCodec } from '../codecs/codec.js';
import {
  AbortError,
  ChannelClosedError,
  DecodeError,
  MessageSizeError,
  SystemError,
  TimeoutError,
  UnsupportedError,
  ValidationError,
} from '../errors.js';
import { errnos, libc, systemError, sysvmsg, type WaitOptions } from '../native/index.js';
import { type Access, type ChannelInfo, type Message, RecordChannel } from './channel.js';
import { checkAccess, checkCapacity, checkCreate, checkInteger, checkMode } from './options.js';
import type { OpenOptions, Transport } from './transport.js';
import type { Address, SysvTarget } from './url.js';

/** What `info()` reports for a System V queue (figures from IPC_STAT, read at the call). */
export interface SysvInfo extends ChannelInfo {
  readonly transport: 'sysv';
  /** The queue id (msqid), as `ipcs -q` shows it; `sysv:id=N` names it. */
  readonly id: number;
  /** The key the queue was created with (0 for IPC_PRIVATE), and as ipcs prints it. */
  readonly key: number;
  readonly keyHex: string;
  /** Whole messages of the codec's size that fit in `capacityBytes`. */
  readonly capacity: number;
  /** `msg_qbytes`: bytes of message text the queue holds before senders wait. */
  readonly capacityBytes: number;
  /** `msg_qnum`: messages waiting now, of every type. */
  readonly pending: number;
  /** `__msg_cbytes`: bytes of message text waiting now (ipcs' used-bytes). */
  readonly bytes: number;
  /** Pid of the last msgsnd and of the last msgrcv (0: none yet). */
  readonly lastSendPid: number;
  readonly lastReceivePid: number;
  /** Time of the last msgsnd, msgrcv and change (IPC_SET, creation); undefined when never. */
  readonly lastSend: Date | undefined;
  readonly lastReceive: Date | undefined;
  readonly changed: Date | undefined;
  /** Owner and group of the queue, and its creator's. */
  readonly uid: number;
  readonly gid: number;
  readonly cuid: number;
  readonly cgid: number;
  /** Permission bits, e.g. 0o600. */
  readonly mode: number;
  /** The msgrcv msgtyp this channel receives with, and whether MSG_EXCEPT inverts it. */
  readonly receiveType: number;
  readonly except: boolean;
}

/** A System V message type is a C long >= 1; JS numbers carry it exactly up to 2^53 - 1. */
const MAX_TYPE = Number.MAX_SAFE_INTEGER;
/** The type of a send without a priority. */
const DEFAULT_TYPE = 1;
const TWO_32 = 2 ** 32;
const MTYPE = libc.MTYPE_SIZE;
/**
 * How long a waiting call retries on every loop turn before it sleeps on timers: adapted per channel
 * between these bounds (see RetryPacer), starting at SPIN_START_MS.
 */
const SPIN_MIN_MS = 0.05;
const SPIN_START_MS = 0.5;
const SPIN_MAX_MS = 2;
/**
 * How long one wait keeps spinning past its window while the process at the other end (msg_lspid or
 * msg_lrpid) is runnable: a descheduled peer on a loaded machine is about to move, a sleeping one is not.
 */
const ACTIVE_SPIN_MAX_MS = 50;
/**
 * Queues that hold this many messages or more do not spin on for a runnable peer: a 1 ms timer lets
 * the peer fill (or drain) them meanwhile and the next try moves a batch, which measured faster on a
 * loaded machine than spinning, which takes CPU from the peer (docs/sysv.md).
 */
const ACTIVE_SPIN_BELOW_MESSAGES = 256;
const DEFAULT_POLL_MAX_MS = 10;
/**
 * How long one pause of the spin phase probes the queue in a tight loop, with a sched_yield before
 * each probe, before it gives the event loop a turn: a running peer reaches the queue within
 * microseconds, sooner than a loop turn comes round, and the yield hands it the CPU when it waits for
 * this one on the same core. It holds the loop for at most this long (docs/sysv.md, Waiting).
 */
const SYNC_SPIN_MS = 0.02;
/**
 * Sleeps of the timer phase stay at 1 ms for this many before they double: a peer that slept too
 * (both ends waiting on timers in turn) is met again within a millisecond, not after 8 or 10.
 */
const FLAT_SLEEPS = 8;

const settled: Promise<void> = Promise.resolve();

const accessBits: Record<NonNullable<OpenOptions['access']>, number> = { send: 0o200, receive: 0o400, both: 0o600 };

interface Pause {
  timer?: NodeJS.Timeout;
  immediate?: NodeJS.Immediate;
  reject(error: unknown): void;
}

interface Progress {
  readonly options: WaitOptions;
  readonly started: number;
  sleeps: number;
  /** Spin on loop turns until then: the peer was runnable when the spin window ran out. */
  spinUntil: number;
}

/** Which end a wait waits for: a receive for a sender (msg_lspid), a send for a receiver (msg_lrpid). */
type Peer = 'sender' | 'receiver';

/**
 * The pauses between tries of waiting sends and receives. Each operation (one WaitOptions object,
 * which the base class keeps for all tries of one send or receive) backs off on its own: for the
 * channel's spin window, a short probing spin and then a loop turn per pause; then timers of 1 ms
 * (FLAT_SLEEPS of them), 2, 4, ... ms up to `maxMs`.
 *
 * The spin window adapts to the channel: a wait that the other side ended within the window (a busy
 * queue: a consumer draining, a producer filling) keeps it at least twice that long, so that a stream
 * of messages never falls into the timer phase, where both sides would sleep in turn; a wait that
 * lasted into the timer phase (an idle queue) halves it, so that idle channels spin next to nothing.
 */
class RetryPacer {
  readonly #maxMs: number;
  readonly #peerRunnable: (peer: Peer) => boolean;
  readonly #pauses = new Set<Pause>();
  readonly #progress = new WeakMap<WaitOptions, Progress>();
  #spinMs = SPIN_START_MS;
  /** The operation whose pause resolved last: a success right after it ends its wait (see `done`). */
  #resumed: Progress | undefined;
  #ref = true;
  #closedWith: unknown;

  constructor(maxMs: number, peerRunnable: (peer: Peer) => boolean) {
    this.#maxMs = maxMs;
    this.#peerRunnable = peerRunnable;
  }

  /**
   * Resolves when the caller should try again; rejects on timeout, abort or close. `probe` tells
   * without side effects whether the call would go through now (undefined: it cannot tell).
   */
  pause(options: WaitOptions, peer: Peer, probe: () => boolean | undefined): Promise<void> {
    this.#resumed = undefined;
    if (this.#closedWith !== undefined) return Promise.reject(this.#closedWith);
    const { signal, deadline = Number.POSITIVE_INFINITY } = options;
    const operation = options.operation ?? 'wait';
    if (signal?.aborted) return Promise.reject(new AbortError(operation, signal.reason));
    const now = performance.now();
    const remaining = deadline - now;
    if (remaining <= 0) return Promise.reject(new TimeoutError(operation, options.timeoutMs ?? 0));
    let progress = this.#progress.get(options);
    if (progress === undefined) {
      progress = { options, started: now, sleeps: 0, spinUntil: now + this.#spinMs };
      this.#progress.set(options, progress);
    }
    // An unref'ed channel must not hold the loop: immediates cannot be unref'ed, so it sleeps at once.
    let spin = this.#ref && now < progress.spinUntil;
    // The window ran out: spin on (one more window, then ask again) while the other end is runnable,
    // i.e. on its way to the queue, rather than both ends sleeping on timers in turn. One IPC_STAT and
    // one /proc read per window; a peer that sleeps (idle, or on its own timers) gets the back-off.
    if (this.#ref && !spin && progress.sleeps === 0 && now - progress.started < ACTIVE_SPIN_MAX_MS) {
      spin = this.#peerRunnable(peer);
      if (spin) progress.spinUntil = now + SPIN_MAX_MS;
    }
    const resumed = progress;
    if (spin && this.#probeSpin(now, probe)) {
      this.#resumed = resumed;
      return settled;
    }
    const delay = spin
      ? 0
      : Math.ceil(Math.min(this.#maxMs, 2 ** Math.max(0, progress.sleeps - FLAT_SLEEPS), remaining));
    if (!spin) progress.sleeps += 1;
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => settle(new AbortError(operation, signal?.reason));
      const settle = (error?: unknown): void => {
        if (!this.#pauses.delete(pause)) return;
        if (pause.timer !== undefined) clearTimeout(pause.timer);
        if (pause.immediate !== undefined) clearImmediate(pause.immediate);
        signal?.removeEventListener('abort', onAbort);
        if (error !== undefined) {
          reject(error);
        } else {
          this.#resumed = resumed;
          resolve();
        }
      };
      const pause: Pause = { reject: settle };
      this.#pauses.add(pause);
      if (spin) {
        pause.immediate = setImmediate(() => {
          libc.schedYield();
          settle();
        });
      } else {
        pause.timer = setTimeout(settle, delay);
        if (!this.#ref) pause.timer.unref();
      }
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * Probes for up to SYNC_SPIN_MS from `now`, with a sched_yield before each probe: whether the call
   * would go through now (false also when the probe cannot tell).
   */
  #probeSpin(now: number, probe: () => boolean | undefined): boolean {
    const until = now + SYNC_SPIN_MS;
    for (;;) {
      libc.schedYield();
      const ready = probe();
      if (ready !== false) return ready === true;
      if (performance.now() >= until) return false;
    }
  }

  /**
   * The first try of a send() found the queue full: probe for a moment before it is queued (the
   * channel's `roomSoon`, see FdChannel). False at once when unref'ed, as a pause would not spin either.
   */
  beforeQueueing(probe: () => boolean | undefined): boolean {
    if (!this.#ref || this.#closedWith !== undefined) return false;
    return this.#probeSpin(performance.now(), probe);
  }

  /** A send or receive succeeded: if it ended a wait, adapt the spin window to how long that took. */
  done(): void {
    const resumed = this.#resumed;
    if (resumed === undefined) return;
    this.#resumed = undefined;
    // sendMany keeps one WaitOptions for all its messages: the next one that waits starts fast again.
    this.#progress.delete(resumed.options);
    const waited = performance.now() - resumed.started;
    this.#spinMs =
      resumed.sleeps === 0
        ? Math.min(SPIN_MAX_MS, Math.max(this.#spinMs, 2 * waited))
        : Math.max(SPIN_MIN_MS, this.#spinMs / 2);
  }

  ref(): void {
    this.#ref = true;
    for (const pause of this.#pauses) pause.timer?.ref();
  }

  unref(): void {
    this.#ref = false;
    for (const pause of this.#pauses) pause.timer?.unref();
  }

  /** Rejects every pending pause with `error`, and every later one. */
  close(error: unknown): void {
    if (this.#closedWith !== undefined) return;
    this.#closedWith = error;
    for (const pause of [...this.#pauses]) pause.reject(error);
  }
}

/** Frees the msgbufs of a channel that was dropped without close(). */
const unclosed = new FinalizationRegistry<bigint>((address) => libc.free(address));

/**
 * A channel's `struct msgbuf`s in one piece of native memory: for sends at 0, for receives at `rxAt`
 * (8-aligned, as the kernel's `long mtype` wants), and the mtype of a probe at `peekAt`. Freed by
 * close(), or when a channel that was never closed is collected. No call is made after close (every
 * send and receive checks the channel is open first); the addresses are 0 (NULL) after `free`, so a
 * call that slipped through would fail with EFAULT rather than write to freed memory.
 */
class MsgBuffers {
  readonly memory: ArrayBuffer;
  readonly rxAt: number;
  readonly peekAt: number;
  tx: bigint;
  rx: bigint;
  peek: bigint;

  constructor(owner: object, size: number) {
    const align = (n: number): number => Math.ceil(n / 8) * 8;
    this.rxAt = align(MTYPE + size);
    this.peekAt = this.rxAt + align(MTYPE + size + 1);
    const total = this.peekAt + MTYPE;
    this.tx = libc.allocNative(total);
    this.rx = this.tx + BigInt(this.rxAt);
    this.peek = this.tx + BigInt(this.peekAt);
    this.memory = libc.viewNative(this.tx, total);
    new Uint8Array(this.memory).fill(0);
    unclosed.register(owner, this.tx, this);
  }

  free(): void {
    if (this.tx === 0n) return;
    unclosed.unregister(this);
    libc.free(this.tx);
    this.tx = 0n;
    this.rx = 0n;
    this.peek = 0n;
  }
}

/** Checked options of a `sysv:` open. */
interface SysvOptions {
  readonly create: boolean;
  readonly exclusive: boolean;
  readonly mode: number;
  readonly access: NonNullable<OpenOptions['access']>;
  readonly capacityBytes: number | undefined;
  readonly receiveType: number;
  readonly except: boolean;
  readonly pollMaxMs: number;
}

function checkOptions(target: SysvTarget, codec: MessageCodec<unknown>, options: OpenOptions): SysvOptions {
  const { create, exclusive } = checkCreate(options);
  const mode = checkMode(options.mode);
  const access = checkAccess<Access>(options.access);
  const { except = false } = options;
  if (target.kind === 'id' && create) {
    throw new UnsupportedError(
      'sysv:id=N names an existing queue and cannot create one: drop `create`, or name the queue by key (sysv:key=0x...) or sysv:private',
    );
  }
  if (options.capacity !== undefined && options.capacityBytes !== undefined) {
    throw new ValidationError(
      'capacity',
      'either capacity (messages) or capacityBytes (msg_qbytes), not both',
      `${options.capacity} and ${options.capacityBytes}`,
    );
  }
  let capacityBytes = options.capacityBytes;
  if (options.capacity !== undefined) {
    capacityBytes = checkCapacity(options.capacity, 2 ** 31, 'times the message size, msg_qbytes') * codec.size;
  }
  if (capacityBytes !== undefined) {
    checkInteger('capacityBytes', capacityBytes, 1, MAX_TYPE, 'an integer >= 1 (bytes of message text, msg_qbytes)');
  }
  const receiveType = checkInteger(
    'receiveType',
    options.receiveType ?? 0,
    -MAX_TYPE,
    MAX_TYPE,
    'an integer: 0 any type, n > 0 type n, n < 0 the lowest type <= -n',
  );
  if (except && receiveType <= 0) {
    throw new ValidationError('except', 'a receiveType > 0 to leave out (MSG_EXCEPT)', `receiveType ${receiveType}`);
  }
  const pollMaxMs = checkInteger(
    'pollMaxMs',
    options.pollMaxMs ?? DEFAULT_POLL_MAX_MS,
    1,
    1000,
    'an integer in [1, 1000]',
  );
  return { create, exclusive, mode, access, capacityBytes, receiveType, except, pollMaxMs };
}

/** One end of a System V queue. */
class SysvChannel<T> extends RecordChannel<T> {
  readonly transport = 'sysv';
  /** The queue id (msqid). */
  readonly id: number;
  readonly #pacer: RetryPacer;
  readonly #options: SysvOptions;
  /**
   * The channel's three `struct msgbuf`s, in native memory (see MsgBuffers): koffi passes their
   * addresses for less than the bytes of a Uint8Array, on every msgsnd and msgrcv.
   */
  readonly #buffers: MsgBuffers;
  /** `struct msgbuf` for sends: mtype, then the encoded message (encodeScratch writes it in place). */
  readonly #tx: Uint8Array;
  readonly #txType: Uint32Array;
  readonly #txText: Uint8Array;
  /** The mtype #txType holds now: a run of sends of one type writes it once. */
  #txTypeValue = 0;
  /** `struct msgbuf` for receives, one byte longer than a message so that a longer one is noticed. */
  readonly #rx: Uint8Array;
  readonly #rxType: Uint32Array;
  readonly #rxFlags: number;
  /** The codec's size and fixedSize, and the msgtyp of every msgrcv: read once, not per message. */
  readonly #size: number;
  readonly #fixed: boolean;
  readonly #receiveType: number;
  readonly #stat = new Uint8Array(libc.MSQID_DS_SIZE);
  readonly #statView = new DataView(this.#stat.buffer);
  /** Receives the mtype of a probing msgrcv (no text: see probeReadable). */
  readonly #peekType: Uint32Array;
  readonly #peekFlags: number;
  /** IPC_STAT was refused (no read permission): sends cannot probe for room. */
  #statDenied = false;
  /** A probe consumed a message of 0 bytes (of this type): the next read reports it. */
  #emptyType: number | undefined;
  readonly #probeRead = (): boolean => this.#probeReadable();
  readonly #probeWrite = (): boolean | undefined => this.#probeWritable();
  /** Why the channel closed itself: the queue was removed under it. */
  #removal: ChannelClosedError | undefined;

  constructor(url: string, codec: MessageCodec<T>, id: number, options: SysvOptions, ref: boolean) {
    // No descriptor: FdChannel's watch is never started, waiting goes through the pacer.
    super(url, codec, -1, { ref, access: options.access });
    this.id = id;
    this.#options = options;
    this.#pacer = new RetryPacer(options.pollMaxMs, (peer) => this.#peerRunnable(peer));
    // ref()/unref() of the channel reach the pacer's timers through the strategy.
    this.useWaits({
      readable: (wait) => this.#pacer.pause(wait, 'sender', this.#probeRead),
      writable: (wait) => this.#pacer.pause(wait, 'receiver', this.#probeWrite),
      ref: () => this.#pacer.ref(),
      unref: () => this.#pacer.unref(),
      // On a 64-message queue (256 B) the two ends of a stream meet a full queue every 64 messages,
      // and a queued send costs 10-25 us more than one that goes through (the queue entry and its
      // copy, the stack of the accepting call, a promise, the pump); the receiver usually makes room
      // within SYNC_SPIN_MS (docs/sysv.md, fourth pass).
      roomSoon: () => this.#pacer.beforeQueueing(this.#probeWrite),
    });
    this.#buffers = new MsgBuffers(this, codec.size);
    const { memory, rxAt, peekAt } = this.#buffers;
    this.#tx = new Uint8Array(memory, 0, MTYPE + codec.size);
    this.#txType = new Uint32Array(memory, 0, 2);
    this.#txText = this.#tx.subarray(MTYPE);
    this.#rx = new Uint8Array(memory, rxAt, MTYPE + codec.size + 1);
    this.#rxType = new Uint32Array(memory, rxAt, 2);
    this.#peekType = new Uint32Array(memory, peekAt, 2);
    this.#rxFlags = libc.IPC_NOWAIT | libc.MSG_NOERROR | (options.except ? libc.MSG_EXCEPT : 0);
    this.#size = codec.size;
    this.#fixed = codec.fixedSize;
    this.#receiveType = options.receiveType;
    this.#peekFlags = libc.IPC_NOWAIT | (options.except ? libc.MSG_EXCEPT : 0);
  }

  /** The message type: the priority of a send, 1 when none is given. */
  protected override checkPriority(priority: number | undefined): number {
    if (priority === undefined) return DEFAULT_TYPE;
    if (typeof priority !== 'number' || !Number.isInteger(priority) || priority < 1 || priority > MAX_TYPE) {
      throw new ValidationError(
        'priority',
        'a System V message type (mtype): an integer in [1, 2^53-1] (0 is not a type: msgrcv uses it for "any type")',
        String(priority),
      );
    }
    return priority;
  }

  // Encodes straight into the msgbuf after its mtype: no copy on the fast path.
  protected override encodeScratch(value: T): Uint8Array {
    const length = this.codec.encodeInto(value, this.#tx, MTYPE);
    return length === this.#txText.length ? this.#txText : this.#tx.subarray(MTYPE, MTYPE + length);
  }

  protected writeMessage(bytes: Uint8Array, type: number): boolean {
    const tx = this.#tx;
    // A message that waited (or came from sendMany) has its own copy: put it in the msgbuf. The
    // identity test first: a full-size message of the fast path is #txText itself.
    if (bytes !== this.#txText && (bytes.buffer !== tx.buffer || bytes.byteOffset !== MTYPE)) tx.set(bytes, MTYPE);
    if (type !== this.#txTypeValue) {
      this.#txType[0] = type % TWO_32;
      this.#txType[1] = Math.floor(type / TWO_32);
      this.#txTypeValue = type;
    }
    if (libc.msgsnd(this.id, this.#buffers.tx, bytes.length, libc.IPC_NOWAIT) === 0) {
      this.#pacer.done();
      return true;
    }
    const errno = libc.errno();
    if (errno === errnos.EAGAIN || errno === errnos.EINTR) return false;
    throw this.#failure(errno, 'msgsnd');
  }

  protected readMessage(): Message<T> | undefined {
    if (this.#emptyType !== undefined) {
      const type = this.#emptyType;
      this.#emptyType = undefined;
      throw this.#foreign('0 bytes', type);
    }
    const rx = this.#rx;
    const size = this.#size;
    const length = libc.msgrcv(this.id, this.#buffers.rx, size + 1, this.#receiveType, this.#rxFlags);
    if (length < 0) {
      const errno = libc.errno();
      if (errno === sysvmsg.ENOMSG || errno === errnos.EAGAIN || errno === errnos.EINTR) return undefined;
      throw this.#failure(errno, 'msgrcv');
    }
    this.#pacer.done();
    const high = this.#rxType[1]!;
    const type = high * TWO_32 + this.#rxType[0]!;
    if (high >= 0x20_0000) {
      throw new DecodeError(
        this.codec.name,
        `${this.url} delivered a message of type ${BigInt(high) * BigInt(TWO_32) + BigInt(this.#rxType[0]!)}, beyond 2^53-1, which a JS number cannot carry exactly: the sender must use types <= 2^53-1; the message was dropped`,
      );
    }
    if (length > size || (length !== size && this.#fixed)) {
      // A foreign writer used another layout. MSG_NOERROR consumed the message (without it the kernel
      // would keep returning E2BIG for it and block every receiver behind it).
      throw this.#foreign(length > size ? `more than ${size} bytes` : `${length} bytes`, type);
    }
    const value = this.#fixed ? this.codec.decode(rx, MTYPE) : this.codec.decode(rx.subarray(MTYPE, MTYPE + length));
    return { value, priority: type };
  }

  /** The DecodeError of a consumed message whose size is not the codec's. */
  #foreign(got: string, type: number): DecodeError {
    const size = this.codec.size;
    return new DecodeError(
      this.codec.name,
      `${this.url} delivered a message of ${got} (type ${type}), but ${this.codec.name} messages are ${this.codec.fixedSize ? '' : 'at most '}${size} bytes: a foreign writer uses another layout; the message was dropped`,
    );
  }

  /**
   * Whether a receive would find a message now, without taking it: msgrcv with room for no text and
   * without MSG_NOERROR leaves a longer message in the queue and fails with E2BIG. Only a message of 0
   * bytes fits, and is taken: the next read reports it as the foreign message it is.
   */
  #probeReadable(): boolean {
    const length = libc.msgrcv(this.id, this.#buffers.peek, 0, this.#receiveType, this.#peekFlags);
    if (length >= 0) {
      const peek = this.#peekType;
      this.#emptyType = peek[1]! * TWO_32 + peek[0]!;
      return true;
    }
    const errno = libc.errno();
    // Anything but "nothing there" (E2BIG: a message; EIDRM, EINVAL: removed) is for the read to report.
    return errno !== sysvmsg.ENOMSG && errno !== errnos.EAGAIN && errno !== errnos.EINTR;
  }

  /**
   * Whether a message of the codec's size would fit now (the kernel's test: text bytes within
   * msg_qbytes, and fewer messages than msg_qbytes); undefined when IPC_STAT is not allowed.
   */
  #probeWritable(): boolean | undefined {
    if (this.#statDenied) return undefined;
    if (libc.msgctl(this.id, libc.IPC_STAT, this.#stat) !== 0) {
      if (libc.errno() !== errnos.EACCES) return true;
      this.#statDenied = true;
      return undefined;
    }
    const view = this.#statView;
    const capacity = sysvmsg.readULong(view, libc.MSQ_QBYTES);
    const used = sysvmsg.readULong(view, libc.MSQ_CBYTES);
    const count = sysvmsg.readULong(view, libc.MSQ_QNUM);
    return used + this.codec.size <= capacity && count + 1 <= capacity;
  }

  #failure(errno: number, syscall: string): Error {
    // EINVAL from msgsnd on a queue that still exists: msgmax was lowered below the message size
    // since the channel was opened (every other argument is checked before the call).
    if (errno === errnos.EINVAL && syscall === 'msgsnd' && libc.msgctl(this.id, libc.IPC_STAT, this.#stat) === 0) {
      const { msgmax } = sysvmsg.sysvLimits();
      return new MessageSizeError(
        this.codec.size,
        msgmax ?? 0,
        `${this.url}: the kernel refused a ${this.codec.size}-byte message: ${sysvmsg.SYSV_PROC}/msgmax is ${String(msgmax)} now (it was lowered after the channel was opened); raise it again (sysctl -w kernel.msgmax=${this.codec.size}, as root); nothing was sent`,
      );
    }
    // The id is gone: IPC_RMID woke the call (EIDRM) or ran before it (EINVAL: all arguments are
    // checked before the call, so an unknown id is what is left). The channel closes itself.
    if (errno === sysvmsg.EIDRM || errno === errnos.EINVAL) {
      this.#removal ??= new ChannelClosedError(
        `${this.url} (msqid ${this.id}) was removed (IPC_RMID, e.g. typed-ipc rm or ipcrm): the channel is closed; create the queue again to go on`,
        { cause: systemError(errno, syscall, this.url) },
      );
      void this.close();
      return this.#removal;
    }
    if (errno === errnos.EACCES) {
      const verb = syscall === 'msgsnd' ? 'write (send)' : syscall === 'msgrcv' ? 'read (receive)' : 'read';
      return systemError(
        errno,
        syscall,
        this.url,
        `the queue's mode does not grant ${verb} to this user: have its owner change the mode, or use the direction it allows`,
      );
    }
    return systemError(errno, syscall, this.url);
  }

  /**
   * Whether the process that last sent (or received) on the queue is runnable now (state R in
   * /proc/PID/stat): running or waiting for a CPU, so about to reach the queue. False when unknown:
   * no such process yet, this process itself, a pid of another namespace, no read permission. Also
   * false for queues of ACTIVE_SPIN_BELOW_MESSAGES messages or more, where sleeping is the faster wait.
   */
  #peerRunnable(peer: Peer): boolean {
    if (libc.msgctl(this.id, libc.IPC_STAT, this.#stat) !== 0) return false;
    const view = this.#statView;
    if (sysvmsg.readULong(view, libc.MSQ_QBYTES) >= ACTIVE_SPIN_BELOW_MESSAGES * this.#size) return false;
    const pid = view.getInt32(peer === 'sender' ? libc.MSQ_LSPID : libc.MSQ_LRPID, true);
    if (pid <= 0 || pid === process.pid) return false;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    } catch {
      return false;
    }
    // The state follows the command name, which is in parentheses and may itself hold ") ".
    return stat.charCodeAt(stat.lastIndexOf(')') + 2) === 0x52;
  }

  protected closeResources(): void {
    // A System V queue outlives its users: closing forgets the id, unlink() removes the queue.
    this.#pacer.close(this.#removal ?? new ChannelClosedError(`${this.url} was closed`));
    this.#buffers.free();
  }

  info(): SysvInfo {
    this.assertOpen();
    let stat: sysvmsg.QueueStat;
    try {
      stat = sysvmsg.queueStat(this.id, this.url, this.#stat);
    } catch (error) {
      if (error instanceof SystemError && (error.errno === errnos.EINVAL || error.errno === sysvmsg.EIDRM)) {
        throw this.#failure(error.errno, error.syscall);
      }
      throw error;
    }
    const when = (seconds: number): Date | undefined => (seconds === 0 ? undefined : new Date(seconds * 1000));
    return {
      url: this.url,
      transport: 'sysv',
      id: this.id,
      key: stat.key,
      keyHex: sysvmsg.keyString(stat.key),
      messageSize: this.codec.size,
      capacity: Math.floor(stat.capacityBytes / this.codec.size),
      capacityBytes: stat.capacityBytes,
      pending: stat.pending,
      bytes: stat.bytes,
      lastSendPid: stat.lastSendPid,
      lastReceivePid: stat.lastReceivePid,
      lastSend: when(stat.sendTime),
      lastReceive: when(stat.receiveTime),
      changed: when(stat.changeTime),
      uid: stat.uid,
      gid: stat.gid,
      cuid: stat.cuid,
      cgid: stat.cgid,
      mode: stat.mode,
      receiveType: this.#options.receiveType,
      except: this.#options.except,
    };
  }
}

/** The key a key or ftok target names. */
function keyOf(target: SysvTarget & { kind: 'key' | 'ftok' }): number {
  return target.kind === 'key' ? target.key : sysvmsg.ftokKey(target.path, target.proj);
}

/** Opens (or creates) the queue and checks that a message of the codec fits in it and in msgmax. */
async function openChannel<T>(
  url: string,
  target: SysvTarget,
  codec: MessageCodec<T>,
  options: OpenOptions,
): Promise<SysvChannel<T>> {
  const checked = checkOptions(target, codec as MessageCodec<unknown>, options);
  const { msgmax } = sysvmsg.sysvLimits();
  if (msgmax !== undefined && codec.size > msgmax) {
    throw new MessageSizeError(
      codec.size,
      msgmax,
      `${codec.name} messages are ${codec.size} bytes, more than ${sysvmsg.SYSV_PROC}/msgmax (${msgmax}), the largest System V message: use a smaller schema, or raise the limit (sysctl -w kernel.msgmax=${codec.size}, as root)`,
    );
  }
  const { id, created } =
    target.kind === 'id'
      ? { id: target.id, created: false }
      : sysvmsg.getQueue(target.kind === 'private' ? libc.IPC_PRIVATE : keyOf(target), url, {
          create: checked.create,
          exclusive: checked.exclusive,
          mode: checked.mode,
          access: accessBits[checked.access],
        });
  // A private queue has no key: its id is the only name another process can open it by.
  const channelUrl = target.kind === 'private' ? `sysv:id=${id}` : url;
  try {
    if (created && checked.capacityBytes !== undefined) sysvmsg.setCapacityBytes(id, channelUrl, checked.capacityBytes);
    let capacityBytes: number | undefined;
    try {
      capacityBytes = sysvmsg.queueStat(id, channelUrl).capacityBytes;
    } catch (error) {
      // IPC_STAT needs read permission, which a send-only user may lack: then msgsnd is the check.
      if (!(error instanceof SystemError && error.errno === errnos.EACCES && checked.access === 'send')) throw error;
    }
    if (capacityBytes !== undefined && codec.size > capacityBytes) {
      throw new MessageSizeError(
        codec.size,
        capacityBytes,
        `${channelUrl} holds at most ${capacityBytes} bytes of messages (its msg_qbytes), less than one ${codec.name} message (${codec.size} bytes), so a send would wait forever: create the queue with capacityBytes >= ${codec.size}`,
      );
    }
    return new SysvChannel(channelUrl, codec, id, checked, options.ref !== false);
  } catch (error) {
    if (created) sysvmsg.removeQueue(id, channelUrl);
    throw error;
  }
}

function sysvTarget(address: Address): SysvTarget {
  if (address.scheme !== 'sysv') throw new UnsupportedError(`${address.url} is not a sysv: URL`);
  return address.target;
}

/** The id of the queue a URL names now (msgget without IPC_CREAT for keys and ftok paths). */
function queueId(url: string, target: SysvTarget): number {
  if (target.kind === 'id') return target.id;
  if (target.kind === 'private') {
    throw new UnsupportedError(`${url} names no existing queue: a private queue is reached by its id (sysv:id=N)`);
  }
  return sysvmsg.getQueue(keyOf(target), url, { create: false, exclusive: false, mode: 0, access: 0 }).id;
}

/** One System V queue of the system, as `ipcs -q` lists it. */
export interface SysvQueueEntry {
  /** `sysv:key=0x...`, or `sysv:id=N` for a private queue. */
  readonly url: string;
  readonly id: number;
  readonly key: number;
  readonly keyHex: string;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** Bytes and messages waiting. */
  readonly bytes: number;
  readonly pending: number;
  readonly lastSendPid: number;
  readonly lastReceivePid: number;
  /** Last change (creation, IPC_SET), send or receive, whichever is latest. */
  readonly modified: Date;
}

/** Every System V queue of this IPC namespace (from /proc/sysvipc/msg, which `ipcs -q` reads). */
export function sysvQueues(procFile?: string): SysvQueueEntry[] {
  return sysvmsg.listQueues(procFile).map((queue) => ({
    url: queue.key === libc.IPC_PRIVATE ? `sysv:id=${queue.id}` : `sysv:key=${sysvmsg.keyString(queue.key)}`,
    id: queue.id,
    key: queue.key,
    keyHex: sysvmsg.keyString(queue.key),
    mode: queue.mode,
    uid: queue.uid,
    gid: queue.gid,
    bytes: queue.bytes,
    pending: queue.pending,
    lastSendPid: queue.lastSendPid,
    lastReceivePid: queue.lastReceivePid,
    modified: new Date(Math.max(queue.changeTime, queue.sendTime, queue.receiveTime) * 1000),
  }));
}

/** The `sysv:` transport: open (create) a queue, remove it (IPC_RMID). */
export const transports: Partial<Record<string, Transport>> = {
  sysv: {
    async open(address, codec, options) {
      return openChannel(address.url, sysvTarget(address), codec, options);
    },
    async unlink(address) {
      const target = sysvTarget(address);
      let id: number;
      try {
        id = queueId(address.url, target);
      } catch (error) {
        if (!(error instanceof SystemError && error.code === 'ENOENT' && error.syscall === 'msgget')) throw error;
        throw systemError(
          error.errno,
          'msgget',
          address.url,
          'no queue has this key (already removed, or never created)',
        );
      }
      sysvmsg.removeQueue(id, address.url);
    },
  },
};
