/**
 * `mq:/name`: POSIX message queues. Every message is one `mq_send`/`mq_receive` of exactly the
 * codec's size (`mq_msgsize` is the codec's size), priorities are the queue's own (highest first,
 * FIFO within a priority), and a full queue makes `send` wait for room on the event loop.
 */
import type { MessageCodec } from '../codecs/codec.js';
import { DecodeError, MessageSizeError, UnsupportedError, ValidationError } from '../errors.js';
import { errnos, libc, mqueue, systemError } from '../native/index.js';
import { type ChannelInfo, type Message, RecordChannel } from './channel.js';
import { checkAccess, checkCreate, checkMode } from './options.js';
import type { OpenOptions, Transport } from './transport.js';

/** Which directions an end of a queue uses. */
export type MqAccess = NonNullable<OpenOptions['access']>;

/** What `info()` reports for a message queue (figures from `mq_getattr`, read at the call). */
export interface MqInfo extends ChannelInfo {
  readonly transport: 'mq';
  /** The queue's name, e.g. `/samples`. */
  readonly name: string;
  /** `mq_maxmsg`. */
  readonly capacity: number;
  /** `mq_msgsize`, equal to the codec's size. */
  readonly messageSize: number;
  /** `mq_curmsgs`: messages waiting in the queue now. */
  readonly pending: number;
  readonly access: MqAccess;
}

const accessFlags: Record<MqAccess, number> = { send: libc.O_WRONLY, receive: libc.O_RDONLY, both: libc.O_RDWR };

/** Checks a queue name (`/` then 1 to NAME_MAX bytes, no other `/`); returns it. */
export function checkQueueName(name: string): string {
  const expected = `a queue name: "/" then 1 to ${libc.NAME_MAX} bytes without "/" or NUL (e.g. "/samples")`;
  const problem =
    typeof name !== 'string'
      ? 'not a string'
      : !name.startsWith('/')
        ? 'it does not start with "/"'
        : name.length === 1 || name === '/.' || name === '/..'
          ? 'it names no queue'
          : name.indexOf('/', 1) >= 0
            ? 'it holds a "/" after the first character'
            : name.includes('\0')
              ? 'it holds a NUL character'
              : Buffer.byteLength(name, 'utf8') - 1 > libc.NAME_MAX
                ? `it is ${Buffer.byteLength(name, 'utf8') - 1} bytes long after the "/", more than NAME_MAX (${libc.NAME_MAX})`
                : undefined;
  if (problem === undefined) return name;
  const received = typeof name === 'string' ? JSON.stringify(name) : String(name);
  return invalid('name', expected, received, `invalid queue name ${received}: ${problem}; expected ${expected}`);
}

function invalid(path: string, expected: string, received: string, message?: string): never {
  throw new ValidationError(path, expected, received, message === undefined ? undefined : { message });
}

function checkOptions(options: OpenOptions): Required<Pick<OpenOptions, 'create' | 'exclusive' | 'mode' | 'access'>> {
  const { create, exclusive } = checkCreate(options);
  return { create, exclusive, mode: checkMode(options.mode), access: checkAccess<MqAccess>(options.access) };
}

function capacityOf(options: OpenOptions): number {
  const limits = mqueue.mqueueLimits();
  const { capacity = Math.min(limits.msgDefault ?? 10, limits.msgMax ?? 10) } = options;
  if (!Number.isInteger(capacity) || capacity < 1) {
    invalid(
      'capacity',
      `an integer >= 1 (at most ${mqueue.MQUEUE_PROC}/msg_max, ${String(limits.msgMax)})`,
      String(capacity),
    );
  }
  return capacity;
}

/** One end of a POSIX message queue. */
class MqChannel<T> extends RecordChannel<T> {
  readonly transport = 'mq';
  protected override readonly priorityLimit = mqueue.mqPriorityLimit();
  protected override readonly priorityLimitSource = 'sysconf(_SC_MQ_PRIO_MAX)';
  /** The queue's name, e.g. `/samples`. */
  readonly name: string;
  readonly #mqd: number;
  readonly #access: MqAccess;
  readonly #fixedSize: boolean;
  // Reused on every receive: mq_receive wants room for mq_msgsize bytes (the codec's size), and the
  // codec copies what it decodes out of it.
  readonly #buffer: Uint8Array;
  readonly #priority = new Uint32Array(1);
  readonly #attr = new BigInt64Array(libc.MQ_ATTR_LONGS);

  constructor(url: string, name: string, codec: MessageCodec<T>, mqd: number, access: MqAccess, options: OpenOptions) {
    super(url, codec, mqd, { ref: options.ref, access, wait: options.wait });
    this.name = name;
    this.#mqd = mqd;
    this.#access = access;
    this.#fixedSize = codec.fixedSize;
    this.#buffer = new Uint8Array(codec.size);
  }

  protected writeMessage(bytes: Uint8Array, priority: number): boolean {
    if (libc.mqSend(this.#mqd, bytes, bytes.length, priority) === 0) return true;
    const errno = libc.errno();
    if (errno === errnos.EAGAIN) return false;
    throw this.#failure(errno, 'mq_send');
  }

  protected readMessage(): Message<T> | undefined {
    const buffer = this.#buffer;
    const length = libc.mqReceive(this.#mqd, buffer, buffer.length, this.#priority);
    if (length < 0) {
      const errno = libc.errno();
      if (errno === errnos.EAGAIN) return undefined;
      throw this.#failure(errno, 'mq_receive');
    }
    const priority = this.#priority[0]!;
    if (length !== buffer.length && this.#fixedSize) {
      // Another writer put a message of the wrong size in the queue. It is consumed (the kernel
      // cannot put it back); the next receive carries on with the next message.
      throw new DecodeError(
        this.codec.name,
        `${this.url} delivered a message of ${length} bytes (priority ${priority}), but ${this.codec.name} messages are ${buffer.length} bytes: a foreign writer uses another layout; the message was dropped`,
      );
    }
    return { value: this.codec.decode(length === buffer.length ? buffer : buffer.subarray(0, length)), priority };
  }

  #failure(errno: number, syscall: 'mq_send' | 'mq_receive'): Error {
    if (errno === errnos.EBADF && !this.closed) {
      const verb = syscall === 'mq_send' ? 'send' : 'receive';
      return new UnsupportedError(
        `${this.url} was opened with access '${this.#access}': it cannot ${verb}; open it with access '${verb}' or 'both'`,
      );
    }
    return systemError(errno, syscall, this.name);
  }

  protected closeResources(): void {
    mqueue.closeQueue(this.#mqd, this.name);
  }

  info(): MqInfo {
    this.assertOpen();
    const attributes = mqueue.queueAttributes(this.#mqd, this.name, this.#attr);
    return {
      url: this.url,
      transport: 'mq',
      name: this.name,
      access: this.#access,
      capacity: attributes.capacity,
      messageSize: attributes.messageSize,
      pending: attributes.pending,
    };
  }
}

/** Opens (or creates) the queue and checks that its message size is the codec's. */
async function openChannel<T>(
  url: string,
  name: string,
  codec: MessageCodec<T>,
  options: OpenOptions,
): Promise<MqChannel<T>> {
  checkQueueName(name);
  const { create, exclusive, mode, access } = checkOptions(options);
  const flags = accessFlags[access] | libc.O_NONBLOCK;
  const shape = { capacity: create ? capacityOf(options) : 0, messageSize: codec.size };
  const mqd = create ? mqueue.createQueue(name, flags, mode, shape, exclusive) : mqueue.openQueue(name, flags, 0);
  try {
    const attributes = mqueue.queueAttributes(mqd, name);
    if (attributes.messageSize !== codec.size) {
      throw new MessageSizeError(
        codec.size,
        attributes.messageSize,
        `${url} carries messages of ${attributes.messageSize} bytes (its mq_msgsize), but ${codec.name} messages are ${codec.size} bytes: open it with the schema it was created for, or unlink it and create it again`,
      );
    }
    return new MqChannel(url, name, codec, mqd, access, options);
  } catch (error) {
    libc.mqClose(mqd);
    throw error;
  }
}

/** What a queue says of itself (`mq_getattr`), read without a schema. */
export interface QueueAttributes {
  /** `mq_maxmsg`. */
  readonly capacity: number;
  /** `mq_msgsize`: the size of every message a typed-ipc end sends, the largest any writer may. */
  readonly messageSize: number;
  /** `mq_curmsgs`: messages waiting now. */
  readonly pending: number;
}

/**
 * Reads a queue's attributes without joining it: for tools that open a queue they did not create and
 * must learn its message size (`typed-ipc stat`, `tail --raw`). Opens read-only (which consumes
 * nothing), or write-only when the mode grants only that, and closes again. A missing queue or a
 * refused access is the SystemError `open` would throw.
 */
export function readQueueAttributes(name: string): QueueAttributes {
  checkQueueName(name);
  let mqd: number;
  try {
    mqd = mqueue.openQueue(name, libc.O_RDONLY | libc.O_NONBLOCK, 0);
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'EACCES') throw error;
    mqd = mqueue.openQueue(name, libc.O_WRONLY | libc.O_NONBLOCK, 0);
  }
  try {
    const { capacity, messageSize, pending } = mqueue.queueAttributes(mqd, name);
    return { capacity, messageSize, pending };
  } finally {
    libc.mqClose(mqd);
  }
}

/** The `mq:` transport: open (create) a queue, unlink it. */
export const transports: Partial<Record<string, Transport>> = {
  mq: {
    async open(address, codec, options) {
      if (address.scheme !== 'mq') throw new UnsupportedError(`${address.url} is not an mq: URL`);
      return openChannel(address.url, address.name, codec, options);
    },
    async unlink(address) {
      if (address.scheme !== 'mq') throw new UnsupportedError(`${address.url} is not an mq: URL`);
      mqueue.unlinkQueue(checkQueueName(address.name));
    },
  },
};
