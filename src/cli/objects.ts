/**
 * Named IPC objects as the filesystem shows them: POSIX message queues under the mqueue mount
 * (/dev/mqueue), shared-memory objects under /dev/shm, FIFOs and UNIX socket files in the directories
 * named (the temporary directory by default). `TYPED_IPC_MQUEUE_DIR` and `TYPED_IPC_SHM_DIR` point
 * elsewhere (e.g. an mqueue filesystem mounted in a private directory); `TYPED_IPC_DIRS` (colon-separated)
 * names the directories searched for FIFOs and sockets; `TYPED_IPC_SYSV_LIST` replaces /proc/sysvipc/msg. `objectKinds` is the table `ls` walks: a new
 * kind of object is one more entry there.
 */
import { existsSync, lstatSync, readdirSync, readFileSync, realpathSync, type Stats, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type PubSubHeader, readPubSubHeader, sysvQueues } from '../channels/index.js';
import { processAlive, readRingHeader } from './ring-header.js';

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

/** Where FIFOs and socket files are looked for when `ls` is given no directory. */
export function fileDirs(): string[] {
  const named = process.env.TYPED_IPC_DIRS;
  if (named === undefined || named.length === 0) return [tmpdir()];
  return named.split(':').filter((dir) => dir.length > 0);
}

/** One object in a listing. */
export interface ObjectEntry {
  readonly url: string;
  /** `mq`, `shm`, `fifo`, `socket`, ...: the `ObjectKind` that found it. */
  readonly kind: string;
  /** Bytes: for a queue, the bytes of the messages waiting in it (QSIZE); for a segment, its size; files: 0. */
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

function entry(kind: string, url: string, stats: Stats, size: number, note?: string): ObjectEntry {
  return {
    ...(note === undefined ? {} : { note }),
    url,
    kind,
    size,
    mode: stats.mode & 0o777,
    owner: userName(stats.uid),
    group: groupName(stats.gid),
    modified: stats.mtime,
  };
}

function listDir(
  dir: string,
  read: (name: string, path: string, stats: Stats) => ObjectEntry | undefined,
  stat: (path: string) => Stats = statSync,
) {
  const entries: ObjectEntry[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    try {
      const stats = stat(path);
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
    stats.isFile() ? entry('mq', `mq:/${name}`, stats, queuedBytes(path)) : undefined,
  );
}

/** System V message queues, as `ipcs -q` lists them (from /proc/sysvipc/msg). */
export function listSysvQueues(procFile = process.env.TYPED_IPC_SYSV_LIST): ObjectEntry[] {
  return sysvQueues(procFile).map((queue) => ({
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
  return listDir(dir, (name, path, stats) => (stats.isFile() ? segmentEntry(name, path, stats) : undefined));
}

// A pub/sub segment is listed by the URL that opens it; anything else in /dev/shm as shm: (a ring, or
// another program's object).
function segmentEntry(name: string, path: string, stats: Stats): ObjectEntry {
  let pubsub: PubSubHeader | undefined;
  try {
    pubsub = readPubSubHeader(path);
  } catch {
    pubsub = undefined; // not readable by this user: listed as shm:, without details
  }
  if (pubsub === undefined) return entry('shm', `shm:/${name}`, stats, stats.size, ringNote(path));
  const creator = processAlive(pubsub.creatorPid) ? 'running' : 'exited';
  const note =
    `pub/sub (${pubsub.policy}): ${pubsub.messageSize}-byte messages, capacity ${pubsub.capacity}, ` +
    `${pubsub.published} published, up to ${pubsub.subscribers} subscribers, creator pid ${pubsub.creatorPid} (${creator})`;
  return entry('shm', `shm+pubsub:/${name}`, stats, stats.size, note);
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

/** A UNIX socket bound to a path in this network namespace, as /proc/net/unix lists it. */
interface BoundSocket {
  readonly type: 'stream' | 'dgram' | 'seqpacket';
  readonly listening: boolean;
}

const socketTypes: Record<string, BoundSocket['type']> = { '0001': 'stream', '0002': 'dgram', '0005': 'seqpacket' };
const SO_ACCEPTCON = 0x10000;

// /proc/net/unix: "Num RefCount Protocol Flags Type St Inode Path" (the path last; @ for abstract names).
// Read rather than probed with connect(): a probe would show up as a connection at a live listener.
function boundSockets(): Map<string, BoundSocket> {
  const bound = new Map<string, BoundSocket>();
  let text: string;
  try {
    text = readFileSync('/proc/net/unix', 'utf8');
  } catch {
    return bound;
  }
  for (const line of text.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    const path = fields.slice(7).join(' ');
    const type = socketTypes[fields[4] ?? ''];
    if (!path.startsWith('/') || type === undefined) continue;
    const listening = (Number.parseInt(fields[3] ?? '0', 16) & SO_ACCEPTCON) !== 0;
    if (!bound.get(path)?.listening) bound.set(path, { type, listening });
  }
  return bound;
}

/** FIFOs and UNIX socket files directly in `dir`; a socket file nothing is bound to is marked stale. */
export function listFiles(dir: string, bound = boundSockets()): ObjectEntry[] {
  const base = resolve(dir);
  return listDir(
    base,
    (_name, path, stats) => {
      if (stats.isFIFO()) return entry('fifo', `fifo:${path}`, stats, 0);
      if (!stats.isSocket()) return undefined;
      const socket = bound.get(path);
      if (socket === undefined) {
        return entry(
          'socket',
          `unix+*:${path}`,
          stats,
          0,
          `stale: nothing is bound to it; typed-ipc rm unix+dgram:${path}`,
        );
      }
      const note = socket.type === 'dgram' ? 'bound' : socket.listening ? 'listening' : 'connected';
      return entry('socket', `unix+${socket.type}:${path}`, stats, 0, note);
    },
    lstatSync,
  );
}

/** What `ls` hands every kind: the directories for file-based objects, and where warnings go. */
export interface ListContext {
  readonly dirs: readonly string[];
  warn(message: string): void;
}

/** One kind of object `ls` lists. */
export interface ObjectKind {
  /** What the kind is, in the words of `ls --help`. */
  readonly description: string;
  list(context: ListContext): ObjectEntry[];
}

/** Every kind `ls` lists, in the order it lists them. */
export const objectKinds: readonly ObjectKind[] = [
  {
    description: 'POSIX message queues (the mqueue filesystem)',
    list(context) {
      const dir = mqueueDir();
      if (isMqueueMounted(dir)) return listQueues(dir);
      context.warn(
        `message queues not listed: no mqueue filesystem is mounted at ${dir}; mount it with: ${mountHint(dir)}`,
      );
      return [];
    },
  },
  { description: 'shared-memory objects (/dev/shm), typed-ipc rings among them', list: () => listSegments() },
  { description: 'System V message queues (as ipcs -q, from /proc/sysvipc/msg)', list: () => listSysvQueues() },
  {
    description: 'FIFOs and UNIX socket files in the directories named',
    list(context) {
      const bound = boundSockets();
      return context.dirs.flatMap((dir) => listFiles(dir, bound));
    },
  },
];
