/**
 * Channel URLs: `mq:/name`, `shm:/name`, `shm+pubsub:/name`, `fifo:/path`, `unix+dgram:/path`, `unix+seqpacket:/path`,
 * `unix+stream:/path` (`@name` in place of the leading `/` for the abstract namespace),
 * `udp://host:port`, `tcp://host:port` (IPv6 hosts in brackets), System V queues as `sysv:key=0x1234`,
 * `sysv:/path?proj=N` (ftok), `sysv:id=N` or `sysv:private`, `nats://host:port/subject` (see nats/url.ts).
 */
import { ValidationError } from '../errors.js';
import { type NatsAddress, parseNatsUrl } from './nats/url.js';

/** The schemes typed-ipc understands. */
export type Scheme =
  | 'mq'
  | 'shm'
  | 'shm+pubsub'
  | 'fifo'
  | 'unix+dgram'
  | 'unix+seqpacket'
  | 'unix+stream'
  | 'udp'
  | 'tcp'
  | 'sysv'
  | 'nats';

/** Which System V queue a `sysv:` URL names: by key, by ftok path and project id, by id, or a new private one. */
export type SysvTarget =
  | { readonly kind: 'key'; readonly key: number }
  | { readonly kind: 'ftok'; readonly path: string; readonly proj: number }
  | { readonly kind: 'id'; readonly id: number }
  | { readonly kind: 'private' };

/** A parsed channel URL. */
export type Address =
  | { readonly scheme: 'mq' | 'shm'; readonly url: string; readonly name: string }
  | { readonly scheme: 'shm+pubsub'; readonly url: string; readonly name: string }
  | { readonly scheme: 'fifo'; readonly url: string; readonly path: string }
  | {
      readonly scheme: 'unix+dgram' | 'unix+seqpacket' | 'unix+stream';
      readonly url: string;
      /** Filesystem path, or the abstract name without its `@`. */
      readonly path: string;
      readonly abstract: boolean;
    }
  | { readonly scheme: 'udp' | 'tcp'; readonly url: string; readonly host: string; readonly port: number }
  | { readonly scheme: 'sysv'; readonly url: string; readonly target: SysvTarget }
  | NatsAddress;

const schemes: readonly Scheme[] = [
  'mq',
  'shm',
  'shm+pubsub',
  'fifo',
  'unix+dgram',
  'unix+seqpacket',
  'unix+stream',
  'udp',
  'tcp',
  'sysv',
  'nats',
];

function bad(url: string, expected: string): ValidationError {
  return new ValidationError('url', expected, JSON.stringify(url));
}

/**
 * Parses a channel URL.
 *
 * @example
 * ```ts
 * parseUrl('unix+dgram:@samples'); // { scheme: 'unix+dgram', path: 'samples', abstract: true, ... }
 * ```
 * @throws {@link ValidationError} (path `url`) naming the schemes and the form expected.
 */
export function parseUrl(url: string): Address {
  if (typeof url !== 'string') throw bad(String(url), 'a channel URL string');
  const colon = url.indexOf(':');
  const scheme = url.slice(0, colon) as Scheme;
  if (colon < 0 || !schemes.includes(scheme)) {
    throw bad(url, `a URL with one of the schemes ${schemes.map((s) => `${s}:`).join(' ')}`);
  }
  // Before anything prints the URL: a nats:// URL may hold a password.
  if (scheme === 'nats') return parseNatsUrl(url);
  // C strings end at the first NUL: `shm:/a\0b` would silently name /dev/shm/a.
  if (url.includes('\0')) throw bad(url, 'a name or path without NUL characters');
  const rest = url.slice(colon + 1);
  switch (scheme) {
    case 'mq':
    case 'shm':
      if (!rest.startsWith('/')) throw bad(url, `${scheme}:/name (a name with a leading slash)`);
      return { scheme, url, name: rest };
    case 'shm+pubsub':
      if (!rest.startsWith('/')) throw bad(url, 'shm+pubsub:/name (a name with a leading slash)');
      return { scheme, url, name: rest };
    case 'fifo':
      if (rest.length === 0) throw bad(url, 'fifo:/path/to/fifo');
      return { scheme, url, path: rest };
    case 'unix+dgram':
    case 'unix+seqpacket':
    case 'unix+stream':
      if (rest.startsWith('@') && rest.length > 1) return { scheme, url, path: rest.slice(1), abstract: true };
      if (rest.length === 0 || rest.startsWith('@')) throw bad(url, `${scheme}:/path or ${scheme}:@abstract-name`);
      return { scheme, url, path: rest, abstract: false };
    case 'udp':
    case 'tcp':
      return { scheme, url, ...parseHostPort(url, rest) };
    case 'sysv':
      return { scheme, url, target: parseSysvTarget(url, rest) };
  }
}

const SYSV_FORMS =
  'sysv:key=0x1234 (a key), sysv:/path?proj=N (ftok of an existing file, N 1..255 or one character), sysv:id=N (a queue id) or sysv:private';

function parseSysvTarget(url: string, rest: string): SysvTarget {
  if (rest === 'private') return { kind: 'private' };
  const key = /^key=(0x[0-9a-fA-F]{1,8}|[0-9]{1,10})$/.exec(rest);
  if (key) {
    const value = Number(key[1]);
    // key_t is a 32-bit int; ipcs prints keys as unsigned hex, so both spellings are accepted.
    if (value === 0 || value > 0xffff_ffff)
      throw bad(url, `${SYSV_FORMS}; the key must be 1..0xffffffff (0 is IPC_PRIVATE: use sysv:private)`);
    return { kind: 'key', key: value | 0 };
  }
  const id = /^id=([0-9]{1,10})$/.exec(rest);
  if (id) {
    const value = Number(id[1]);
    if (value > 0x7fff_ffff) throw bad(url, `${SYSV_FORMS}; an id is 0..2147483647`);
    return { kind: 'id', id: value };
  }
  const ftok = /^(\/[^?]*)\?proj=([0-9]{1,3}|[^0-9])$/.exec(rest);
  if (ftok) {
    const spelled = ftok[2] as string;
    const proj = /^[0-9]+$/.test(spelled) ? Number(spelled) : spelled.charCodeAt(0);
    // ftok keeps only the low 8 bits of the project id, and 0 makes keys that collide across files.
    if (proj >= 1 && proj <= 255) return { kind: 'ftok', path: ftok[1] as string, proj };
  }
  throw bad(url, SYSV_FORMS);
}

function parseHostPort(url: string, rest: string): { host: string; port: number } {
  const match = /^\/\/(?:\[([0-9a-fA-F:.]+)\]|([^:/[\]]+)):(\d{1,5})\/?$/.exec(rest);
  const port = Number(match?.[3]);
  const host = match?.[1] ?? match?.[2];
  if (host === undefined || !(port >= 0 && port <= 65535)) {
    throw bad(url, `${url.slice(0, 3)}://host:port (IPv6 hosts in brackets, port 0..65535)`);
  }
  return { host, port };
}
