/**
 * The right entry point for a URL and a direction: named objects (`mq:`, `shm:`, `fifo:`) are opened,
 * datagram sockets are bound to receive and connected to send, connection-oriented sockets listen to
 * receive (every accepted connection feeds the same stream of messages) and connect to send.
 */
import type { MessageCodec } from '../codecs/index.js';
import {
  bind,
  type Channel,
  connect,
  type Listener,
  listen,
  type Message,
  open,
  parseUrl,
  TimeoutError,
} from '../index.js';
import { integerOption, type OptionSpec, type ParsedArgs } from './args.js';

/** A message with the label of the connection or sender it came from. */
export interface Received {
  readonly message?: Message<unknown>;
  /** A message that arrived but could not be decoded (it was consumed); reading goes on. */
  readonly error?: Error;
  /** Sender address or connection label, when the transport has one. */
  readonly from?: string;
}

/** Where `tail` reads from. */
export interface Receiver {
  /**
   * Next message or decode error; undefined when the source has ended; throws TimeoutError after
   * `timeoutMs` (0: when nothing is waiting now).
   */
  next(timeoutMs?: number): Promise<Received | undefined>;
  /** Whether messages carry a sender (datagram sockets, accepted connections). */
  readonly hasSender: boolean;
  close(): Promise<void>;
}

/** Options of `openReceiver` / `openSender`. */
export interface EndpointOptions {
  /** Create a named object that does not exist. */
  readonly create?: boolean;
  /** Capacity of a created object. */
  readonly capacity?: number;
  /** System V queues: which types to receive (msgrcv's msgtyp) and whether to leave that type out. */
  readonly receiveType?: number;
  readonly except?: boolean;
}

/** The options `tail` and `send` share for creating a named object. */
export const endpointOptionSpec = {
  create: { type: 'boolean' },
  capacity: { type: 'string' },
} as const satisfies OptionSpec;

/** Reads `--create` and `--capacity`. */
export function endpointOptionsOf(args: ParsedArgs): EndpointOptions {
  const capacity = integerOption(args, 'capacity', undefined, 1);
  return { create: args.values.create === true, ...(capacity === undefined ? {} : { capacity }) };
}

type Kind = 'named' | 'datagram' | 'connection' | 'subject';

/** How a URL's scheme is reached. */
export function endpointKind(url: string): Kind {
  const { scheme } = parseUrl(url);
  if (scheme === 'mq' || scheme === 'shm' || scheme === 'fifo' || scheme === 'sysv') return 'named';
  if (scheme === 'unix+dgram' || scheme === 'udp') return 'datagram';
  if (scheme === 'nats') return 'subject';
  return 'connection';
}

/** Whether an error is typed-ipc's error `code` (checked by code: a schema module may carry its own copy). */
export function hasCode(error: unknown, code: string): error is Error {
  return error instanceof Error && (error as { code?: unknown }).code === code;
}

async function receiveOne(channel: Channel<unknown>, timeoutMs: number | undefined): Promise<Received | undefined> {
  try {
    const message =
      timeoutMs === 0 ? channel.tryReceive() : await channel.receive(timeoutMs === undefined ? {} : { timeoutMs });
    if (message === undefined) throw new TimeoutError(`receive on ${channel.url}`, 0);
    return message.from === undefined ? { message } : { message, from: message.from };
  } catch (error) {
    if (hasCode(error, 'ERR_IPC_CLOSED')) return undefined;
    if (hasCode(error, 'ERR_IPC_DECODE')) return { error };
    throw error;
  }
}

class ChannelReceiver implements Receiver {
  readonly #channel: Channel<unknown>;
  readonly hasSender: boolean;

  constructor(channel: Channel<unknown>, hasSender: boolean) {
    this.#channel = channel;
    this.hasSender = hasSender;
  }

  next(timeoutMs?: number): Promise<Received | undefined> {
    return receiveOne(this.#channel, timeoutMs);
  }

  close(): Promise<void> {
    return this.#channel.close();
  }
}

/** Merges the messages of every connection a listener accepts into one queue. */
class ListenerReceiver implements Receiver {
  readonly hasSender = true;
  readonly #listener: Listener<unknown>;
  readonly #connections = new Set<Channel<unknown>>();
  readonly #queue: Received[] = [];
  #wake: (() => void) | undefined;
  #failure: unknown;
  #accepted = 0;

  constructor(listener: Listener<unknown>) {
    this.#listener = listener;
    void this.#acceptLoop();
  }

  async #acceptLoop(): Promise<void> {
    try {
      for await (const connection of this.#listener) {
        this.#accepted += 1;
        const peer = (connection as { peer?: { pid: number } }).peer;
        const label = peer === undefined ? `#${this.#accepted}` : `#${this.#accepted} pid ${peer.pid}`;
        void this.#readLoop(connection, label);
      }
    } catch (error) {
      if (!this.#listener.closed) this.#push(undefined, error);
    }
  }

  async #readLoop(connection: Channel<unknown>, label: string): Promise<void> {
    this.#connections.add(connection);
    try {
      for (;;) {
        const received = await receiveOne(connection, undefined);
        if (received === undefined) break;
        this.#push({ ...received, from: received.from ?? label });
      }
    } catch (error) {
      // One connection failing (a reset peer) does not end the tail; note it like a decode error.
      this.#push({ error: error as Error, from: label });
    } finally {
      this.#connections.delete(connection);
      await connection.close();
    }
  }

  #push(received: Received | undefined, failure?: unknown): void {
    if (received !== undefined) this.#queue.push(received);
    if (failure !== undefined) this.#failure = failure;
    this.#wake?.();
  }

  async next(timeoutMs?: number): Promise<Received | undefined> {
    const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
    for (;;) {
      const head = this.#queue.shift();
      if (head !== undefined) return head;
      if (this.#failure !== undefined) throw this.#failure;
      if (this.#listener.closed) return undefined;
      const remaining = deadline === undefined ? undefined : deadline - Date.now();
      if (remaining !== undefined && remaining <= 0) {
        throw new TimeoutError(`receive on ${this.#listener.url}`, timeoutMs!);
      }
      await new Promise<void>((resolve) => {
        const timer = remaining === undefined ? undefined : setTimeout(resolve, remaining);
        this.#wake = () => {
          clearTimeout(timer);
          this.#wake = undefined;
          resolve();
        };
      });
    }
  }

  async close(): Promise<void> {
    await this.#listener.close();
    await Promise.all([...this.#connections].map((c) => c.close()));
    this.#wake?.();
  }
}

/** Opens `url` to receive messages. */
export async function openReceiver(
  url: string,
  codec: MessageCodec<unknown>,
  options: EndpointOptions = {},
): Promise<Receiver> {
  switch (endpointKind(url)) {
    case 'named':
      return new ChannelReceiver(await open(url, codec, { ...options, access: 'receive' }), false);
    case 'datagram':
      return new ChannelReceiver(await bind(url, codec), true);
    case 'connection':
      return new ListenerReceiver(await listen(url, codec));
    case 'subject':
      // A NATS subject is opened like a named object (--create creates a JetStream stream); from is the subject.
      return new ChannelReceiver(await open(url, codec, { ...options, access: 'receive' }), true);
  }
}

/** Opens `url` to send messages. */
export async function openSender(
  url: string,
  codec: MessageCodec<unknown>,
  options: EndpointOptions = {},
): Promise<Channel<unknown>> {
  const kind = endpointKind(url);
  return kind === 'named' || kind === 'subject'
    ? open(url, codec, { ...options, access: 'send' })
    : connect(url, codec);
}
