/**
 * Reading a pub/sub segment's header from its file with read(2), without mapping it or taking an
 * entry: what `readPubSubHeader` (package API), `typed-ipc ls` and `stat` need. Apart from segment.ts
 * so that `import 'typed-ipc'` does not load pub/sub: its modules load when a `shm+pubsub:` URL is
 * first opened.
 */
import { paddedText, readHeaderBytes } from '../ring/header.js';
import * as L from './layout.js';
import type { PubSubPolicy } from './options.js';

/** The NUL-padded fingerprint field of a header. */
export function fingerprintOf(bytes: Uint8Array): string {
  return paddedText(bytes, L.header.fingerprint, L.FINGERPRINT_MAX);
}

/** What a pub/sub segment's header says (`typed-ipc ls` and `stat`), read without joining it. */
export interface PubSubHeader {
  readonly version: number;
  readonly policy: PubSubPolicy;
  /** Bytes per message. */
  readonly messageSize: number;
  /** Messages a subscriber may fall behind before the policy applies. */
  readonly capacity: number;
  /** Sizes of the subscriber and publisher tables. */
  readonly subscribers: number;
  readonly publishers: number;
  /** Messages published so far (the tail). */
  readonly published: bigint;
  /** The process that created the segment (informational). */
  readonly creatorPid: number;
  /** The message layout's fingerprint ('' when unknown). */
  readonly fingerprint: string;
}

/**
 * Reads the header of the pub/sub segment stored in the file `path` (e.g. `/dev/shm/name`) with
 * read(2), without mapping it or taking an entry; undefined when the file is not a pub/sub segment of
 * this protocol. Throws the open's error when the file cannot be opened.
 */
export function readPubSubHeader(path: string): PubSubHeader | undefined {
  const bytes = readHeaderBytes(path, L.header.tail + 8);
  if (bytes === undefined || !L.isPubSubHeader(bytes)) return undefined;
  return {
    version: bytes.readUInt32LE(L.header.version),
    policy: bytes.readUInt32LE(L.header.policy) === L.POLICY_OVERWRITE ? 'overwrite' : 'block',
    messageSize: bytes.readUInt32LE(L.header.msg_size),
    capacity: bytes.readUInt32LE(L.header.capacity),
    subscribers: bytes.readUInt32LE(L.header.subscribers),
    publishers: bytes.readUInt32LE(L.header.publishers),
    published: bytes.readBigUInt64LE(L.header.tail),
    creatorPid: bytes.readInt32LE(L.header.creator_pid),
    fingerprint: fingerprintOf(bytes),
  };
}
