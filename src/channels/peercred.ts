/**
 * Peer credentials of a connected UNIX socket (SO_PEERCRED) and the `allow` option of
 * `listen`/`connect`, shared by every UNIX socket transport (stream and seqpacket).
 */
import { UnsupportedError, ValidationError } from '../errors.js';
import { check, libc } from '../native/index.js';
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
 * Datagram sockets (unix+dgram, udp) have no per-peer credentials to check `allow` against
 * (SO_PEERCRED needs a connection); accepting the option there would promise a protection that
 * does not exist, so it is refused.
 */
export function refuseAllow(scheme: string, allow: unknown): void {
  if (allow === undefined) return;
  throw new UnsupportedError(
    `${scheme} sockets carry no peer credentials, so \`allow\` cannot be enforced on them; ` +
      'use unix+seqpacket or unix+stream to admit peers by uid, or a socket file mode (`mode`) to limit who may send',
  );
}

/** Whether a peer passes the `allow` option (everyone passes when it is undefined). */
export function isAllowed(allow: SocketOptions['allow'], peer: PeerCredentials): boolean {
  if (allow === undefined) return true;
  if (typeof allow === 'function') return allow(peer) === true;
  return allow.includes(peer.uid);
}
