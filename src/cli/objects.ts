/**
 * Named IPC objects as the filesystem shows them: POSIX message queues under the mqueue mount
 * (/dev/mqueue), shared-memory objects under /dev/shm. `TYPED_IPC_MQUEUE_DIR` and `TYPED_IPC_SHM_DIR`
 * point elsewhere (e.g. an mqueue filesystem mounted in a private directory).
 */
import { existsSync, readdirSync, readFileSync, realpathSync, type Stats, statSync } from 'node:fs';
import { join } from 'node:path';
import { sysvQueues } from '../channels/index.js';
import { readRingHeader } from './ring-header.js';

/** Where message queues are listed. */
export function mqueueDir(): string {
  return process.env.TYPED_IPC_MQUEUE_DIR ?? '/dev/mqueue';
}

/** Where shared-memory objects are listed. */
export function shmDir(): string {
  return process.env.TYPED_IPC_SHM_DIR ?? '/dev/shm';
}

/** The command that mounts the mqueue filesystem at `dir`. */
export function mountHint(dir: string): string {
  return `mkdir -p ${dir} && mount -t mqueue none ${dir}`;
}

/** Whether an mqueue filesystem is mounted at `dir` (read from /proc/self/mountinfo). */
export function isMqueueMounted(dir: string): boolean {
  if (!existsSync(dir)) return false;
  const target = realpathSync(dir);
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n');
  // mountinfo: id parent major:minor root mount-point options [optional...] - fstype source super-options
  return mounts.some((line) => {
    const fields = line.split(' ');
    const separator = fields.indexOf('-');
    return separator > 0 && fields[4] === escapeMount(target) && fields[separator + 1] === 'mqueue';
  });
}

// mountinfo escapes space, tab, newline and backslash as octal; escape the path the same way to compare.
function escapeMount(path: string): string {
  return path.replace(/[ \t\n\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
}

/** One object in a listing. */
export interface ObjectEntry {
  readonly url: string;
  readonly kind: 'mq' | 'shm' | 'sysv';
  /** Bytes: for a queue, the bytes of the messages waiting in it (QSIZE); for a segment, its size. */
  readonly size: number;
  /** Permission bits, e.g. 0o600. */
  readonly mode: number;
  readonly owner: string;
  readonly group: string;
  readonly modified: Date;
  /** What the object is, where known: a typed-ipc ring's figures and whether its creator still runs. */
  readonly note?: string;
}

/** `rw-------` for 0o600. */
export function modeString(mode: number): string {
  const bits = 'rwxrwxrwx';
  return [...bits].map((c, i) => (mode & (1 << (8 - i)) ? c : '-')).join('');
}

function namesFrom(file: string): Map<number, string> {
  const names = new Map<number, string>();
  try {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const [name, , id] = line.split(':');
      if (name && id !== undefined && !names.has(Number(id))) names.set(Number(id), name);
    }
  } catch {
    // No /etc/passwd (a minimal container): ids are shown as numbers.
  }
  return names;
}

let users: Map<number, string> | undefined;
let groups: Map<number, string> | undefined;

/** User name of a uid (from /etc/passwd), or the number. */
export function userName(uid: number): string {
  users ??= namesFrom('/etc/passwd');
  return users.get(uid) ?? String(uid);
}

/** Group name of a gid (from /etc/group), or the number. */
export function groupName(gid: number): string {
  groups ??= namesFrom('/etc/group');
  return groups.get(gid) ?? String(gid);
}

/** The QSIZE figure of a queue file (`QSIZE:48 NOTIFY:0 SIGNO:0 NOTIFY_PID:0`). */
export function queuedBytes(path: string): number {
  const match = /QSIZE:(\d+)/.exec(readFileSync(path, 'utf8'));
  return match === null ? 0 : Number(match[1]);
}

function entry(kind: 'mq' | 'shm', name: string, stats: Stats, size: number, note?: string): ObjectEntry {
  return {
    ...(note === undefined ? {} : { note }),
    url: `${kind}:/${name}`,
    kind,
    size,
    mode: stats.mode & 0o777,
    owner: userName(stats.uid),
    group: groupName(stats.gid),
    modified: stats.mtime,
  };
}

function listDir(dir: string, read: (name: string, path: string, stats: Stats) => ObjectEntry | undefined) {
  const entries: ObjectEntry[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    try {
      const stats = statSync(path);
      const item = read(name, path, stats);
      if (item !== undefined) entries.push(item);
    } catch {
      // Removed between readdir and stat: another process unlinked it.
    }
  }
  return entries;
}

/** Message queues under the mqueue mount. */
export function listQueues(dir = mqueueDir()): ObjectEntry[] {
  return listDir(dir, (name, path, stats) =>
    stats.isFile() ? entry('mq', name, stats, queuedBytes(path)) : undefined,
  );
}

/** System V message queues, as `ipcs -q` lists them (from /proc/sysvipc/msg). */
export function listSysvQueues(): ObjectEntry[] {
  return sysvQueues().map((queue) => ({
    url: queue.url,
    kind: 'sysv',
    size: queue.bytes,
    mode: queue.mode,
    owner: userName(queue.uid),
    group: groupName(queue.gid),
    modified: queue.modified,
    note: `msqid ${queue.id}, key ${queue.keyHex}, ${queue.pending} messages, last send pid ${queue.lastSendPid}, last receive pid ${queue.lastReceivePid}`,
  }));
}

/** Shared-memory objects under /dev/shm. */
export function listSegments(dir = shmDir()): ObjectEntry[] {
  return listDir(dir, (name, path, stats) =>
    stats.isFile() ? entry('shm', name, stats, stats.size, ringNote(path)) : undefined,
  );
}

function ringNote(path: string): string | undefined {
  let header: ReturnType<typeof readRingHeader>;
  try {
    header = readRingHeader(path);
  } catch {
    return undefined; // not readable by this user: no details, the listing goes on
  }
  if (header === undefined) return undefined;
  const creator = header.creatorAlive ? 'running' : 'exited';
  return `ring: ${header.messageSize}-byte messages, ${header.pending}/${header.capacity} pending, creator pid ${header.creatorPid} (${creator})`;
}
