/**
 * Doorbells (docs/ring-protocol.md, "Doorbells"): each handle of a shared-memory segment owns a UNIX
 * datagram socket in the segment's doorbell directory, named by the handle's registry entry. A peer
 * that must wait sets its bit in a sleeper mask in the segment and polls its doorbell; a peer that
 * changes what sleepers wait for exchanges the mask with 0 and sends one byte to every doorbell whose
 * bit was set. The directory follows the segment's mode, so whoever cannot write the segment can
 * neither take a doorbell name nor ring one. Nothing here is specific to the ring's queue: any
 * segment with a 64-bit id, a registry and sleeper masks uses it.
 */
import { chmodSync, lstatSync, mkdirSync, rmdirSync } from 'node:fs';
import { ValidationError } from '../../errors.js';
import { check, errnos, libc, systemError } from '../../native/index.js';

/** The directory holding a segment's doorbell sockets; only who may write the segment may enter it. */
export function bellDirectory(id: bigint): string {
  return `/dev/shm/.tipc-bells.${id.toString(16).padStart(16, '0')}`;
}

/** The doorbell directory's permission bits for a segment of `mode`: rwx for each class that may write it. */
export function bellsMode(mode: number): number {
  return 0o700 | (mode & 0o020 ? 0o070 : 0) | (mode & 0o002 ? 0o007 : 0);
}

/** Prebuilt `sockaddr_un` bytes of doorbell `entry`: family, path, NUL. */
function bellAddress(id: bigint, entry: number): Uint8Array {
  const path = new TextEncoder().encode(`${bellDirectory(id)}/${entry}`);
  const address = new Uint8Array(2 + path.length + 1);
  address[0] = libc.AF_UNIX; // sun_family, little-endian u16
  address.set(path, 2);
  return address;
}

/** Owner and mode of a segment, from fstat. */
export interface SegmentOwner {
  readonly uid: number;
  readonly gid: number;
  readonly mode: number;
}

/**
 * Checks that the doorbell directory is the one the segment's creator made: a directory (not a link),
 * with the segment's owner and group, granting nobody the segment does not grant. Whoever planted a
 * look-alike could otherwise take handles or read who sleeps.
 */
export function checkBellDirectory(url: string, id: bigint, segment: SegmentOwner): void {
  const directory = bellDirectory(id);
  let stat: ReturnType<typeof lstatSync>;
  try {
    stat = lstatSync(directory);
  } catch {
    throw systemError(
      errnos.ENOENT,
      'lstat',
      directory,
      `${url}: its doorbell directory is missing (removed by hand?); unlink('${url}') and create it again`,
    );
  }
  const allowed = bellsMode(segment.mode);
  const extra = stat.mode & 0o777 & ~allowed;
  if (!stat.isDirectory() || stat.uid !== segment.uid || stat.gid !== segment.gid || extra !== 0) {
    const found = `uid ${stat.uid}, gid ${stat.gid}, mode 0${(stat.mode & 0o777).toString(8)}`;
    throw new ValidationError(
      'doorbells',
      `a directory of uid ${segment.uid}, gid ${segment.gid}, mode within 0${allowed.toString(8)}`,
      `${stat.isDirectory() ? 'a directory' : 'not a directory'} of ${found}`,
      {
        message:
          `${url}: ${directory} is not its own doorbell directory (expected a directory of the segment's ` +
          `owner ${segment.uid}:${segment.gid} granting at most 0${allowed.toString(8)}; found ` +
          `${found}${stat.isDirectory() ? '' : ', not a directory'}); ` +
          'it is not used. Someone else may have planted it: remove it, or chmod it like the segment',
      },
    );
  }
}

/** Creates a segment's doorbell directory, owner-only first, then with the exact mode (umask ignored). */
export function makeBellDirectory(id: bigint, mode: number): void {
  const directory = bellDirectory(id);
  mkdirSync(directory, { mode: 0o700 });
  // setgid when the group is granted: sockets made in it get the segment's group, not their binder's.
  chmodSync(directory, bellsMode(mode) | (mode & 0o020 ? 0o2000 : 0));
}

/** Removes the doorbell directory of a segment of `count` handles with the sockets in it (those of `keep` entries excepted). */
export function removeBellDirectory(id: bigint, count: number, keep: (entry: number) => boolean = () => false): void {
  const directory = bellDirectory(id);
  for (let e = 0; e < count; e++) if (!keep(e)) libc.unlink(`${directory}/${e}`);
  try {
    rmdirSync(directory);
  } catch {
    // Not empty: a live handle's socket is still there; the last one to close removes the directory.
  }
}

/** One handle's doorbell: its socket (bound once the handle has its entry) and the addresses of the others. */
export class Doorbell {
  /** The socket: non-blocking, close-on-exec; readable when rung. */
  readonly fd: number;
  readonly #id: bigint;
  readonly #addresses: Uint8Array[] = [];
  readonly #one = new Uint8Array(1);
  readonly #drain = new Uint8Array(64);
  #entry = -1;

  constructor(id: bigint, url: string) {
    this.#id = id;
    this.fd = check(
      libc.socket(libc.AF_UNIX, libc.SOCK_DGRAM | libc.SOCK_NONBLOCK | libc.SOCK_CLOEXEC, 0),
      'socket',
      url,
    );
  }

  /** The path of doorbell `entry`. */
  path(entry: number): string {
    return `${bellDirectory(this.#id)}/${entry}`;
  }

  /**
   * Binds this socket as doorbell `entry` (the entry was just taken) and grants it like the segment
   * of `mode`. A socket file left there by the entry's dead owner goes first (a forked child of that
   * owner may still hold the socket; it is no handle and gets no more rings). Returns 0 or the errno
   * (EADDRINUSE: another opener's socket appeared meanwhile).
   */
  bind(entry: number, mode: number): number {
    const path = this.path(entry);
    libc.unlink(path);
    const address = this.#address(entry);
    if (libc.bind(this.fd, address, address.length) !== 0) return libc.errno();
    try {
      // Peers of other uids the segment grants must be able to ring it; the directory keeps out the rest.
      chmodSync(path, bellsMode(mode) & 0o666);
    } catch (error) {
      libc.unlink(path);
      const errno = (error as NodeJS.ErrnoException).errno;
      return errno === undefined ? errnos.EACCES : Math.abs(errno);
    }
    this.#entry = entry;
    return 0;
  }

  #address(entry: number): Uint8Array {
    this.#addresses[entry] ??= bellAddress(this.#id, entry);
    return this.#addresses[entry];
  }

  /** Rings every sleeper registered in the `words` mask words from int32 index `word`, clearing them. */
  ring(i32: Int32Array, word: number, words: number): void {
    for (let w = 0; w < words; w++) {
      if (Atomics.load(i32, word + w) === 0) continue;
      let bits = Atomics.exchange(i32, word + w, 0);
      while (bits !== 0) {
        const bit = 31 - Math.clz32(bits & -bits);
        bits &= bits - 1;
        const address = this.#address(w * 32 + bit);
        // EAGAIN (a ring is already queued) and ECONNREFUSED (the sleeper left) need nothing.
        libc.sendto(this.fd, this.#one, 1, libc.MSG_DONTWAIT | libc.MSG_NOSIGNAL, address, address.length);
      }
    }
  }

  /** Drops rings already queued, so that a wait ends only for a new one. */
  drain(): void {
    while (libc.recv(this.fd, this.#drain, this.#drain.length, libc.MSG_DONTWAIT) > 0) {}
  }

  /** Removes this doorbell's socket file (before its entry is freed: afterwards the name may be the next owner's). */
  unlinkOwn(): void {
    if (this.#entry >= 0) libc.unlink(this.path(this.#entry));
  }

  /** Closes the socket. */
  close(): void {
    libc.close(this.fd);
  }
}
