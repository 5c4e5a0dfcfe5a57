/**
 * Raw `struct sockaddr_un`, `sockaddr_in` and `sockaddr_in6` bytes for bind/connect, and back out
 * of getsockname/recvfrom (the port; a whole address as a URL). x86_64 Linux layouts; ports and
 * IPv4/IPv6 addresses in network order.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { ValidationError } from '../errors.js';
import { AF_INET, AF_INET6, AF_UNIX } from './libc.js';

/** Size of `sockaddr_un.sun_path`. */
export const UNIX_PATH_MAX = 108;
/** Large enough for any address family used here (`sizeof(struct sockaddr_storage)`). */
export const SOCKADDR_STORAGE = 128;

/** A socket address ready for bind/connect: its bytes and the length to pass. */
export interface SockAddr {
  readonly bytes: Uint8Array;
  readonly length: number;
}

/** `sockaddr_un` for a filesystem path, or for an abstract name (leading NUL, no terminator). */
export function unixSockAddr(path: string, abstract: boolean): SockAddr {
  const name = new TextEncoder().encode(path);
  // A filesystem path needs its NUL terminator inside sun_path; an abstract name its leading NUL.
  const room = UNIX_PATH_MAX - 1;
  if (name.length > room || name.includes(0)) {
    throw new ValidationError(
      'url',
      `a UNIX socket ${abstract ? 'name' : 'path'} of at most ${room} bytes without NUL (sun_path is ${UNIX_PATH_MAX})`,
      `${JSON.stringify(path)} (${name.length} bytes)`,
    );
  }
  const bytes = new Uint8Array(2 + UNIX_PATH_MAX);
  new DataView(bytes.buffer).setUint16(0, AF_UNIX, true);
  bytes.set(name, abstract ? 3 : 2);
  return { bytes, length: abstract ? 3 + name.length : 2 + name.length + 1 };
}

/** `sockaddr_in` / `sockaddr_in6` for a numeric IP address (resolve names first) and a port. */
export function inetSockAddr(ip: string, port: number): SockAddr {
  if (isIPv4(ip)) {
    const bytes = new Uint8Array(16);
    const view = new DataView(bytes.buffer);
    view.setUint16(0, AF_INET, true);
    view.setUint16(2, port, false);
    bytes.set(ip.split('.').map(Number), 4);
    return { bytes, length: 16 };
  }
  if (isIPv6(ip)) {
    const bytes = new Uint8Array(28);
    const view = new DataView(bytes.buffer);
    view.setUint16(0, AF_INET6, true);
    view.setUint16(2, port, false);
    bytes.set(ipv6Bytes(ip), 8);
    return { bytes, length: 28 };
  }
  throw new ValidationError('host', 'a numeric IPv4 or IPv6 address', JSON.stringify(ip));
}

/** The 16 bytes of an IPv6 address in text form (with `::` and an optional dotted IPv4 tail). */
function ipv6Bytes(ip: string): Uint8Array {
  const [address = ''] = ip.split('%'); // a zone index is not part of the address bytes
  const groups = (text: string): number[] => {
    if (text === '') return [];
    const parts = text.split(':');
    const out: number[] = [];
    for (const part of parts) {
      if (part.includes('.')) {
        const [a = 0, b = 0, c = 0, d = 0] = part.split('.').map(Number);
        out.push((a << 8) | b, (c << 8) | d);
      } else {
        out.push(Number.parseInt(part, 16));
      }
    }
    return out;
  };
  const [head = '', tail] = address.split('::');
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const words = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  const bytes = new Uint8Array(16);
  const view = new DataView(bytes.buffer);
  for (const [i, word] of words.entries()) view.setUint16(i * 2, word, false);
  return bytes;
}

/** The port of a `sockaddr_in`/`sockaddr_in6` (as getsockname returns it). */
export function portOf(bytes: Uint8Array): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint16(2, false);
}

/** The address family (AF_UNIX, AF_INET, AF_INET6) of socket address bytes. */
export function familyOf(bytes: Uint8Array): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint16(0, true);
}

/** A `sockaddr_un` with only the family: binding it makes Linux autobind a unique abstract name. */
export function unixAutobind(): SockAddr {
  const bytes = new Uint8Array(2 + UNIX_PATH_MAX);
  new DataView(bytes.buffer).setUint16(0, AF_UNIX, true);
  return { bytes, length: 2 };
}

/** RFC 5952 text of 16 IPv6 address bytes: the longest run (>= 2) of zero groups becomes `::`. */
function ipv6Text(bytes: Uint8Array): string {
  const view = new DataView(bytes.buffer, bytes.byteOffset, 16);
  const words = Array.from({ length: 8 }, (_, i) => view.getUint16(i * 2, false));
  let best = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLength) [best, bestLength] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = words.map((word) => word.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLength).join(':')}`;
}

/**
 * The URL (`scheme:/path`, `scheme:@name`, `scheme://host:port`) of an address the kernel wrote
 * (recvfrom, getsockname, getpeername), `length` bytes of it; undefined for an unnamed UNIX socket,
 * which cannot be replied to.
 */
export function sockAddrUrl(scheme: string, bytes: Uint8Array, length: number): string | undefined {
  if (length <= 2) return undefined;
  const family = familyOf(bytes);
  if (family === AF_UNIX) {
    const decoder = new TextDecoder();
    if (bytes[2] === 0) return `${scheme}:@${decoder.decode(bytes.subarray(3, length))}`;
    const end = bytes.indexOf(0, 2);
    return `${scheme}:${decoder.decode(bytes.subarray(2, end < 0 || end > length ? length : end))}`;
  }
  if (family === AF_INET) return `${scheme}://${bytes.subarray(4, 8).join('.')}:${portOf(bytes)}`;
  if (family === AF_INET6) return `${scheme}://[${ipv6Text(bytes.subarray(8, 24))}]:${portOf(bytes)}`;
  return undefined;
}
