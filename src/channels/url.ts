/**
 * Channel URLs: `mq:/name`, `shm:/name`, `fifo:/path`, `unix+dgram:/path`, `unix+seqpacket:/path`,
 * `unix+stream:/path` (`@name` in place of the leading `/` for the abstract namespace),
 * `udp://host:port`, `tcp://host:port` (IPv6 hosts in brackets), `nats://host:port/subject` (see nats/url.ts).
 */
import { ValidationError } from '../errors.js';
import { type NatsAddress, parseNatsUrl } from './nats/url.js';

/** The schemes typed-ipc understands. */
export type Scheme = 'mq' | 'shm' | 'fifo' | 'unix+dgram' | 'unix+seqpacket' | 'unix+stream' | 'udp' | 'tcp' | 'nats';

/** A parsed channel URL. */
export type Address =
  | { readonly scheme: 'mq' | 'shm'; readonly url: string; readonly name: string }
  | { readonly scheme: 'fifo'; readonly url: string; readonly path: string }
  | {
      readonly scheme: 'unix+dgram' | 'unix+seqpacket' | 'unix+stream';
      readonly url: string;
      /** Filesystem path, or the abstract name without its `@`. */
      readonly path: string;
      readonly abstract: boolean;
    }
  | { readonly scheme: 'udp' | 'tcp'; readonly url: string; readonly host: string; readonly port: number }
  | NatsAddress;

const schemes: readonly Scheme[] = [
  'mq',
  'shm',
  'fifo',
  'unix+dgram',
  'unix+seqpacket',
  'unix+stream',
  'udp',
  'tcp',
  'nats',
];

function bad(url: string, expected: string): ValidationError {
  return new ValidationError('url', expected, JSON.stringify(url));
}

/** Parses a channel URL; throws ValidationError naming what was expected. */
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
  }
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
