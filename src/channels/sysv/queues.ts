/** The System V queues of the system, for `typed-ipc ls` and tools (what `ipcs -q` shows). */
import { libc, sysvmsg } from '../../native/index.js';

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
