/**
 * Binding UNIX sockets to filesystem paths, one implementation for every UNIX socket kind
 * (`unix+dgram`, `unix+seqpacket`, `unix+stream`): the socket file gets exactly the mode asked for, a
 * stale file left by a dead process is replaced while a live address is never taken over, and close
 * removes the file only if it is still the one this socket made.
 *
 * Kernel behaviour that shapes this module:
 * - bind() creates the file with the socket inode's mode minus the umask. An fchmod before bind keeps
 *   the file from ever granting more than asked; a chmod after bind then grants exactly what was
 *   asked, including bits the umask would cut (0o666 under umask 022).
 * - A socket file outlives its socket: a SIGKILLed process leaves it behind, and bind() over it fails
 *   with EADDRINUSE as if it were live. Only a connect tells a dead address (ECONNREFUSED) from a
 *   live one; there is no other way to ask the kernel.
 */
import { type BigIntStats, fstatSync, lstatSync, unlinkSync } from 'node:fs';
import { check, errnoName, errnos, libc, sockets, systemError } from '../native/index.js';
import { checkBacklog, checkMode } from './options.js';
import { type SockAddr, unixAddress } from './sockaddr.js';

/** A UNIX socket address as a URL names it: a filesystem path, or a name in the abstract namespace. */
export interface UnixAddress {
  readonly path: string;
  readonly abstract: boolean;
  readonly url: string;
}

/** A socket file this process bound: removed on close, but only if it is still this socket's file. */
export interface BoundFile {
  readonly path: string;
  readonly dev: bigint;
  readonly ino: bigint;
}

/** What lstat says of `path`, or undefined when nothing is there (or it cannot be looked at). */
function statOf(path: string): BigIntStats | undefined {
  try {
    return lstatSync(path, { bigint: true, throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

/**
 * Removes the socket file at `file.path` if the path still names that very file; says whether the path
 * is free now. A `ctimeNs` also has to match when given: the inode of a file nobody holds can be freed
 * and its number handed straight to the next file made (this socket's own file cannot: a bound socket
 * holds its inode).
 */
function removeIfSame(file: BoundFile & { readonly ctimeNs?: bigint }): boolean {
  const now = statOf(file.path);
  if (now === undefined) return true;
  if (!now.isSocket() || now.dev !== file.dev || now.ino !== file.ino) return false;
  if (file.ctimeNs !== undefined && now.ctimeNs !== file.ctimeNs) return false;
  try {
    unlinkSync(file.path);
  } catch {
    // Someone else removed it first: the path is free either way.
  }
  return true;
}

/** Removes a socket file this process bound, unless another process has replaced it since. */
export function removeBoundFile(bound: BoundFile | undefined): void {
  if (bound !== undefined) removeIfSame(bound);
}

/**
 * Removes the socket file at `path` if it is stale (nobody is bound to it any more) and says whether
 * the path is free now. Probed with a connect from a fresh socket of the same type, which only a dead
 * address refuses (ECONNREFUSED); EAGAIN (a full backlog) and EPROTOTYPE (a live socket of another
 * type) both mean live. A live stream or seqpacket listener sees the probe as a connection that ends
 * at once. Only the file that was probed is removed: if another process replaced it meanwhile (say, a
 * second process replacing the same stale file), theirs stays.
 */
function removeIfStale(sockaddr: SockAddr, type: number, path: string): boolean {
  const found = statOf(path);
  if (found === undefined) return true;
  if (!found.isSocket()) {
    throw systemError(errnos.EADDRINUSE, 'bind', path, 'the path exists and is not a socket; refusing to replace it');
  }
  const probe = sockets.openSocket(libc.AF_UNIX, type);
  let stale: boolean;
  try {
    stale = libc.connect(probe, sockaddr.bytes, sockaddr.length) !== 0 && libc.errno() === errnos.ECONNREFUSED;
  } finally {
    libc.close(probe);
  }
  return stale && removeIfSame({ path, dev: found.dev, ino: found.ino, ctimeNs: found.ctimeNs });
}

/**
 * Gives the socket file at `path` exactly `mode` and returns its identity. The chmod goes through an
 * O_PATH|O_NOFOLLOW descriptor (`/proc/self/fd/N` names the inode it pins, as glibc's
 * fchmodat(AT_SYMLINK_NOFOLLOW) does): a symlink or other file swapped in after bind is never chmodded.
 */
function setExactMode(path: string, mode: number): BoundFile {
  const fd = check(libc.open(path, libc.O_PATH | libc.O_NOFOLLOW | libc.O_CLOEXEC, 0), 'open', path);
  try {
    const stat = fstatSync(fd, { bigint: true });
    if (!stat.isSocket()) {
      throw systemError(
        errnos.ENOTSOCK,
        'chmod',
        path,
        'the socket file was replaced right after bind; check who else writes to its directory',
      );
    }
    const bound = { path, dev: stat.dev, ino: stat.ino };
    if (libc.chmod(`/proc/self/fd/${fd}`, mode) < 0) {
      const errno = libc.errno();
      removeIfSame(bound);
      throw systemError(
        errno,
        'chmod',
        path,
        errno === errnos.ENOENT
          ? '/proc is not mounted: the exact mode is set through /proc/self/fd; mount /proc'
          : undefined,
      );
    }
    return bound;
  } finally {
    libc.close(fd);
  }
}

/**
 * Binds socket `fd` (of socket type `type`) to a UNIX address: a socket file of exactly `mode`, or an
 * abstract name. A stale socket file left by a dead process is replaced; a live address, or a path
 * that is not a socket, is never taken over. Returns the bound file (undefined for an abstract name)
 * for `removeBoundFile` on close.
 */
export function bindUnix(
  fd: number,
  address: UnixAddress,
  type: number,
  modeOption: number | undefined,
): BoundFile | undefined {
  const mode = checkMode(modeOption);
  const sockaddr = unixAddress(address.path, address.abstract, address.url);
  const where = address.abstract ? address.url : address.path;
  const hints = {
    ENOENT: `the directory of ${address.path} does not exist: create it first`,
    EADDRINUSE: address.abstract
      ? 'a live process is bound to this abstract name; pick another name or stop that process'
      : 'a live process is bound to this socket file (a probe connect succeeded); pick another path or stop that process',
  };
  if (!address.abstract) check(libc.fchmod(fd, mode), 'fchmod', address.path);
  if (libc.bind(fd, sockaddr.bytes, sockaddr.length) < 0) {
    const errno = libc.errno();
    if (errno !== errnos.EADDRINUSE || address.abstract || !removeIfStale(sockaddr, type, address.path)) {
      throw systemError(errno, 'bind', where, hints[errnoName(errno) as keyof typeof hints]);
    }
    check(libc.bind(fd, sockaddr.bytes, sockaddr.length), 'bind', where, hints);
  }
  return address.abstract ? undefined : setExactMode(address.path, mode);
}

/** Removes the socket file of a UNIX address (`unlink(url)`); refuses a path that is not a socket. */
export function unlinkSocketFile(address: UnixAddress): void {
  // Abstract names vanish with their last socket: there is nothing to remove.
  if (address.abstract) return;
  const found = statOf(address.path);
  if (found === undefined) throw systemError(errnos.ENOENT, 'unlink', address.path, `no socket file at ${address.url}`);
  if (!found.isSocket()) {
    throw systemError(errnos.ENOTSOCK, 'unlink', address.path, 'it is not a socket file; refusing to remove it');
  }
  check(libc.unlink(address.path), 'unlink', address.path);
}

/** Makes a bound socket listen (`backlog`, default 128); when listen fails, the socket file just bound goes. */
export function listenBound(fd: number, backlog: number | undefined, url: string, bound: BoundFile | undefined): void {
  try {
    sockets.listen(fd, checkBacklog(backlog), url);
  } catch (error) {
    removeBoundFile(bound);
    throw error;
  }
}
