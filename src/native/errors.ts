/**
 * errno → SystemError, with a hint for the failures users hit most. Transports may pass a more
 * specific hint (for example the mqueue limits that an EINVAL from mq_open is about).
 */
import { getSystemErrorMap } from 'node:util';
import { SystemError } from '../errors.js';
import { errno as lastErrno } from './libc.js';

const systemErrors = getSystemErrorMap();

const defaultHints: Record<string, string> = {
  EACCES: 'permission denied: the object belongs to another user or its mode does not grant this access',
  EPERM: 'operation not permitted for this user',
  EEXIST: 'it already exists: open it without `exclusive`, or remove it first (typed-ipc rm <url>)',
  ENOENT: 'it does not exist: pass `create: true`, or start the side that creates it first',
  EMFILE: 'too many open descriptors in this process: raise `ulimit -n` or close channels you no longer use',
  ENFILE: 'the system-wide limit on open files was reached',
  ENAMETOOLONG: 'the name is too long (NAME_MAX is 255 bytes, a UNIX socket path 107)',
  EADDRINUSE: 'the address is in use by a live process',
  ECONNREFUSED: 'nobody is listening or bound at that address',
};

/** Name of an errno value, e.g. 11 → `EAGAIN`. */
export function errnoName(errno: number): string {
  return systemErrors.get(-errno)?.[0] ?? `E${errno}`;
}

/** Builds the SystemError for `errno`; `hint` replaces the default hint for that code. */
export function systemError(errno: number, syscall: string, path?: string, hint?: string): SystemError {
  const entry = systemErrors.get(-errno);
  const code = entry?.[0] ?? `E${errno}`;
  return new SystemError({
    code,
    errno,
    syscall,
    path,
    description: entry?.[1] ?? `errno ${errno}`,
    hint: hint ?? defaultHints[code],
  });
}

/** Throws a SystemError built from the current errno when `ret` is negative; returns `ret` otherwise. */
export function check(ret: number, syscall: string, path?: string, hints?: Partial<Record<string, string>>): number {
  if (ret >= 0) return ret;
  const errno = lastErrno();
  throw systemError(errno, syscall, path, hints?.[errnoName(errno)]);
}

export const EINTR = 4;
export const EAGAIN = 11;
export const EINPROGRESS = 115;
export const EPIPE = 32;
export const ECONNRESET = 104;
export const ENOENT = 2;
export const EEXIST = 17;
export const EMSGSIZE = 90;
export const ECONNREFUSED = 111;
export const EADDRINUSE = 98;
export const EBADF = 9;
export const ENOTCONN = 107;
export const EACCES = 13;
export const ENOTSOCK = 88;
export const EPROTOTYPE = 91;
export const ECONNABORTED = 103;
export const ESRCH = 3;
export const EINVAL = 22;
export const EBUSY = 16;
export const EUSERS = 87;
export const ENXIO = 6;
export const EISCONN = 106;
