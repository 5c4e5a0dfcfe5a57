/**
 * Every koffi declaration of libc lives here; the rest of the library calls the typed wrappers
 * below (or the checked ones in the area modules, e.g. `mqueue.ts`). Pointers to memory are passed as typed arrays: koffi
 * hands their storage to C directly for synchronous calls, honouring subarray offsets, so no copy
 * is made. None of these calls is ever made `.async`: they are all non-blocking (descriptors are
 * opened O_NONBLOCK) and waiting happens on the Node event loop (see `poll.ts`).
 */
// First: refuse another architecture before koffi loads (see arch.ts).
import './arch.js';
import koffi from 'koffi';

const lib = koffi.load('libc.so.6');

type Bytes = Uint8Array;

// --- descriptors -------------------------------------------------------------------------------
export const close: (fd: number) => number = lib.func('int close(int fd)');
export const read: (fd: number, buf: Bytes, count: number) => number = lib.func(
  'intptr_t read(int fd, void *buf, size_t count)',
);
export const write: (fd: number, buf: Bytes, count: number) => number = lib.func(
  'intptr_t write(int fd, const void *buf, size_t count)',
);
export const open: (path: string, flags: number, mode: number) => number = lib.func(
  'int open(const char *path, int flags, uint32_t mode)',
);
const fcntlVariadic = lib.func('int fcntl(int fd, int cmd, ...)');
/** `fcntl(fd, cmd, int arg)`. */
export function fcntl(fd: number, cmd: number, arg = 0): number {
  return fcntlVariadic(fd, cmd, 'int', arg) as number;
}
export const pipe2: (fds: Int32Array, flags: number) => number = lib.func('int pipe2(int *fds, int flags)');
export const mkfifo: (path: string, mode: number) => number = lib.func('int mkfifo(const char *path, uint32_t mode)');
export const unlink: (path: string) => number = lib.func('int unlink(const char *path)');
export const ftruncate: (fd: number, length: bigint | number) => number = lib.func(
  'int ftruncate(int fd, int64_t length)',
);
export const fchmod: (fd: number, mode: number) => number = lib.func('int fchmod(int fd, uint32_t mode)');
export const chmod: (path: string, mode: number) => number = lib.func('int chmod(const char *path, uint32_t mode)');
/** Fills `stat` (STAT_SIZE bytes, `struct stat` of x86_64) for a descriptor; see ST_MODE_OFFSET. */
export const fstat: (fd: number, stat: Bytes) => number = lib.func('int fstat(int fd, void *stat)');

// --- process -----------------------------------------------------------------------------------
export const sysconf: (name: number) => number = lib.func('long sysconf(int name)');
export const geteuid: () => number = lib.func('uint32_t geteuid()');
export const getegid: () => number = lib.func('uint32_t getegid()');
export const kill: (pid: number, sig: number) => number = lib.func('int kill(int pid, int sig)');
/** Fills `limits` with the soft and hard limit of `resource` (RLIM_INFINITY is 2^64-1). */
export const getrlimit: (resource: number, limits: BigUint64Array) => number = lib.func(
  'int getrlimit(int resource, void *limits)',
);

// --- POSIX message queues ----------------------------------------------------------------------
// `struct mq_attr` is passed as a BigInt64Array of MQ_ATTR_LONGS longs (flags, maxmsg, msgsize,
// curmsgs, 4 reserved) rather than a koffi struct: a typed array goes to C without conversion, and an
// `_Out_` struct parameter would build a fresh JS object on every call.
/** Number of `long`s in `struct mq_attr` (x86_64: four fields and four reserved). */
export const MQ_ATTR_LONGS = 8;
const mqOpenVariadic = lib.func('int mq_open(const char *name, int oflag, ...)');
/** `mq_open(name, oflag, mode, attr)`; without `attr` a created queue gets the kernel defaults. */
export function mqOpen(name: string, oflag: number, mode = 0, attr?: BigInt64Array): number {
  if ((oflag & O_CREAT) === 0) return mqOpenVariadic(name, oflag) as number;
  return mqOpenVariadic(name, oflag, 'uint32_t', mode, 'void *', attr ?? null) as number;
}
export const mqClose: (mqd: number) => number = lib.func('int mq_close(int mqd)');
export const mqUnlink: (name: string) => number = lib.func('int mq_unlink(const char *name)');
export const mqSend: (mqd: number, msg: Bytes, len: number, prio: number) => number = lib.func(
  'int mq_send(int mqd, const void *msg, size_t len, uint32_t prio)',
);
/** `prio` is a one-element Uint32Array that receives the message's priority. */
export const mqReceive: (mqd: number, msg: Bytes, len: number, prio: Uint32Array) => number = lib.func(
  'intptr_t mq_receive(int mqd, void *msg, size_t len, uint32_t *prio)',
);
/** Fills `attr` (MQ_ATTR_LONGS longs: flags, maxmsg, msgsize, curmsgs). */
export const mqGetattr: (mqd: number, attr: BigInt64Array) => number = lib.func('int mq_getattr(int mqd, void *attr)');

// --- shared memory -----------------------------------------------------------------------------
export const shmOpen: (name: string, oflag: number, mode: number) => number = lib.func(
  'int shm_open(const char *name, int oflag, uint32_t mode)',
);
export const shmUnlink: (name: string) => number = lib.func('int shm_unlink(const char *name)');
/** Returns the mapping's address; failure is MAP_FAILED, which koffi gives as 2^64-1 (see MAP_FAILED). */
export const mmap: (addr: null, length: number, prot: number, flags: number, fd: number, offset: bigint) => bigint =
  lib.func('void *mmap(void *addr, size_t length, int prot, int flags, int fd, int64_t offset)');
export const munmap: (addr: bigint, length: number) => number = lib.func('int munmap(void *addr, size_t length)');
/** `link`/`rename` publish a fully built ring segment under its name atomically (see ring-protocol.md). */
export const link: (from: string, to: string) => number = lib.func('int link(const char *from, const char *to)');
export const rename: (from: string, to: string) => number = lib.func('int rename(const char *from, const char *to)');
export const flock: (fd: number, operation: number) => number = lib.func('int flock(int fd, int operation)');

// --- sockets -----------------------------------------------------------------------------------
export const socket: (domain: number, type: number, protocol: number) => number = lib.func(
  'int socket(int domain, int type, int protocol)',
);
export const socketpair: (domain: number, type: number, protocol: number, sv: Int32Array) => number = lib.func(
  'int socketpair(int domain, int type, int protocol, int *sv)',
);
/** Socket addresses are raw `struct sockaddr_*` bytes built by the caller (see `sockaddr.ts`). */
export const bind: (fd: number, addr: Bytes, len: number) => number = lib.func(
  'int bind(int fd, const void *addr, uint32_t len)',
);
export const connect: (fd: number, addr: Bytes, len: number) => number = lib.func(
  'int connect(int fd, const void *addr, uint32_t len)',
);
export const listen: (fd: number, backlog: number) => number = lib.func('int listen(int fd, int backlog)');
/** `addrLen` is a one-element Uint32Array: in, the size of `addr`; out, the address's length. */
export const accept4: (fd: number, addr: Bytes | null, addrLen: Uint32Array | null, flags: number) => number = lib.func(
  'int accept4(int fd, void *addr, uint32_t *addrLen, int flags)',
);
export const shutdown: (fd: number, how: number) => number = lib.func('int shutdown(int fd, int how)');
export const send: (fd: number, buf: Bytes, len: number, flags: number) => number = lib.func(
  'intptr_t send(int fd, const void *buf, size_t len, int flags)',
);
export const recv: (fd: number, buf: Bytes, len: number, flags: number) => number = lib.func(
  'intptr_t recv(int fd, void *buf, size_t len, int flags)',
);
export const sendto: (
  fd: number,
  buf: Bytes,
  len: number,
  flags: number,
  addr: Bytes | null,
  addrLen: number,
) => number = lib.func(
  'intptr_t sendto(int fd, const void *buf, size_t len, int flags, const void *addr, uint32_t addrLen)',
);
export const recvfrom: (
  fd: number,
  buf: Bytes,
  len: number,
  flags: number,
  addr: Bytes | null,
  addrLen: Uint32Array | null,
) => number = lib.func('intptr_t recvfrom(int fd, void *buf, size_t len, int flags, void *addr, uint32_t *addrLen)');
/** `recvmsg`/`sendmmsg`/`recvmmsg` take native addresses (bigint) of headers built by the caller. */
export const recvmsg: (fd: number, msg: bigint, flags: number) => number = lib.func(
  'intptr_t recvmsg(int fd, void *msg, int flags)',
);
export const sendmmsg: (fd: number, msgvec: bigint, vlen: number, flags: number) => number = lib.func(
  'int sendmmsg(int fd, void *msgvec, unsigned int vlen, int flags)',
);
export const recvmmsg: (fd: number, msgvec: bigint, vlen: number, flags: number, timeout: null) => number = lib.func(
  'int recvmmsg(int fd, void *msgvec, unsigned int vlen, int flags, void *timeout)',
);
export const getsockopt: (fd: number, level: number, name: number, val: Bytes, len: Uint32Array) => number = lib.func(
  'int getsockopt(int fd, int level, int name, void *val, uint32_t *len)',
);
export const setsockopt: (fd: number, level: number, name: number, val: Bytes, len: number) => number = lib.func(
  'int setsockopt(int fd, int level, int name, const void *val, uint32_t len)',
);
export const getsockname: (fd: number, addr: Bytes, len: Uint32Array) => number = lib.func(
  'int getsockname(int fd, void *addr, uint32_t *len)',
);
export const getpeername: (fd: number, addr: Bytes, len: Uint32Array) => number = lib.func(
  'int getpeername(int fd, void *addr, uint32_t *len)',
);

// --- pipes, FIFOs and stream sockets ----------------------------------------------------------
/** `poll(2)`: called only through `pollNow`, with one `struct pollfd` as an Int32Array (see there). */
const pollFn: (fds: Int32Array, nfds: number, timeout: number) => number = lib.func(
  'int poll(void *fds, unsigned long nfds, int timeout)',
);
const pollEntry = new Int32Array(2);
/** `poll(fd, events, 0)`: the revents of one descriptor right now, never waiting; -1 on error. */
export function pollNow(fd: number, events: number): number {
  // struct pollfd is { int fd; short events; short revents; }: one Int32 for fd, one for the two shorts.
  // One entry reused by every call (JS runs them one at a time): receive spins call this in a loop.
  const entry = pollEntry;
  entry[0] = fd;
  entry[1] = events & 0xffff;
  if (pollFn(entry, 1, 0) < 0) return -1;
  return (entry[1]! >>> 16) & 0xffff;
}

// --- native memory -----------------------------------------------------------------------------
/** Allocates `size` bytes of native memory that never moves (for iovec/msghdr arrays); free with `free`. */
export function allocNative(size: number): bigint {
  return koffi.alloc('uint8_t', size) as unknown as bigint;
}
export const free: (ptr: bigint) => void = lib.func('void free(void *ptr)');
// memcpy(dest, src, 0) copies nothing and returns dest: koffi hands it the typed array's bytes, and
// V8 never moves an ArrayBuffer's backing store (koffi's lookup takes an in-heap array's out first),
// so the address stays valid for as long as the array is alive.
const memcpyAddress: (dest: Bytes, src: Bytes, n: number) => number = lib.func(
  'uintptr_t memcpy(void *dest, const void *src, size_t n)',
);
/**
 * The native address of `bytes`' first byte, for iovecs that point at JavaScript memory (a send
 * batch's records, gathered by the kernel where they were encoded). Valid while `bytes` is alive:
 * the caller keeps a reference across the system call that reads it.
 */
export function addressOf(bytes: Bytes): number {
  return memcpyAddress(bytes, bytes, 0);
}
/** An ArrayBuffer over native memory, without a copy. */
export function viewNative(ptr: bigint, length: number): ArrayBuffer {
  return koffi.view(ptr, length);
}

/** errno after the last failed call, read straight away (before any other libc call). */
export function errno(): number {
  return koffi.errno();
}

/** MAP_FAILED as koffi returns it: `(void *)-1` comes back as an unsigned 64-bit value. */
export const MAP_FAILED = 0xffff_ffff_ffff_ffffn;

// --- constants (Linux x86_64) -------------------------------------------------------------------
export const O_RDONLY = 0o0;
export const O_WRONLY = 0o1;
export const O_RDWR = 0o2;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_NONBLOCK = 0o4000;
export const O_CLOEXEC = 0o2000000;
export const F_GETFL = 3;
export const F_SETFL = 4;
export const F_SETFD = 2;
export const FD_CLOEXEC = 1;
export const F_SETPIPE_SZ = 1031;
export const F_GETPIPE_SZ = 1032;
export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const MAP_SHARED = 1;
export const O_NOFOLLOW = 0o400000;
/** Opens a path without opening the file: enough to fstat it and to name its inode in /proc/self/fd. */
export const O_PATH = 0o10000000;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;
export const AF_UNIX = 1;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_SEQPACKET = 5;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;
export const SOL_SOCKET = 1;
export const SO_REUSEADDR = 2;
export const SO_ERROR = 4;
export const SO_SNDBUF = 7;
export const SO_RCVBUF = 8;
export const SO_PEERCRED = 17;
export const SO_TYPE = 3;
export const MSG_DONTWAIT = 0x40;
export const MSG_TRUNC = 0x20;
export const MSG_NOSIGNAL = 0x4000;
/** `struct msghdr` (56 bytes) + `unsigned msg_len`, padded: one `struct mmsghdr` on x86_64. */
export const MMSGHDR_SIZE = 64;
/** `struct iovec`: base pointer and length. */
export const IOVEC_SIZE = 16;
/** Offsets of the fields of struct msghdr (x86_64); `msg_len` of struct mmsghdr follows the msghdr. */
export const MSGHDR_NAME = 0;
export const MSGHDR_NAMELEN = 8;
export const MSGHDR_IOV = 16;
export const MSGHDR_IOVLEN = 24;
export const MSGHDR_CONTROL = 32;
export const MSGHDR_CONTROLLEN = 40;
export const MSGHDR_FLAGS = 48;
export const MMSGHDR_LEN = 56;
/** Offset of `iov_len` in struct iovec (after the `iov_base` pointer). */
export const IOVEC_LEN = 8;
/** `struct ucred` (SO_PEERCRED): pid, uid, gid as 32-bit integers. */
export const UCRED_SIZE = 12;
export const IPPROTO_TCP = 6;
export const TCP_NODELAY = 1;
export const POLLIN = 0x1;
export const POLLHUP = 0x10;
export const _SC_MQ_PRIO_MAX = 28;
export const RLIMIT_NOFILE = 7;
export const RLIMIT_MSGQUEUE = 12;
export const RLIM_INFINITY = 0xffff_ffff_ffff_ffffn;
export const PIPE_BUF = 4096;
/** sizeof(struct stat) and offsetof(struct stat, st_mode) on x86_64. */
export const STAT_SIZE = 144;
export const ST_MODE_OFFSET = 24;
export const NAME_MAX = 255;

// --- System V message queues ---------------------------------------------------------------------
// `struct msgbuf` is the caller's Uint8Array: a `long mtype` (8 bytes) then the message text.
// `struct msqid_ds` is a Uint8Array of MSQID_DS_SIZE bytes read at the MSQ_* offsets below.
/** `key_t ftok(path, proj_id)`: -1 with errno when the path cannot be stat'ed. */
export const ftok: (path: string, projId: number) => number = lib.func('int ftok(const char *path, int proj_id)');
export const msgget: (key: number, msgflg: number) => number = lib.func('int msgget(int key, int msgflg)');
/**
 * `msgsz` counts the text only, not the leading mtype. `msgp` is a Uint8Array or the address of
 * native memory (allocNative): koffi passes an address for less than it takes to find a typed
 * array's bytes (about 40 ns of a 0.8 us call), which the channel's per-message calls use.
 */
export const msgsnd: (msqid: number, msgp: Bytes | bigint, msgsz: number, msgflg: number) => number = lib.func(
  'int msgsnd(int msqid, const void *msgp, size_t msgsz, int msgflg)',
);
/** `msgtyp` is a C long; JS numbers carry it exactly up to 2^53. Returns the text's length. */
export const msgrcv: (msqid: number, msgp: Bytes | bigint, msgsz: number, msgtyp: number, msgflg: number) => number =
  lib.func('intptr_t msgrcv(int msqid, void *msgp, size_t msgsz, long msgtyp, int msgflg)');
/** `buf` is a `struct msqid_ds` (MSQID_DS_SIZE bytes), or null for IPC_RMID. */
export const msgctl: (msqid: number, cmd: number, buf: Bytes | null) => number = lib.func(
  'int msgctl(int msqid, int cmd, void *buf)',
);
export const IPC_PRIVATE = 0;
export const IPC_CREAT = 0o1000;
export const IPC_EXCL = 0o2000;
export const IPC_NOWAIT = 0o4000;
export const MSG_NOERROR = 0o10000;
export const MSG_EXCEPT = 0o20000;
export const IPC_RMID = 0;
export const IPC_SET = 1;
export const IPC_STAT = 2;
/** sizeof(struct msqid_ds) on x86_64 glibc, and the offsets of the fields typed-ipc reads or sets. */
export const MSQID_DS_SIZE = 120;
export const MSQ_KEY = 0;
export const MSQ_UID = 4;
export const MSQ_GID = 8;
export const MSQ_CUID = 12;
export const MSQ_CGID = 16;
export const MSQ_MODE = 20;
export const MSQ_STIME = 48;
export const MSQ_RTIME = 56;
export const MSQ_CTIME = 64;
export const MSQ_CBYTES = 72;
export const MSQ_QNUM = 80;
export const MSQ_QBYTES = 88;
export const MSQ_LSPID = 96;
export const MSQ_LRPID = 100;
/** Bytes of `long mtype` in front of a System V message's text. */
export const MTYPE_SIZE = 8;
/** Ask for the sender's credentials (SCM_CREDENTIALS) with every received UNIX socket message. */
export const SO_PASSCRED = 16;
/** cmsg type of `struct ucred` on SOL_SOCKET. */
export const SCM_CREDENTIALS = 2;
/** recvmsg flag: the control buffer was too small (cmsgs dropped; passed fds were closed by the kernel). */
export const MSG_CTRUNC = 0x8;
/** `struct cmsghdr` (len, level, type) before the data, and CMSG_SPACE(sizeof(struct ucred)). */
export const CMSGHDR_SIZE = 16;
export const CMSG_UCRED_SPACE = 32;

/** poll(2) event: room to write (the spin of the `wait` option, wait-strategy.ts). */
export const POLLOUT = 0x4;
/**
 * `sched_yield(2)`: lets another runnable thread of this CPU go first: the yielding part of a `wait`
 * spin, and System V waits (no descriptor to block on) hand the CPU to the peer they wait for.
 */
export const schedYield: () => number = lib.func('int sched_yield(void)');
