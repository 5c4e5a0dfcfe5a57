/**
 * POSIX message queues, checked: open, attributes, close and unlink, with errors that say which
 * system limit was hit (the /proc/sys/fs/mqueue figures, RLIMIT_MSGQUEUE, RLIMIT_NOFILE), its value,
 * and how to raise it. The hot calls (mq_send, mq_receive) stay raw in `libc.ts`: the channel checks
 * their results itself.
 */
import { readdirSync } from 'node:fs';
import type { SystemError } from '../errors.js';
import { EEXIST, ENOENT, errnoName, systemError } from './errors.js';
import * as libc from './libc.js';
import { readProcInteger } from './proc.js';

/** Where the kernel publishes the message queue limits. */
export const MQUEUE_PROC = '/proc/sys/fs/mqueue';

/** The system's message queue limits (undefined where /proc does not say). */
export interface MqueueLimits {
  /** Largest capacity an unprivileged process may ask for (`msg_max`). */
  readonly msgMax: number | undefined;
  /** Largest message size an unprivileged process may ask for (`msgsize_max`). */
  readonly msgsizeMax: number | undefined;
  /** Capacity of a queue created without attributes (`msg_default`). */
  readonly msgDefault: number | undefined;
  /** How many queues the whole system may hold (`queues_max`). */
  readonly queuesMax: number | undefined;
}

function readLimit(file: string): number | undefined {
  return readProcInteger(`${MQUEUE_PROC}/${file}`);
}

/** Reads the current limits from /proc/sys/fs/mqueue (they can change at any time, so never cached). */
export function mqueueLimits(): MqueueLimits {
  return {
    msgMax: readLimit('msg_max'),
    msgsizeMax: readLimit('msgsize_max'),
    msgDefault: readLimit('msg_default'),
    queuesMax: readLimit('queues_max'),
  };
}

/** A queue's attributes as `mq_getattr` reports them. */
export interface QueueAttributes {
  /** `mq_maxmsg`: messages the queue holds before senders wait. */
  readonly capacity: number;
  /** `mq_msgsize`: the largest message, in bytes. */
  readonly messageSize: number;
  /** `mq_curmsgs`: messages waiting now. */
  readonly pending: number;
  /** `mq_flags` of this descriptor (O_NONBLOCK or 0). */
  readonly flags: number;
}

/** What `openQueue` creates when the queue does not exist. */
export interface QueueShape {
  readonly capacity: number;
  readonly messageSize: number;
}

let priorityLimit: number | undefined;
/** `sysconf(_SC_MQ_PRIO_MAX)`: priorities are integers in [0, this). */
export function mqPriorityLimit(): number {
  priorityLimit ??= libc.sysconf(libc._SC_MQ_PRIO_MAX);
  return priorityLimit;
}

/**
 * `mq_open`. With O_CREAT, `shape` gives the capacity and message size of a new queue. Failures
 * throw SystemError whose hint reads the limit that was hit.
 */
export function openQueue(name: string, oflag: number, mode: number, shape?: QueueShape): number {
  const mqd = libc.mqOpen(name, oflag, mode, shape === undefined ? undefined : shapeAttr(shape));
  if (mqd >= 0) return mqd;
  throw openError(libc.errno(), name, oflag, shape);
}

function openError(errno: number, name: string, oflag: number, shape: QueueShape | undefined): SystemError {
  return systemError(errno, 'mq_open', name, openHint(errnoName(errno), oflag, shape));
}

/**
 * Opens the queue, creating it with `shape` and exactly `mode` when it does not exist (`exclusive`:
 * fail with EEXIST when it does); returns the descriptor. `access` is O_RDONLY, O_WRONLY or O_RDWR, plus
 * any other flags.
 */
export function createQueue(name: string, access: number, mode: number, shape: QueueShape, exclusive: boolean): number {
  const create = access | libc.O_CREAT | libc.O_EXCL;
  if (exclusive) return chmodCreated(openQueue(name, create, mode, shape), name, mode);
  // O_EXCL first, so that we know whether this call created the queue (and owes it its mode); the
  // loop covers a queue unlinked between the two calls.
  for (;;) {
    const created = libc.mqOpen(name, create, mode, shapeAttr(shape));
    if (created >= 0) return chmodCreated(created, name, mode);
    let errno = libc.errno();
    if (errno !== EEXIST) throw openError(errno, name, create, shape);
    const opened = libc.mqOpen(name, access, 0);
    if (opened >= 0) return opened;
    errno = libc.errno();
    if (errno !== ENOENT) throw openError(errno, name, access, undefined);
  }
}

// mq_open applies the umask to `mode`; the caller asked for exactly `mode` (e.g. 0660 to share with a
// group), so set it again on the new queue.
function chmodCreated(mqd: number, name: string, mode: number): number {
  if (libc.fchmod(mqd, mode) < 0) {
    const errno = libc.errno();
    libc.mqClose(mqd);
    throw systemError(errno, 'fchmod', name);
  }
  return mqd;
}

function shapeAttr(shape: QueueShape): BigInt64Array {
  const attr = new BigInt64Array(libc.MQ_ATTR_LONGS);
  attr[1] = BigInt(shape.capacity);
  attr[2] = BigInt(shape.messageSize);
  return attr;
}

/** `mq_getattr`; `scratch` (MQ_ATTR_LONGS longs) may be passed to avoid an allocation. */
export function queueAttributes(mqd: number, name?: string, scratch?: BigInt64Array): QueueAttributes {
  const attr = scratch ?? new BigInt64Array(libc.MQ_ATTR_LONGS);
  if (libc.mqGetattr(mqd, attr) < 0) throw systemError(libc.errno(), 'mq_getattr', name);
  return {
    flags: Number(attr[0]),
    capacity: Number(attr[1]),
    messageSize: Number(attr[2]),
    pending: Number(attr[3]),
  };
}

/** `mq_close`. */
export function closeQueue(mqd: number, name?: string): void {
  if (libc.mqClose(mqd) < 0) throw systemError(libc.errno(), 'mq_close', name);
}

/** `mq_unlink`: the name goes away now, the queue when its last descriptor is closed. */
export function unlinkQueue(name: string): void {
  if (libc.mqUnlink(name) >= 0) return;
  const errno = libc.errno();
  const code = errnoName(errno);
  const hint =
    code === 'ENOENT'
      ? 'no queue has this name (already unlinked, or never created)'
      : code === 'EACCES'
        ? 'only the owner of the queue (or root) may unlink it'
        : undefined;
  throw systemError(errno, 'mq_unlink', name, hint);
}

/** The limit an `mq_open` failure is about, measured now, and how to raise it. */
function openHint(code: string, oflag: number, shape: QueueShape | undefined): string | undefined {
  switch (code) {
    case 'EINVAL':
      return shape === undefined ? undefined : attributeHint(shape);
    case 'EMFILE':
      return emfileHint(shape);
    case 'ENOSPC':
      return queuesMaxHint();
    case 'EACCES': {
      const wanted = ['read (receive)', 'write (send)', 'read and write (send and receive)'][oflag & 3];
      return `the queue exists and its mode does not grant ${wanted} to this user: open it with the access its mode allows, or have its owner change the mode`;
    }
    case 'EEXIST':
      return 'a queue of this name exists already: open it without `exclusive`, or unlink it first (typed-ipc rm mq:<name>)';
    case 'ENOENT':
      return 'no queue has this name: pass `create: true`, or start the side that creates it first';
    default:
      return undefined;
  }
}

function attributeHint(shape: QueueShape): string {
  const limits = mqueueLimits();
  const problems: string[] = [];
  if (limits.msgMax !== undefined && shape.capacity > limits.msgMax) {
    problems.push(
      `capacity ${shape.capacity} exceeds ${MQUEUE_PROC}/msg_max (${limits.msgMax}): ask for capacity <= ${limits.msgMax}, or raise the limit (sysctl -w fs.mqueue.msg_max=${shape.capacity}, as root)`,
    );
  }
  if (limits.msgsizeMax !== undefined && shape.messageSize > limits.msgsizeMax) {
    problems.push(
      `message size ${shape.messageSize} exceeds ${MQUEUE_PROC}/msgsize_max (${limits.msgsizeMax}): use a smaller schema, or raise the limit (sysctl -w fs.mqueue.msgsize_max=${shape.messageSize}, as root)`,
    );
  }
  if (problems.length > 0) return problems.join('; ');
  return `the kernel refused capacity ${shape.capacity} and message size ${shape.messageSize} (both must be >= 1; limits: msg_max ${String(limits.msgMax)}, msgsize_max ${String(limits.msgsizeMax)} in ${MQUEUE_PROC})`;
}

// Kernel bookkeeping per message on x86_64 (struct msg_msg, 48 bytes, plus a priority tree node of
// 48): what RLIMIT_MSGQUEUE is charged besides the payload (ipc/mqueue.c, mqueue_get_inode).
const KERNEL_BYTES_PER_MESSAGE = 96;

function rlimit(resource: number): bigint | undefined {
  const limits = new BigUint64Array(2);
  return libc.getrlimit(resource, limits) === 0 ? limits[0] : undefined;
}

/** Descriptors open in this process; Infinity when not even /proc/self/fd can be opened (EMFILE). */
function openDescriptors(): number | undefined {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EMFILE' ? Number.POSITIVE_INFINITY : undefined;
  }
}

function emfileHint(shape: QueueShape | undefined): string {
  // The kernel says EMFILE for two different limits: the process is out of descriptors, or the
  // user's queues would use more than RLIMIT_MSGQUEUE bytes.
  const nofile = rlimit(libc.RLIMIT_NOFILE);
  const open = openDescriptors();
  if (nofile !== undefined && open !== undefined && open + 1 >= Number(nofile)) {
    const count = Number.isFinite(open) ? `${open}` : 'all its';
    return `this process has ${count} descriptors open and RLIMIT_NOFILE is ${nofile}: close channels no longer used, or raise the limit (ulimit -n)`;
  }
  const msgqueue = rlimit(libc.RLIMIT_MSGQUEUE);
  const limit = msgqueue === undefined || msgqueue === libc.RLIM_INFINITY ? 'unlimited' : `${msgqueue} bytes`;
  const needs =
    shape === undefined
      ? 'the queue'
      : `a queue of capacity ${shape.capacity} and message size ${shape.messageSize} (about ${shape.capacity * (shape.messageSize + KERNEL_BYTES_PER_MESSAGE)} bytes)`;
  return `${needs} would take this user's message queues over RLIMIT_MSGQUEUE (${limit}, shared by all of this user's queues): unlink queues no longer used, ask for a smaller capacity, or raise the limit (ulimit -q, prlimit --msgqueue, LimitMSGQUEUE= in a systemd unit)`;
}

function queuesMaxHint(): string {
  const { queuesMax } = mqueueLimits();
  return `the system holds ${MQUEUE_PROC}/queues_max (${String(queuesMax)}) queues already: unlink queues no longer used (mount -t mqueue none /dev/mqueue to list them), or raise the limit (sysctl -w fs.mqueue.queues_max=N, as root)`;
}
