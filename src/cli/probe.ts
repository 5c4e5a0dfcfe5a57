/**
 * Opening an object without its schema (`stat`, `tail --raw`): the message size comes from the object
 * itself. A ring's header says it (and its fingerprint); a queue's `mq_getattr` says it. Other
 * transports carry no size: the user gives it (`--size`).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { MessageCodec } from '../codecs/index.js';
import { parseUrl, readPubSubHeader, readQueueAttributes, SystemError, ValidationError } from '../index.js';
import { UsageError } from './args.js';
import { isMqueueMounted, mqueueDir, shmDir } from './objects.js';
import { rawCodec } from './raw.js';
import { readRingHeader } from './ring-header.js';

/** The file behind a queue (when the mqueue filesystem is mounted) or a ring's segment. */
export function namedObjectPath(scheme: 'mq' | 'shm', name: string): string | undefined {
  if (scheme === 'shm') return join(shmDir(), name.slice(1));
  const dir = mqueueDir();
  return isMqueueMounted(dir) ? join(dir, name.slice(1)) : undefined;
}

/** The segments under /dev/shm that declare their message size: how to read each one's header. */
const segmentKinds = {
  shm: {
    read: readRingHeader,
    expected: 'a typed-ipc ring (TIPCRING)',
    refusal: 'is not a typed-ipc ring (no TIPCRING header)',
  },
  'shm+pubsub': {
    read: readPubSubHeader,
    expected: 'a typed-ipc pub/sub segment (TIPCPUBS)',
    refusal: 'is not a typed-ipc pub/sub segment of this protocol version',
  },
} as const;

/**
 * A raw codec for the messages of `url`: `size` bytes when given (fixed-size records, or datagrams
 * of at most `size` bytes); else the size the object declares (queues and rings).
 */
export async function rawCodecFor(url: string, size?: number): Promise<MessageCodec<Uint8Array>> {
  const address = parseUrl(url);
  const datagrams = address.scheme === 'unix+dgram' || address.scheme === 'udp';
  if (size !== undefined) return rawCodec(size, undefined, !datagrams);
  if (address.scheme === 'shm' || address.scheme === 'shm+pubsub') {
    const { read, expected, refusal } = segmentKinds[address.scheme];
    const path = namedObjectPath('shm', address.name)!;
    if (!existsSync(path)) throw missingObject(url, path);
    const header = read(path);
    if (header === undefined) {
      throw new ValidationError('header.magic', expected, 'another file', {
        message: `${url}: ${path} ${refusal}`,
      });
    }
    return rawCodec(header.messageSize, header.fingerprint);
  }
  if (address.scheme === 'mq') {
    // Messages may be shorter than mq_msgsize (variable-size writers): not fixed-size.
    return rawCodec(readQueueAttributes(address.name).messageSize, undefined, false);
  }
  // address.url: a nats:// URL without its credentials.
  throw new UsageError(
    `${address.url} does not say how long its messages are: give --size <bytes> (the sizeof of the C struct the writer sends)`,
  );
}

/** The error `open` gives for a name that is not there: ENOENT, with the path and what to do. */
export function missingObject(url: string, path: string): SystemError {
  return new SystemError({
    code: 'ENOENT',
    errno: 2,
    syscall: 'stat',
    path,
    description: 'no such file or directory',
    hint: `${url} names nothing: check the name with \`typed-ipc ls\`, or create the object first`,
  });
}
