/**
 * The table of transports the stress suite covers. Each entry says, by URL and through the public API
 * only, how to make the consumer end (in the test process) and a producer end (in any process), so a
 * transport is covered as soon as it lands and adding one is one entry here.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  bind,
  type Channel,
  ChannelClosedError,
  connect,
  type Listener,
  listen,
  type Message,
  type MessageCodec,
  type OpenOptions,
  open,
  UnsupportedError,
  unlink,
} from '../../src/index.js';
import { freePort, uniqueName } from '../helpers.js';

/** How the two ends meet: a named object both open, a bound datagram socket, or a listener. */
export type Style = 'open' | 'bind' | 'listen';

/** What the consumer end offers: every producer's messages, in arrival order, plus errors as they come. */
export interface Consumer<T> {
  receive(options?: { timeoutMs?: number }): Promise<Message<T>>;
  close(): Promise<void>;
}

/** One transport of the table. */
export interface TransportEntry {
  /** The URL scheme, also the entry's name in figures. */
  readonly name: string;
  readonly style: Style;
  /** Whether the transport carries every message (UDP may drop under load, by design of UDP). */
  readonly reliable: boolean;
  /** A fresh URL for one test. */
  url(tag: string): Promise<string>;
  /** The consumer end, in this process; `capacity` for transports that take one. */
  consumer<T>(url: string, codec: MessageCodec<T>, options?: { capacity?: number }): Promise<Consumer<T>>;
  /** A producer end (also made in child processes by `peer.ts`). */
  producer<T>(url: string, codec: MessageCodec<T>): Promise<Channel<T>>;
  /** The filesystem object behind the URL, if there is one (to stat its mode). */
  file(url: string): string | undefined;
  /** Removes what the URL names; no error when it is gone. */
  remove(url: string): Promise<void>;
}

/** Directory for socket files and FIFOs of this run. */
export const socketDir = join(tmpdir(), 'tipc-stress');
mkdirSync(socketDir, { recursive: true });

const capacityOf = (options?: { capacity?: number }) => options?.capacity ?? 10;

/** Unlinks a named object, ignoring "does not exist". */
async function quietUnlink(url: string): Promise<void> {
  try {
    await unlink(url);
  } catch {
    // Gone already, or never made.
  }
}

/**
 * Merges every connection a listener accepts into one consumer. Errors a connection reports
 * (DecodeError of a foreign writer) are handed out in order too; a closed connection just ends.
 */
class ListenerConsumer<T> implements Consumer<T> {
  readonly #listener: Listener<T>;
  readonly #connections = new Set<Channel<T>>();
  // A queue with a head index (Array#shift copies a large array on every call, which made the consumer
  // quadratic once a fast producer got ahead), and backpressure: the pumps stop reading their
  // connections while `limit` messages wait, so the kernel's buffers, not this array, hold the rest.
  readonly #queue: (({ message: Message<T> } | { error: unknown }) | undefined)[] = [];
  #head = 0;
  readonly #room: (() => void)[] = [];
  static readonly limit = 4096;
  #wake: (() => void) | undefined;

  constructor(listener: Listener<T>) {
    this.#listener = listener;
    void this.#acceptLoop();
  }

  async #acceptLoop(): Promise<void> {
    for (;;) {
      let connection: Channel<T>;
      try {
        connection = await this.#listener.accept();
      } catch (error) {
        if (this.#listener.closed) return;
        this.#push({ error });
        continue;
      }
      this.#connections.add(connection);
      void this.#pump(connection);
    }
  }

  async #pump(connection: Channel<T>): Promise<void> {
    for (;;) {
      if (this.#queue.length - this.#head >= ListenerConsumer.limit) {
        await new Promise<void>((resolve) => this.#room.push(resolve));
      }
      try {
        this.#push({ message: await connection.receive() });
      } catch (error) {
        if (error instanceof ChannelClosedError) break;
        this.#push({ error });
      }
    }
    this.#connections.delete(connection);
    await connection.close();
  }

  #push(item: { message: Message<T> } | { error: unknown }): void {
    this.#queue.push(item);
    this.#wake?.();
  }

  #take(): ({ message: Message<T> } | { error: unknown }) | undefined {
    if (this.#head >= this.#queue.length) return undefined;
    const item = this.#queue[this.#head];
    this.#queue[this.#head] = undefined;
    this.#head += 1;
    if (this.#head >= 1024 && this.#head * 2 >= this.#queue.length) {
      this.#queue.splice(0, this.#head);
      this.#head = 0;
    }
    if (this.#room.length > 0 && this.#queue.length - this.#head < ListenerConsumer.limit / 2) {
      for (const resume of this.#room.splice(0)) resume();
    }
    return item;
  }

  async receive(options: { timeoutMs?: number } = {}): Promise<Message<T>> {
    const deadline = options.timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + options.timeoutMs;
    for (;;) {
      const item = this.#take();
      if (item !== undefined) {
        if ('error' in item) throw item.error;
        return item.message;
      }
      if (this.#listener.closed) throw new ChannelClosedError(`${this.#listener.url} is closed`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`nothing arrived on ${this.#listener.url} within ${options.timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = Number.isFinite(left) ? setTimeout(resolve, left) : undefined;
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
    }
  }

  async close(): Promise<void> {
    await this.#listener.close();
    for (const connection of this.#connections) await connection.close();
    for (const resume of this.#room.splice(0)) resume();
    this.#wake?.();
  }
}

/**
 * A FIFO reader sees end of stream whenever its last writer goes; the consumer keeps a writer of its
 * own open so that producers may come and go (and be killed) without ending the stream.
 */
class FifoConsumer<T> implements Consumer<T> {
  readonly #reader: Channel<T>;
  readonly #keeper: Channel<T>;

  constructor(reader: Channel<T>, keeper: Channel<T>) {
    this.#reader = reader;
    this.#keeper = keeper;
  }

  receive(options: { timeoutMs?: number } = {}): Promise<Message<T>> {
    return this.#reader.receive(options);
  }

  async close(): Promise<void> {
    await this.#keeper.close();
    await this.#reader.close();
  }
}

const named = (scheme: 'mq' | 'shm'): TransportEntry => ({
  name: scheme,
  style: 'open',
  reliable: true,
  url: async (tag) => `${scheme}:/${uniqueName(tag)}`,
  consumer: (url, codec, options) =>
    open(url, codec, { create: true, capacity: capacityOf(options), access: 'receive' }),
  producer: (url, codec) => open(url, codec, { access: 'send' }),
  file: (url) => `/dev/${scheme === 'mq' ? 'mqueue' : 'shm'}${url.slice(url.indexOf('/'))}`,
  remove: quietUnlink,
});

/** A fresh System V key: 31 random bits (0 would be IPC_PRIVATE), one per test like uniqueName. */
const sysvKey = (): string => `0x${(1 + Math.floor(Math.random() * 0x7fff_fffe)).toString(16)}`;

const unixSocket = (scheme: 'unix+dgram' | 'unix+seqpacket' | 'unix+stream', style: Style): TransportEntry => ({
  name: scheme,
  style,
  reliable: true,
  url: async (tag) => `${scheme}:${join(socketDir, uniqueName(tag))}`,
  consumer: async (url, codec) =>
    style === 'bind' ? await bind(url, codec) : new ListenerConsumer(await listen(url, codec)),
  producer: (url, codec) => connect(url, codec),
  file: (url) => url.slice(url.indexOf(':') + 1),
  remove: async (url) => {
    const path = url.slice(url.indexOf(':') + 1);
    if (existsSync(path)) rmSync(path, { force: true });
  },
});

const ip = (scheme: 'udp' | 'tcp'): TransportEntry => ({
  name: scheme,
  style: scheme === 'udp' ? 'bind' : 'listen',
  reliable: scheme === 'tcp',
  url: async () => `${scheme}://127.0.0.1:${await freePort(scheme)}`,
  consumer: async (url, codec) =>
    scheme === 'udp' ? await bind(url, codec) : new ListenerConsumer(await listen(url, codec)),
  producer: (url, codec) => connect(url, codec),
  file: () => undefined,
  remove: async () => {},
});

/** Every transport of the library, in the order figures are printed. */
export const allTransports: readonly TransportEntry[] = [
  named('mq'),
  named('shm'),
  {
    name: 'fifo',
    style: 'open',
    reliable: true,
    url: async (tag) => `fifo:${join(socketDir, uniqueName(tag))}`,
    consumer: async (url, codec) => {
      const reader = await open(url, codec, { create: true, access: 'receive' });
      try {
        return new FifoConsumer(reader, await open(url, codec, { access: 'send', shared: true } as OpenOptions));
      } catch (error) {
        await reader.close();
        throw error;
      }
    },
    // `shared`: several writers on one FIFO need whole-record atomic writes (stream issue's option).
    producer: (url, codec) => open(url, codec, { access: 'send', shared: true } as OpenOptions),
    file: (url) => url.slice(url.indexOf(':') + 1),
    remove: async (url) => {
      const path = url.slice(url.indexOf(':') + 1);
      if (existsSync(path)) rmSync(path, { force: true });
    },
  },
  unixSocket('unix+dgram', 'bind'),
  unixSocket('unix+seqpacket', 'listen'),
  unixSocket('unix+stream', 'listen'),
  ip('udp'),
  ip('tcp'),
  {
    // No file: modes are read with IPC_STAT (security.test.ts), the queue is removed with IPC_RMID.
    name: 'sysv',
    style: 'open',
    reliable: true,
    url: async () => `sysv:key=${sysvKey()}`,
    consumer: (url, codec, options) =>
      open(url, codec, { create: true, capacity: capacityOf(options), access: 'receive' }),
    producer: (url, codec) => open(url, codec, { access: 'send' }),
    file: () => undefined,
    remove: quietUnlink,
  },
];

/** Looks an entry up by name (child processes get the name on their command line). */
export function transportNamed(name: string): TransportEntry {
  const entry = allTransports.find((t) => t.name === name);
  if (entry === undefined) throw new Error(`no transport ${name} in the stress table`);
  return entry;
}

/**
 * Whether a transport has landed: making its consumer end either works or fails with
 * UnsupportedError ("not available yet"). Any other failure counts as landed, so the tests show it.
 */
export async function isAvailable(entry: TransportEntry, codec: MessageCodec<unknown>): Promise<boolean> {
  const url = await entry.url('probe');
  try {
    const consumer = await entry.consumer(url, codec, { capacity: 1 });
    await consumer.close();
    return true;
  } catch (error) {
    return !(error instanceof UnsupportedError && /not available yet/.test(error.message));
  } finally {
    await entry.remove(url);
  }
}
