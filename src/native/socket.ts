/**
 * Sockets, checked: open, socketpair, adopt a descriptor (its SO_TYPE checked), O_NONBLOCK and
 * close-on-exec, integer socket options, SO_ERROR and listen, with errors that name the call and what
 * to do. The hot calls (send, recv, sendmmsg, recvmmsg, accept4) stay raw in `libc.ts`: the channels
 * check their results themselves. Every descriptor made here is close-on-exec, and non-blocking
 * unless it is the end handed to a child.
 */
import { ValidationError } from '../errors.js';
import { check } from './errors.js';
import * as libc from './libc.js';

/** A new socket of `domain` and `type`, non-blocking and close-on-exec. */
export function openSocket(domain: number, type: number, where?: string): number {
  return check(libc.socket(domain, type | libc.SOCK_NONBLOCK | libc.SOCK_CLOEXEC, 0), 'socket', where);
}

/** Sets O_NONBLOCK on `fd` (it also affects other processes sharing the same open file). */
export function setNonBlocking(fd: number, where?: string): void {
  check(libc.fcntl(fd, libc.F_SETFL, libc.fcntl(fd, libc.F_GETFL) | libc.O_NONBLOCK), 'fcntl', where);
}

/** Sets close-on-exec on `fd`: a child spawned later does not inherit it. */
export function setCloseOnExec(fd: number, where?: string): void {
  check(libc.fcntl(fd, libc.F_SETFD, libc.FD_CLOEXEC), 'fcntl', where);
}

/**
 * A connected pair of UNIX sockets of `type` for a child process: [this process's end
 * (non-blocking), the child's end (blocking, as a C child expects)], both close-on-exec (the child's
 * end is passed on explicitly).
 */
export function socketPair(type: number): [number, number] {
  const fds = new Int32Array(2);
  check(libc.socketpair(libc.AF_UNIX, type | libc.SOCK_CLOEXEC, 0, fds), 'socketpair');
  const [parent = -1, child = -1] = fds;
  setNonBlocking(parent);
  return [parent, child];
}

/** An integer socket option (SOL_SOCKET unless `level` says otherwise). */
export function getIntOption(fd: number, name: number, level: number = libc.SOL_SOCKET, hints?: Hints): number {
  const value = new Int32Array(1);
  const length = new Uint32Array([4]);
  check(libc.getsockopt(fd, level, name, new Uint8Array(value.buffer), length), 'getsockopt', `fd ${fd}`, hints);
  return value[0] ?? 0;
}

/** Sets an integer socket option; `checked: false` leaves a refusal to the caller's next look (SO_SNDBUF caps). */
export function setIntOption(fd: number, level: number, name: number, value: number, checked = true): void {
  const result = libc.setsockopt(fd, level, name, new Uint8Array(new Int32Array([value]).buffer), 4);
  if (checked) check(result, 'setsockopt', `fd ${fd}`);
}

/** Hints by errno name, as `check` takes them. */
type Hints = Partial<Record<string, string>>;

/**
 * Makes an inherited socket descriptor a channel's: its SO_TYPE must be `type` (ValidationError
 * naming `what` otherwise), then non-blocking and close-on-exec.
 */
export function adoptSocket(fd: number, type: number, what: string, notSocketHint?: string): void {
  const hints = notSocketHint === undefined ? undefined : { ENOTSOCK: notSocketHint };
  const got = getIntOption(fd, libc.SO_TYPE, libc.SOL_SOCKET, hints);
  if (got !== type) throw new ValidationError(`fd ${fd}`, `${what} (SO_TYPE ${type})`, `SO_TYPE ${got}`);
  setNonBlocking(fd, `fd ${fd}`);
  setCloseOnExec(fd, `fd ${fd}`);
}

/** The error a non-blocking connect ended with (SO_ERROR), 0 when it succeeded. */
export function pendingError(fd: number): number {
  return getIntOption(fd, libc.SO_ERROR);
}

/** Makes a bound socket listen, with `backlog` pending connections at most. */
export function listen(fd: number, backlog: number, where: string): void {
  check(libc.listen(fd, backlog), 'listen', where);
}
