/**
 * System V message queues, checked: keys (ftok), msgget with create/exclusive/mode, IPC_STAT,
 * IPC_SET of msg_qbytes, IPC_RMID and the system-wide listing, with errors that name the limit that
 * was hit (the /proc/sys/kernel msgmax, msgmnb, msgmni figures), its value and how to raise it. The
 * hot calls (msgsnd, msgrcv) stay raw in `libc.ts`: the channel checks their results itself.
 */
import { readFileSync } from 'node:fs';
import type { SystemError } from '../errors.js';
import { EACCES, EEXIST, EINVAL, ENOENT, errnoName, systemError } from './errors.js';
import * as libc from './libc.js';
import { readProcInteger } from './proc.js';

/** Where the kernel publishes the System V message queue limits. */
export const SYSV_PROC = '/proc/sys/kernel';
/** What `ipcs -q` reads: one line per queue of the system (of this IPC namespace). */
export const SYSV_QUEUES_PROC = '/proc/sysvipc/msg';

/** errno values of System V IPC that no other transport meets. */
export const E2BIG = 7;
export const ENOMSG = 42;
export const EIDRM = 43;
const EPERM = 1;

/** The system's System V message queue limits (undefined where /proc does not say). */
export interface SysvLimits {
  /** Largest message text, in bytes (`msgmax`). */
  readonly msgmax: number | undefined;
  /** Default, and unprivileged largest, `msg_qbytes` of a queue (`msgmnb`). */
  readonly msgmnb: number | undefined;
  /** How many queues the system may hold (`msgmni`). */
  readonly msgmni: number | undefined;
}

function readLimit(file: string): number | undefined {
  return readProcInteger(`${SYSV_PROC}/${file}`);
}

/** Reads the current limits from /proc/sys/kernel (they can change at any time, so never cached). */
export function sysvLimits(): SysvLimits {
  return { msgmax: readLimit('msgmax'), msgmnb: readLimit('msgmnb'), msgmni: readLimit('msgmni') };
}

/** `ftok(path, projId)`: the key C programs derive from an existing file and a project id (1..255). */
export function ftokKey(path: string, projId: number): number {
  const key = libc.ftok(path, projId);
  if (key !== -1) return key;
  throw systemError(
    libc.errno(),
    'ftok',
    path,
    'ftok needs an existing file that this user can stat: create the file first (every side must name the same file and project id)',
  );
}

/** How `getQueue` went: the queue's id, and whether this call created it. */
export interface GottenQueue {
  readonly id: number;
  readonly created: boolean;
}

/** `0x0000abcd`, the way ipcs prints a key. */
export function keyString(key: number): string {
  return `0x${(key >>> 0).toString(16).padStart(8, '0')}`;
}

/**
 * `msgget`. With `create`, a missing queue is created with exactly `mode` (msgget applies no
 * umask); `exclusive` fails with EEXIST when it exists. `access` holds the permission bits to ask
 * for on an existing queue (0o400 receive, 0o200 send): the kernel checks them here, at open time.
 */
export function getQueue(
  key: number,
  label: string,
  options: { create: boolean; exclusive: boolean; mode: number; access: number },
): GottenQueue {
  const { create, exclusive, mode, access } = options;
  if (key === libc.IPC_PRIVATE) {
    const id = libc.msgget(key, libc.IPC_CREAT | mode);
    if (id < 0) throw getError(libc.errno(), label);
    return { id, created: true };
  }
  if (!create) {
    const id = libc.msgget(key, access);
    if (id < 0) throw getError(libc.errno(), label);
    return { id, created: false };
  }
  // IPC_EXCL first, so that we know whether this call created the queue (and owes it its capacity);
  // the loop covers a queue removed between the two calls.
  for (;;) {
    const id = libc.msgget(key, libc.IPC_CREAT | libc.IPC_EXCL | mode);
    if (id >= 0) return { id, created: true };
    let errno = libc.errno();
    if (errno !== EEXIST || exclusive) throw getError(errno, label);
    const opened = libc.msgget(key, access);
    if (opened >= 0) return { id: opened, created: false };
    errno = libc.errno();
    if (errno !== ENOENT) throw getError(errno, label);
  }
}

function getError(errno: number, label: string): SystemError {
  return systemError(errno, 'msgget', label, getHint(errnoName(errno)));
}

function getHint(code: string): string | undefined {
  switch (code) {
    case 'ENOSPC': {
      const { msgmni } = sysvLimits();
      return `the system holds ${SYSV_PROC}/msgmni (${String(msgmni)}) System V queues already: remove queues no longer used (ipcs -q lists them, typed-ipc rm sysv:id=N or ipcrm -q N removes one), or raise the limit (sysctl -w kernel.msgmni=N, as root)`;
    }
    case 'EACCES':
      return "the queue exists and its mode does not grant this access to this user: open it with `access: 'send'` or `'receive'` as its mode allows, or have its owner change the mode";
    case 'EEXIST':
      return 'a queue with this key exists already: open it without `exclusive`, or remove it first (typed-ipc rm <url>)';
    case 'ENOENT':
      return 'no queue has this key: pass `create: true`, or start the side that creates it first';
    default:
      return undefined;
  }
}

/** A queue's figures from IPC_STAT. Times are seconds since the epoch, 0 when it never happened. */
export interface QueueStat {
  readonly key: number;
  /** Owner and group (changeable with IPC_SET), and the creator's. */
  readonly uid: number;
  readonly gid: number;
  readonly cuid: number;
  readonly cgid: number;
  /** Permission bits, e.g. 0o600. */
  readonly mode: number;
  /** `msg_qbytes`: bytes of message text the queue holds before senders wait. */
  readonly capacityBytes: number;
  /** `__msg_cbytes`: bytes of message text waiting now. */
  readonly bytes: number;
  /** `msg_qnum`: messages waiting now. */
  readonly pending: number;
  /** `msg_lspid`, `msg_lrpid`: the last sender's and receiver's pid (0: none yet). */
  readonly lastSendPid: number;
  readonly lastReceivePid: number;
  readonly sendTime: number;
  readonly receiveTime: number;
  readonly changeTime: number;
}

function statCall(id: number, cmd: number, buffer: Uint8Array, label: string): void {
  if (libc.msgctl(id, cmd, buffer) >= 0) return;
  const errno = libc.errno();
  const hint =
    errno === EACCES
      ? 'the queue mode does not grant read to this user (IPC_STAT needs read permission)'
      : errno === EPERM
        ? 'only the owner or creator of the queue (or root) may change it'
        : errno === EINVAL || errno === EIDRM
          ? 'no queue has this id (removed, or never created): ipcs -q lists the ids'
          : undefined;
  throw systemError(errno, cmd === libc.IPC_SET ? 'msgctl(IPC_SET)' : 'msgctl(IPC_STAT)', label, hint);
}

/**
 * An `unsigned long` of a `struct msqid_ds` (little-endian, 64-bit), as a number: two 32-bit reads
 * rather than getBigUint64, which allocates a BigInt per field. A waiting send reads three per probe
 * of the spin (docs/sysv.md, fourth pass). Exact up to 2^53; above it rounded once, as Number(BigInt) is.
 */
export function readULong(view: DataView, offset: number): number {
  return view.getUint32(offset + 4, true) * 2 ** 32 + view.getUint32(offset, true);
}

/** `msgctl(IPC_STAT)`; `scratch` (MSQID_DS_SIZE bytes) may be passed to avoid an allocation. */
export function queueStat(id: number, label: string, scratch?: Uint8Array): QueueStat {
  const buffer = scratch ?? new Uint8Array(libc.MSQID_DS_SIZE);
  statCall(id, libc.IPC_STAT, buffer, label);
  const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  const u32 = (offset: number): number => view.getUint32(offset, true);
  const long = (offset: number): number => readULong(view, offset);
  return {
    key: view.getInt32(libc.MSQ_KEY, true),
    uid: u32(libc.MSQ_UID),
    gid: u32(libc.MSQ_GID),
    cuid: u32(libc.MSQ_CUID),
    cgid: u32(libc.MSQ_CGID),
    mode: view.getUint16(libc.MSQ_MODE, true) & 0o777,
    capacityBytes: long(libc.MSQ_QBYTES),
    bytes: long(libc.MSQ_CBYTES),
    pending: long(libc.MSQ_QNUM),
    lastSendPid: view.getInt32(libc.MSQ_LSPID, true),
    lastReceivePid: view.getInt32(libc.MSQ_LRPID, true),
    sendTime: long(libc.MSQ_STIME),
    receiveTime: long(libc.MSQ_RTIME),
    changeTime: long(libc.MSQ_CTIME),
  };
}

/**
 * Sets `msg_qbytes` (IPC_SET keeps owner and mode as IPC_STAT read them). Above msgmnb the kernel
 * demands CAP_SYS_RESOURCE; the error then names the limit.
 */
export function setCapacityBytes(id: number, label: string, capacityBytes: number): void {
  const buffer = new Uint8Array(libc.MSQID_DS_SIZE);
  statCall(id, libc.IPC_STAT, buffer, label);
  new DataView(buffer.buffer).setBigUint64(libc.MSQ_QBYTES, BigInt(capacityBytes), true);
  if (libc.msgctl(id, libc.IPC_SET, buffer) >= 0) return;
  const errno = libc.errno();
  const { msgmnb } = sysvLimits();
  const hint =
    errno === EPERM && msgmnb !== undefined && capacityBytes > msgmnb
      ? `capacity of ${capacityBytes} bytes exceeds ${SYSV_PROC}/msgmnb (${msgmnb}), which only a process with CAP_SYS_RESOURCE may pass: ask for <= ${msgmnb} bytes, or raise the limit (sysctl -w kernel.msgmnb=${capacityBytes}, as root)`
      : errno === EPERM
        ? 'only the owner or creator of the queue (or root) may change its capacity'
        : undefined;
  throw systemError(errno, 'msgctl(IPC_SET)', label, hint);
}

/** `msgctl(IPC_RMID)`: the queue and its messages go at once; blocked callers get EIDRM. */
export function removeQueue(id: number, label: string): void {
  if (libc.msgctl(id, libc.IPC_RMID, null) >= 0) return;
  const errno = libc.errno();
  const code = errnoName(errno);
  const hint =
    code === 'EINVAL' || code === 'EIDRM'
      ? 'no queue has this id (already removed, or never created)'
      : code === 'EPERM'
        ? 'only the owner or creator of the queue (or root) may remove it'
        : undefined;
  throw systemError(errno, 'msgctl(IPC_RMID)', label, hint);
}

/** One line of /proc/sysvipc/msg (what `ipcs -q` shows). */
export interface QueueEntry extends QueueStat {
  readonly id: number;
}

/** Every System V queue of this IPC namespace, from /proc/sysvipc/msg (empty when it cannot be read). */
export function listQueues(procFile = SYSV_QUEUES_PROC): QueueEntry[] {
  let text: string;
  try {
    text = readFileSync(procFile, 'latin1');
  } catch {
    return [];
  }
  const entries: QueueEntry[] = [];
  // Columns: key msqid perms cbytes qnum lspid lrpid uid gid cuid cgid stime rtime ctime
  for (const line of text.split('\n').slice(1)) {
    // perms is printed in octal, every other column in decimal.
    const f = line
      .trim()
      .split(/\s+/)
      .map((n, i) => (i === 2 ? Number.parseInt(n, 8) : Number(n)));
    if (f.length < 14 || f.some((n) => !Number.isFinite(n))) continue;
    const at = (i: number): number => f[i] as number;
    entries.push({
      key: at(0),
      id: at(1),
      mode: at(2) & 0o777,
      bytes: at(3),
      pending: at(4),
      lastSendPid: at(5),
      lastReceivePid: at(6),
      uid: at(7),
      gid: at(8),
      cuid: at(9),
      cgid: at(10),
      sendTime: at(11),
      receiveTime: at(12),
      changeTime: at(13),
      // /proc/sysvipc/msg does not show msg_qbytes; IPC_STAT does (when this user may read the queue).
      capacityBytes: Number.NaN,
    });
  }
  return entries;
}
