/**
 * The rules of the options every transport shares, checked in one place so that the same mistake
 * is the same ValidationError, naming the same option in the same words, on every transport: the
 * mode of a created object, create/exclusive, access, a listen backlog, timeouts and capacities.
 * (Who may connect, `allow`, is peercred.ts's; priorities are the channel's, see FdChannel.)
 */
import { ValidationError } from '../errors.js';

/** Permission bits of a created object when `mode` is not given: the owner only. */
export const DEFAULT_MODE = 0o600;

/**
 * Checks a `mode` option and returns it (DEFAULT_MODE when undefined): permission bits, an integer
 * in [0, 0o777]. The setuid, setgid and sticky bits mean nothing on a queue, segment, FIFO or socket
 * file, and one of them in `mode` is most likely a typo: refused, never silently dropped.
 */
export function checkMode(mode: number | undefined): number {
  if (mode === undefined) return DEFAULT_MODE;
  if (typeof mode !== 'number' || !Number.isInteger(mode) || mode < 0 || mode > 0o777) {
    throw new ValidationError(
      'mode',
      'permission bits, an integer in [0, 0o777] such as 0o600 (setuid, setgid and sticky bits, 0o1000 to 0o7777, mean nothing on an IPC object)',
      typeof mode === 'number' && Number.isInteger(mode) && mode >= 0 ? `0o${mode.toString(8)}` : String(mode),
    );
  }
  return mode;
}

/** Checked `create` and `exclusive`: `exclusive` claims a name, so it only goes with `create: true`. */
export function checkCreate(options: { readonly create?: boolean; readonly exclusive?: boolean }): {
  create: boolean;
  exclusive: boolean;
} {
  const { create = false, exclusive = false } = options;
  if (typeof create !== 'boolean') throw new ValidationError('create', 'true or false', String(create));
  if (typeof exclusive !== 'boolean') throw new ValidationError('exclusive', 'true or false', String(exclusive));
  if (exclusive && !create) {
    throw new ValidationError(
      'exclusive',
      'exclusive only together with create: true (it fails when the object exists already)',
      'create: false',
    );
  }
  return { create, exclusive };
}

/** The directions a channel end may be opened for. */
export type AccessOption = 'send' | 'receive' | 'both';

/**
 * Checks an `access` option (default 'both') against the directions the transport offers; `why`
 * says why some are missing (a FIFO end is one-way).
 */
export function checkAccess<A extends AccessOption>(
  access: unknown,
  offered: readonly A[] = ['send', 'receive', 'both'] as A[],
  why = '',
): A {
  const value = access ?? (offered.includes('both' as A) ? 'both' : undefined);
  if (offered.includes(value as A)) return value as A;
  const expected = offered.map((direction) => `'${direction}'`).join(offered.length === 2 ? ' or ' : ', ');
  throw new ValidationError('access', `${expected}${why ? ` (${why})` : ''}`, JSON.stringify(access) ?? 'undefined');
}

/** Checks a listen `backlog` (default 128; the kernel caps it at net.core.somaxconn). */
export function checkBacklog(backlog: number | undefined): number {
  if (backlog === undefined) return 128;
  return checkInteger('backlog', backlog, 1, 65_535, 'an integer in [1, 65535] (pending connections)');
}

/** Checks a `timeoutMs` option: milliseconds >= 0, or undefined (wait as long as it takes). */
export function checkTimeout(timeoutMs: number | undefined, name = 'timeoutMs'): number | undefined {
  if (timeoutMs === undefined) return undefined;
  if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0)) {
    throw new ValidationError(
      name,
      'milliseconds >= 0 (Infinity, or no timeoutMs, waits as long as it takes)',
      String(timeoutMs),
    );
  }
  return timeoutMs;
}

/**
 * Checks an integer option in [`min`, `max`] and returns it; `expected` is the ValidationError's
 * account of what is wanted (each transport words its own ranges: a System V type, a slot count).
 */
export function checkInteger(name: string, value: unknown, min: number, max: number, expected: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ValidationError(name, expected, String(value));
  }
  return value;
}

/** Checks a capacity in messages: an integer in [1, `max`] (`limit` says where `max` comes from). */
export function checkCapacity(capacity: unknown, max: number, limit: string): number {
  return checkInteger('capacity', capacity, 1, max, `an integer in [1, ${max}] (messages; ${limit})`);
}
