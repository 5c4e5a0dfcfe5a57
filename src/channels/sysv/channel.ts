/** A `sysv:` channel: one end of a System V queue, its sends and receives (msgsnd, msgrcv), probes and info. */
import { readFileSync } from 'node:fs';
import type { MessageCodec } from '../../codecs/codec.js';
import { ChannelClosedError, DecodeError, MessageSizeError, SystemError, ValidationError } from '../../errors.js';
import { errnos, libc, systemError, sysvmsg } from '../../native/index.js';
import { type ChannelInfo, type Message, RecordChannel } from '../channel.js';
import { MsgBuffers, MTYPE } from './msgbufs.js';
import { MAX_TYPE, type SysvOptions } from './options.js';
import { ACTIVE_SPIN_BELOW_MESSAGES, type Peer, RetryPacer } from './pacer.js';

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

/** The type of a send without a priority. */
const DEFAULT_TYPE = 1;
const TWO_32 = 2 ** 32;

/** One end of a System V queue. */
export class SysvChannel<T> extends RecordChannel<T> {
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
