/**
 * Socket addresses as the raw `struct sockaddr_*` bytes the kernel reads and writes, and back to
 * channel URLs (the `from` of a received datagram). Only what typed-ipc's sockets use: AF_UNIX
 * (filesystem and abstract names), AF_INET and AF_INET6.
 */
import { lookup } from 'node:dns/promises';
import { isIPv4, isIPv6 } from 'node:net';
import { SystemError, ValidationError } from '../errors.js';
import { libc } from '../native/index.js';

/** `sizeof(struct sockaddr_un)`: a two-byte family and 108 bytes of path. */
export const SOCKADDR_UN_SIZE = 110;
/** `sizeof(struct sockaddr_in6)`, the largest IP address; big enough for `sockaddr_in` too. */
export const SOCKADDR_IN6_SIZE = 28;
/** Room for any address this module parses. */
export const SOCKADDR_MAX = SOCKADDR_UN_SIZE;
/** Longest name in `sun_path`: 107 bytes plus the NUL (or the leading NUL of an abstract name). */
const UNIX_PATH_MAX = 107;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A socket address ready for bind/connect/sendto. */
export interface SockAddr {
  readonly family: number;
  readonly bytes: Uint8Array;
  /** How many bytes of `bytes` the kernel should read (abstract names are not NUL-terminated). */
  readonly length: number;
}

/** `struct sockaddr_un` for a filesystem path or (with `abstract`) a name in the abstract namespace. */
export function unixAddress(path: string, abstract: boolean, url: string): SockAddr {
  const name = encoder.encode(path);
  if (name.length > UNIX_PATH_MAX || name.includes(0)) {
    throw new ValidationError(
      'url',
      `a UNIX socket ${abstract ? 'name' : 'path'} of at most ${UNIX_PATH_MAX} bytes without NUL (sun_path is 108 bytes)`,
      `${JSON.stringify(url)} (${name.length} bytes)`,
    );
  }
  const bytes = new Uint8Array(SOCKADDR_UN_SIZE);
  new DataView(bytes.buffer).setUint16(0, libc.AF_UNIX, true);
  // Abstract names start with a NUL and their length is exact; paths are NUL-terminated.
  bytes.set(name, abstract ? 3 : 2);
  return { family: libc.AF_UNIX, bytes, length: 2 + 1 + name.length };
}

/** `struct sockaddr_un` with only the family: binding it asks Linux to autobind a unique abstract name. */
export function unixAutobind(): SockAddr {
  const bytes = new Uint8Array(SOCKADDR_UN_SIZE);
  new DataView(bytes.buffer).setUint16(0, libc.AF_UNIX, true);
  return { family: libc.AF_UNIX, bytes, length: 2 };
}

/** `struct sockaddr_in` or `sockaddr_in6` for an IP literal (no name resolution). */
export function ipAddress(host: string, port: number): SockAddr {
  if (isIPv4(host)) {
    const bytes = new Uint8Array(16);
    const view = new DataView(bytes.buffer);
    view.setUint16(0, libc.AF_INET, true);
    view.setUint16(2, port, false);
    bytes.set(host.split('.').map(Number), 4);
    return { family: libc.AF_INET, bytes, length: 16 };
  }
  if (isIPv6(host)) {
    const bytes = new Uint8Array(SOCKADDR_IN6_SIZE);
    const view = new DataView(bytes.buffer);
    view.setUint16(0, libc.AF_INET6, true);
    view.setUint16(2, port, false);
    bytes.set(parseIPv6(host), 8);
    return { family: libc.AF_INET6, bytes, length: SOCKADDR_IN6_SIZE };
  }
  throw new ValidationError('host', 'an IPv4 or IPv6 address', JSON.stringify(host));
}

/** Resolves a host name (IP literals pass through) and builds its address. */
export async function resolveIpAddress(host: string, port: number): Promise<SockAddr> {
  if (isIPv4(host) || isIPv6(host)) return ipAddress(host, port);
  let address: string;
  try {
    ({ address } = await lookup(host));
  } catch (error) {
    // node:dns fails with a plain Error; callers of the library catch the IpcError family.
    const { code, errno } = error as { code?: string; errno?: number };
    throw new SystemError({
      code: code ?? 'EAI_FAIL',
      errno: errno ?? 0,
      syscall: 'getaddrinfo',
      path: host,
      description: 'the host name could not be resolved',
      hint: 'check the host name, or give an IP address',
      cause: error,
    });
  }
  return ipAddress(address, port);
}

function parseIPv6(host: string): number[] {
  let text = host;
  const groups: number[] = [];
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4?.[1] !== undefined) {
    const [a = 0, b = 0, c = 0, d = 0] = v4[1].split('.').map(Number);
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const parse = (part: string): number[] => (part === '' ? [] : part.split(':').map((g) => Number.parseInt(g, 16)));
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  groups.push(...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right);
  return groups.flatMap((g) => [g >> 8, g & 0xff]);
}

function formatIPv6(bytes: Uint8Array): string {
  const groups = Array.from({ length: 8 }, (_, i) => ((bytes[2 * i] ?? 0) << 8) | (bytes[2 * i + 1] ?? 0));
  // RFC 5952: compress the longest run (length >= 2) of zero groups, the first one on a tie.
  let best = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) [best, bestLength] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLength).join(':')}`;
}

/**
 * The URL of an address the kernel wrote (recvfrom, getsockname, getpeername); undefined for an
 * unnamed UNIX socket, which cannot be replied to.
 */
export function formatAddress(scheme: string, bytes: Uint8Array, length: number): string | undefined {
  if (length < 2) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const family = view.getUint16(0, true);
  if (family === libc.AF_UNIX) {
    if (length <= 2) return undefined;
    if (bytes[2] === 0) return `${scheme}:@${decoder.decode(bytes.subarray(3, length))}`;
    const end = bytes.indexOf(0, 2);
    return `${scheme}:${decoder.decode(bytes.subarray(2, end < 0 || end > length ? length : end))}`;
  }
  const port = view.getUint16(2, false);
  if (family === libc.AF_INET) return `${scheme}://${bytes.subarray(4, 8).join('.')}:${port}`;
  if (family === libc.AF_INET6) return `${scheme}://[${formatIPv6(bytes.subarray(8, 24))}]:${port}`;
  return undefined;
}
