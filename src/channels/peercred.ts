/**
 * Peer credentials of UNIX sockets and the `allow` option, shared by every UNIX socket transport:
 * SO_PEERCRED of a connection (stream, seqpacket), SCM_CREDENTIALS of each datagram (unix+dgram),
 * the default for abstract-namespace addresses, and how refusals are counted and reported.
 *
 * What protects an address (see docs/sockets.md, "Who may connect"):
 * - A path (`unix+…:/run/x.sock`): the socket file's mode and its directory's, like any file. The
 *   kernel checks write permission on the file at connect/sendto.
 * - An abstract name (`unix+…:@name`): nothing in the kernel. Any process of any uid in the network
 *   namespace can connect or send to it (names are listed in /proc/net/unix). So a listener or a
 *   datagram receiver bound to an abstract name admits only its own effective uid unless `allow`
 *   says otherwise; the check is SO_PEERCRED per connection, SCM_CREDENTIALS per datagram.
 */
import { UnsupportedError, ValidationError } from '../errors.js';
import { check, errnos, libc, sockets, systemError } from '../native/index.js';
import type { PeerCredentials } from './channel.js';
import type { SocketOptions } from './transport.js';

/** The credentials the kernel recorded for the peer of a connected UNIX socket when it connected. */
export function peerCredentials(fd: number): PeerCredentials {
  // struct ucred { pid_t pid; uid_t uid; gid_t gid; }
  const ucred = new Int32Array(3);
  const length = new Uint32Array([libc.UCRED_SIZE]);
  check(libc.getsockopt(fd, libc.SOL_SOCKET, libc.SO_PEERCRED, new Uint8Array(ucred.buffer), length), 'getsockopt');
  return { pid: ucred[0]!, uid: ucred[1]! >>> 0, gid: ucred[2]! >>> 0 };
}

/** Throws ValidationError unless `allow` is undefined, an array of uids, or a predicate. */
export function checkAllow(allow: unknown): void {
  if (allow === undefined || typeof allow === 'function') return;
  if (Array.isArray(allow) && allow.every((uid) => Number.isInteger(uid) && uid >= 0)) return;
  throw new ValidationError('allow', 'an array of uids or a function (peer) => boolean', String(allow));
}

/**
 * The `allow` a receiving UNIX socket enforces: the option when given (`'anyone'` turns the check
 * off), else only this process's effective uid on an abstract name (which no file mode protects),
 * else nobody is checked (a path: its file mode decides who may connect or send).
 */
export function effectiveAllow(options: SocketOptions, abstract: boolean): Allow | undefined {
  const allow = options.allow;
  checkAllow(allow === 'anyone' ? undefined : allow);
  if (typeof options.onRefused !== 'function' && options.onRefused !== undefined) {
    throw new ValidationError('onRefused', 'a function (peer) => void', String(options.onRefused));
  }
  if (allow === 'anyone') return undefined;
  return allow ?? (abstract ? [libc.geteuid()] : undefined);
}

/** An enforced allow list: uids, or a predicate over the peer's credentials. */
export type Allow = Exclude<NonNullable<SocketOptions['allow']>, 'anyone'>;

/** UDP has no credentials to check `allow` against: the option is refused rather than ignored. */
export function refuseAllow(scheme: string, allow: unknown): void {
  if (allow === undefined) return;
  throw new UnsupportedError(
    `${scheme} sockets carry no sender credentials, so \`allow\` cannot be enforced on them; ` +
      'use a unix+ socket to admit peers by uid, or a firewall to limit who may send',
  );
}

/** Whether a peer passes an enforced allow list (everyone passes when there is none). */
export function isAllowed(allow: Allow | undefined, peer: PeerCredentials): boolean {
  if (allow === undefined) return true;
  if (typeof allow === 'function') return allow(peer) === true;
  return allow.includes(peer.uid);
}

/** What `info()` says of an allow list. */
export function describeAllow(allow: Allow | undefined): string {
  if (allow === undefined) return 'anyone the socket file mode admits';
  if (typeof allow === 'function') return 'peers the allow function accepts';
  return `uids ${allow.join(', ')}`;
}

/** A refused peer as `onRefused` sees it: its credentials, and its address for a datagram. */
export interface RefusedPeer extends PeerCredentials {
  /** The sender's address (datagrams from an autobound or bound socket). */
  readonly from?: string | undefined;
}

/**
 * Hands a refusal to the `onRefused` callback on a later microtask, so that a throwing callback
 * surfaces as an uncaught exception of its own instead of breaking the receive or accept under way.
 */
export function reportRefusal(options: SocketOptions, peer: RefusedPeer): void {
  const callback = options.onRefused;
  if (callback !== undefined) queueMicrotask(() => callback(peer));
}

/**
 * The hint for a connection that ended before anything came over it, on the connecting side: the
 * kernel accepts the connection into the listener's backlog before the listener sees who it is, so
 * a refusal by its allow list looks, from here, like a peer that closed at once.
 */
export function refusalHint(url: string): string {
  return (
    `the listener at ${url} closed this connection before sending anything: if it has an \`allow\` list, ` +
    `it most likely refused this process (uid ${libc.geteuid()}, gid ${libc.getegid()}); a listener on an ` +
    'abstract (@) name admits only its own uid by default. Ask its owner to allow this uid'
  );
}

/**
 * The connecting side's `allow`: the listener's SO_PEERCRED (recorded when it called listen) must
 * pass it. Returns those credentials; throws SystemError EACCES naming them otherwise.
 */
export function checkListener(fd: number, url: string, options: SocketOptions): PeerCredentials {
  const peer = peerCredentials(fd);
  if (!isAllowed(effectiveAllow(options, false), peer)) {
    throw systemError(
      errnos.EACCES,
      'connect',
      url,
      `the listener (pid ${peer.pid}, uid ${peer.uid}, gid ${peer.gid}) is not allowed by the allow option`,
    );
  }
  return peer;
}

/** Turns on SO_PASSCRED: the kernel attaches the sender's credentials to every message received. */
export function passCredentials(fd: number): void {
  sockets.setIntOption(fd, libc.SOL_SOCKET, libc.SO_PASSCRED, 1);
}
