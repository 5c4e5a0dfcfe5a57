/**
 * Schema identity at connect (`{ identity: true }` on connect and listen of unix+seqpacket,
 * unix+stream and tcp): right after the connection is made, each end sends a 16-byte hello, the
 * ASCII magic `TIPC-ID1` and its codec's fingerprint as a big-endian u64, and reads the peer's.
 * Equal fingerprints: the connection becomes a channel as usual. Different ones, or anything but a
 * hello: both ends fail before a message is exchanged, naming both fingerprints. It is an option
 * both ends set: a peer without it (a plain C program) would read the hello as a message.
 * `include/typed_ipc_identity.h` gives C peers the same exchange. Format: docs/sockets.md.
 */
import { SchemaMismatchError, TimeoutError } from '../errors.js';
import { errnos, libc, systemError } from '../native/index.js';

/** Bytes of a hello: 8 of magic, 8 of fingerprint. */
export const IDENTITY_SIZE = 16;
/** The magic that starts a hello. */
export const IDENTITY_MAGIC = 'TIPC-ID1';
/** How long to wait for the peer's hello unless the caller says (connect's `timeoutMs`). */
export const IDENTITY_TIMEOUT_MS = 5000;

/** Options of `exchangeIdentity`. */
export interface IdentityOptions {
  readonly timeoutMs?: number | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** The hello this end sends for a fingerprint (16 hex digits). */
export function identityHello(fingerprint: string): Uint8Array {
  const hello = new Uint8Array(IDENTITY_SIZE);
  hello.set(new TextEncoder().encode(IDENTITY_MAGIC), 0);
  new DataView(hello.buffer).setBigUint64(8, BigInt(`0x${fingerprint}`), false);
  return hello;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Sends this end's hello on a connected, non-blocking socket and checks the peer's. The wait for
 * the peer's hello backs off from 1 ms to 32 ms between reads (as a connect to a full backlog
 * does): it happens once per connection, and needs no poll handle on a descriptor that the channel
 * made from it will watch next.
 */
export async function exchangeIdentity(
  fd: number,
  fingerprint: string,
  url: string,
  record: boolean,
  options: IdentityOptions = {},
): Promise<void> {
  const hello = identityHello(fingerprint);
  const timeoutMs = options.timeoutMs ?? IDENTITY_TIMEOUT_MS;
  const deadline = performance.now() + timeoutMs;
  // A fresh connection's send buffer is empty: 16 bytes go at once (or the connection is gone).
  for (let delay = 1; ; delay = Math.min(delay * 2, 32)) {
    const n = libc.write(fd, hello, IDENTITY_SIZE);
    if (n === IDENTITY_SIZE) break;
    const errno = libc.errno();
    if (n >= 0 || errno !== errnos.EAGAIN || performance.now() > deadline) {
      throw systemError(n >= 0 ? errnos.EPIPE : errno, 'write', url, 'sending the schema identity');
    }
    await sleep(delay);
  }
  // A seqpacket record longer than a hello must be seen whole (a shorter read would drop the rest).
  const buffer = new Uint8Array(record ? 256 : IDENTITY_SIZE);
  let got = 0;
  for (let delay = 1; got < IDENTITY_SIZE; ) {
    options.signal?.throwIfAborted();
    const n = libc.read(fd, record ? buffer : buffer.subarray(got), record ? buffer.length : IDENTITY_SIZE - got);
    if (n > 0) {
      got += n;
      if (record) break;
      continue;
    }
    if (n === 0) {
      throw new SchemaMismatchError(
        `${url}: the peer closed the connection before sending its schema identity (this end: ${fingerprint}); set { identity: true } on both ends, or include typed_ipc_identity.h in a C peer`,
        fingerprint,
        undefined,
      );
    }
    const errno = libc.errno();
    if (errno !== errnos.EAGAIN && errno !== errnos.EINTR)
      throw systemError(errno, 'read', url, 'reading the schema identity');
    if (performance.now() > deadline) {
      // "<operation> timed out after N ms": the operation says what to do.
      throw new TimeoutError(
        `${url}: waiting for the peer's schema identity (set { identity: true } on both ends: a peer without it sends none)`,
        timeoutMs,
      );
    }
    await sleep(delay);
    delay = Math.min(delay * 2, 32);
  }
  const magic = new TextDecoder().decode(buffer.subarray(0, 8));
  if (got !== IDENTITY_SIZE || magic !== IDENTITY_MAGIC) {
    throw new SchemaMismatchError(
      `${url}: the peer sent ${got} bytes that are not a typed-ipc schema identity (this end: ${fingerprint}); set { identity: true } on both ends, or include typed_ipc_identity.h in a C peer`,
      fingerprint,
      undefined,
    );
  }
  const remote = new DataView(buffer.buffer).getBigUint64(8, false).toString(16).padStart(16, '0');
  if (remote !== fingerprint) {
    throw new SchemaMismatchError(
      `${url}: schema mismatch: this end's fingerprint is ${fingerprint}, the peer's is ${remote}; both ends must use the same schema (compare the <NAME>_FINGERPRINT of their C headers)`,
      fingerprint,
      remote,
    );
  }
}
