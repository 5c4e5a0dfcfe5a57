/**
 * The conformance table: one row per transport. Every spec in test/conformance/ runs against every
 * row; a behaviour a transport cannot have is declared here (with the reason) and the specs test
 * the declared refusal instead of skipping the row. A new transport joins by adding a row.
 */
import { statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  bind,
  type Channel,
  type ChannelOptions,
  connect,
  type Listener,
  listen,
  type OpenOptions,
  open,
  type PeerWaitOptions,
  type SocketOptions,
  unlink,
} from '../../src/channels/index.js';
import type { MessageCodec } from '../../src/codecs/codec.js';
import { bool, type Infer, struct, u32 } from '../../src/codecs/index.js';
import { NatsServer } from '../channels/nats-server.js';
import { uniqueName } from '../helpers.js';

/** The record every spec sends: `struct rec { uint32_t seq; bool flag; }` (8 bytes with padding). */
export const Rec = struct('rec', { seq: u32, flag: bool });
/** One record. */
export const rec = (seq: number) => ({ seq, flag: seq % 2 === 1 });

/** Registers an action that runs after the test, even when it fails. */
export type Defer = (action: () => unknown) => void;

/** A connected sender and receiver of one transport. */
export interface Pair<T, S = T> {
  readonly tx: Channel<S>;
  readonly rx: Channel<T>;
  /** The URL both ends were opened or connected with. */
  readonly url: string;
}

/** A behaviour the transport does not have, and why (the specs check the refusal). */
export interface Refusal {
  readonly refused: string;
}

/** One transport under test. */
export interface Row {
  readonly name: string;
  /**
   * Opens a sender (with `senderCodec` when given: a foreign writer) and a receiver with `codec`;
   * everything it creates is released through `defer`.
   */
  pair<T, S = T>(
    codec: MessageCodec<T>,
    defer: Defer,
    options?: ChannelOptions,
    senderCodec?: MessageCodec<S>,
  ): Promise<Pair<T, S>>;
  /** Whether a writer with another codec of the same size can send to a receiver. */
  readonly foreignWriter: true | Refusal;
  /** The permission bits of a pair's created object (the file's, or what the kernel reports), or why none. */
  readonly createdMode: ((pair: Pair<unknown>) => number) | Refusal;
  /** The exclusive upper bound of send priorities (ValidationError past it), or why there are none. */
  readonly priorities: { readonly limit: number } | Refusal;
  /** Whether `send` waits when the receiver does not keep up. */
  readonly backpressure: true | Refusal;
  /** Whether closing the sender ends the receiver's iterator (end of stream). */
  readonly endOfStream: true | Refusal;
  /** A listening URL, for accept and connect timeouts (connection-oriented transports). */
  readonly listener: ((defer: Defer) => Promise<Listener<Infer<typeof Rec>>>) | Refusal;
  /**
   * Starts a wait for a peer that never comes (connect to a listener whose backlog is full, a FIFO
   * writer without a reader), with the given timeout/signal; or why opening never waits.
   */
  readonly peerWait: ((defer: Defer, options: PeerWaitOptions) => Promise<unknown>) | Refusal;
  /**
   * Creates the row's object (open with create, bind, listen) with these options, or why it has no
   * mode to set (IP sockets).
   */
  readonly create: ((defer: Defer, options: OpenOptions & SocketOptions) => Promise<unknown>) | Refusal;
  /**
   * Whether `exclusive` (claim a name: fail when the object exists) is an option here, so that
   * `exclusive` without `create` is a ValidationError; or why the transport has no such option.
   */
  readonly exclusive: true | Refusal;
  /** Specs this row fails today (a known bug, named here so that it shows, and flips when fixed). */
  readonly knownBugs?: readonly string[];
  /**
   * What sending does once the receiver closed: ChannelClosedError where the end is known to be gone
   * (whatever the errno: EPIPE, ECONNRESET, ECONNREFUSED on UNIX and UDP sockets alike), TimeoutError
   * where the object outlives its ends (the send waits for room). Never a bare SystemError: the same
   * fault is the same class on every transport. Or why a sender has no receiver to lose (publish/subscribe).
   */
  readonly peerGone: { readonly error: 'ChannelClosedError' | 'TimeoutError'; readonly why: string } | Refusal;
}

/** True when the row declares `value` a refusal. */
export function refused(value: unknown): value is Refusal {
  return typeof value === 'object' && value !== null && 'refused' in value;
}

/** The sender's codec: the foreign one when given, else the receiver's. */
function sender<T, S>(codec: MessageCodec<T>, senderCodec: MessageCodec<S> | undefined): MessageCodec<S> {
  return senderCodec ?? (codec as unknown as MessageCodec<S>);
}

/** The permission bits of the file at the part of `url` after its scheme (a socket file, a FIFO). */
const fileMode = (prefix: string) => (pair: Pair<unknown>) =>
  statSync(prefix + pair.url.slice(pair.url.indexOf(':') + 1)).mode & 0o7777;

const socketPath = (tag: string) => join(tmpdir(), `${uniqueName(tag)}.sock`);

async function tracked<C extends { close(): Promise<void> }>(defer: Defer, opening: Promise<C>): Promise<C> {
  const channel = await opening;
  defer(() => channel.close());
  return channel;
}

/** A named object both ends `open` (mq, shm). */
function namedRow(name: 'mq' | 'shm', extra: Partial<Row>): Row {
  return {
    name,
    async pair(codec, defer, options = {}, senderCodec) {
      const url = `${name}:/${uniqueName(name)}`;
      defer(() => unlink(url));
      const rx = await tracked(defer, open(url, codec, { ...options, create: true, capacity: 4 }));
      const tx = await tracked(defer, open(url, sender(codec, senderCodec), options));
      return { tx, rx, url };
    },
    foreignWriter: true,
    createdMode:
      name === 'shm'
        ? fileMode('/dev/shm')
        : { refused: 'no file: /dev/mqueue is not mounted here, and mq_getattr reports no mode' },
    create(defer, options) {
      const url = `${name}:/${uniqueName(name)}`;
      defer(() => unlink(url));
      return tracked(defer, open(url, Rec, { create: true, ...options }));
    },
    priorities: name === 'mq' ? { limit: 32768 } : { refused: 'a ring slot carries no priority' },
    backpressure: true,
    endOfStream: { refused: 'a named object has no end: closing one end leaves the object open for others' },
    listener: { refused: 'opened by name: there is nothing to connect or accept' },
    peerWait: { refused: 'open never waits: the object exists (it opens) or not (ENOENT at once)' },
    peerGone: { error: 'TimeoutError', why: 'the object outlives its ends: a later receiver may drain it' },
    exclusive: true,
    ...extra,
  };
}

/** A listening socket and a connected client (unix+seqpacket, unix+stream, tcp). */
function connectedRow(name: 'unix+seqpacket' | 'unix+stream' | 'tcp'): Row {
  const listenUrl = (defer: Defer) => {
    if (name === 'tcp') return 'tcp://127.0.0.1:0';
    const url = `${name}:${socketPath(name === 'unix+stream' ? 'us' : 'sp')}`;
    defer(() => unlink(url));
    return url;
  };
  const start = async <T>(codec: MessageCodec<T>, defer: Defer, options: ChannelOptions) => {
    const listener = await tracked(defer, listen(listenUrl(defer), codec, options));
    return listener;
  };
  return {
    name,
    async pair(codec, defer, options = {}, senderCodec) {
      const listener = await start(codec, defer, options);
      const [tx, rx] = await Promise.all([
        tracked(defer, connect(listener.url, sender(codec, senderCodec), options)),
        tracked(defer, listener.accept({ timeoutMs: 10_000 })),
      ]);
      return { tx, rx, url: listener.url };
    },
    foreignWriter: true,
    createdMode: name === 'tcp' ? { refused: 'an IP socket has no file' } : fileMode(''),
    create:
      name === 'tcp'
        ? { refused: 'an IP socket has no file mode' }
        : (defer, options) => tracked(defer, listen(listenUrl(defer), Rec, options)),
    priorities: { refused: 'a connection delivers in order: no priorities' },
    backpressure: true,
    endOfStream: true,
    listener: (defer) => start(Rec, defer, {}),
    async peerWait(defer, options) {
      // A backlog of 1 takes two connections the listener never accepts; the third waits.
      const listener = await tracked(defer, listen(listenUrl(defer), Rec, { backlog: 1 }));
      for (let i = 0; i < 2; i += 1) await tracked(defer, connect(listener.url, Rec, { timeoutMs: 10_000 }));
      return tracked(defer, connect(listener.url, Rec, options));
    },
    peerGone: { error: 'ChannelClosedError', why: 'EPIPE: the connection is over' },
    exclusive: { refused: 'listen claims its address already: a live socket is never taken over' },
    knownBugs: [],
  };
}

/** A bound datagram receiver and a connected sender (unix+dgram, udp). */
function datagramRow(name: 'unix+dgram' | 'udp'): Row {
  return {
    name,
    async pair(codec, defer, options = {}, senderCodec) {
      let url = name === 'udp' ? 'udp://127.0.0.1:0' : `unix+dgram:${socketPath('dg')}`;
      if (name === 'unix+dgram') {
        const bound = url;
        defer(() => unlink(bound));
      }
      const rx = await tracked(defer, bind(url, codec, options));
      url = rx.localUrl ?? url;
      const tx = await tracked(defer, connect(url, sender(codec, senderCodec), options));
      return { tx, rx, url };
    },
    foreignWriter: true,
    createdMode: name === 'udp' ? { refused: 'an IP socket has no file' } : fileMode(''),
    create:
      name === 'udp'
        ? { refused: 'an IP socket has no file mode' }
        : (defer, options) => {
            const url = `unix+dgram:${socketPath('dg')}`;
            defer(() => unlink(url));
            return tracked(defer, bind(url, Rec, options));
          },
    priorities: { refused: 'datagram sockets carry no priorities' },
    backpressure:
      name === 'udp'
        ? { refused: 'UDP has no flow control: a datagram the receiver has no room for is dropped by the kernel' }
        : true,
    endOfStream: { refused: 'datagrams have no connection, so no end of stream' },
    listener: { refused: 'connectionless: there is nothing to accept' },
    peerWait: { refused: 'connect never waits: a datagram socket has no one to wait for' },
    peerGone:
      name === 'udp'
        ? {
            error: 'ChannelClosedError',
            why: 'ECONNREFUSED from ICMP: nothing is bound at the port any more (the socket stays usable for a receiver that binds it again)',
          }
        : { error: 'ChannelClosedError', why: 'ECONNREFUSED on a connected UNIX socket: the peer socket is gone' },
    exclusive: { refused: 'bind claims its address already: a live socket is never taken over' },
  };
}

/**
 * Core NATS: a real nats-server per pair (no JetStream; unref'd, so an unref'd channel can let a child
 * exit), a subscriber and a publisher on one subject.
 */
const natsRow: Row = {
  name: 'nats',
  async pair<T, S = T>(
    codec: MessageCodec<T>,
    defer: Defer,
    options: ChannelOptions = {},
    senderCodec?: MessageCodec<S>,
  ): Promise<Pair<T, S>> {
    const server = (await NatsServer.start({ jetstream: false })).unref();
    defer(() => server.stop());
    const url = server.url(uniqueName('conformance').replace(/[^A-Za-z0-9_-]/g, '_'));
    const rx = await tracked(defer, open(url, codec, { ...options, access: 'receive' }));
    // The foreign writer claims the receiver's schema (its fingerprint header), so the spec's bad bytes
    // reach the decoder; a message under another fingerprint is refused whole (test/channels/nats.test.ts).
    const writer: MessageCodec<S> =
      senderCodec === undefined ? sender(codec, senderCodec) : { ...senderCodec, fingerprint: codec.fingerprint };
    const tx = await tracked(defer, open(url, writer, { ...options, access: 'send' }));
    return { tx, rx, url };
  },
  foreignWriter: true,
  createdMode: { refused: 'no file: a subject is a name on the server, not an object with permission bits' },
  create: { refused: 'a subject has no file mode: the server authorizes users per subject' },
  priorities: { refused: 'NATS messages carry no priority' },
  backpressure: {
    refused:
      'core NATS is at most once: the server does not slow a publisher for a slow subscriber; past maxPending messages are dropped and counted in info().dropped',
  },
  endOfStream: { refused: 'a subject has no end: a publisher closing leaves it open to others' },
  listener: { refused: 'publish/subscribe through a server: there is nothing to accept' },
  peerWait: { refused: 'open never waits for a peer: it waits only for the server (bounded by timeoutMs)' },
  peerGone: {
    refused:
      'publish/subscribe has no peer to lose: with no subscriber the server drops what is published (at most once)',
  },
  exclusive: { refused: 'a subject is never created, so nothing claims its address: open subscribes or publishes' },
};

/**
 * Shared-memory publish/subscribe (block policy, the default): a subscriber (access 'receive', the
 * default) created first, then a publisher (access 'send') on the same segment.
 */
const pubsubRow: Row = {
  name: 'shm+pubsub',
  async pair(codec, defer, options = {}, senderCodec) {
    const url = `shm+pubsub:/${uniqueName('ps')}`;
    defer(() => unlink(url));
    const rx = await tracked(defer, open(url, codec, { ...options, create: true, capacity: 4, access: 'receive' }));
    const tx = await tracked(defer, open(url, sender(codec, senderCodec), { ...options, access: 'send' }));
    return { tx, rx, url };
  },
  foreignWriter: { refused: 'the segment records its schema fingerprint: a foreign codec is refused at open' },
  createdMode: (pair) => statSync(`/dev/shm${pair.url.slice('shm+pubsub:'.length)}`).mode & 0o7777,
  create(defer, options) {
    const url = `shm+pubsub:/${uniqueName('ps')}`;
    defer(() => unlink(url));
    return tracked(defer, open(url, Rec, { create: true, access: 'receive', ...options }));
  },
  priorities: { refused: 'a pub/sub slot carries no priority' },
  backpressure: true,
  endOfStream: { refused: 'a named object has no end: closing one end leaves the object open for others' },
  listener: { refused: 'opened by name: there is nothing to connect or accept' },
  peerWait: { refused: 'open never waits: the segment exists (it opens) or not (ENOENT at once)' },
  peerGone: {
    refused:
      'publish/subscribe has no peer to lose: with no subscriber a publisher never waits, and what it publishes stays in the buffer as history',
  },
  exclusive: true,
};

/** Every transport under test. */
export const rows: readonly Row[] = [
  namedRow('mq', {}),
  namedRow('shm', {
    foreignWriter: { refused: 'the ring records its schema fingerprint: a foreign codec is refused at open' },
  }),
  datagramRow('unix+dgram'),
  connectedRow('unix+seqpacket'),
  connectedRow('unix+stream'),
  {
    name: 'fifo',
    async pair(codec, defer, options = {}, senderCodec) {
      const url = `fifo:${join(tmpdir(), uniqueName('fifo'))}`;
      defer(() => unlink(url));
      const [rx, tx] = await Promise.all([
        tracked(defer, open(url, codec, { ...options, create: true, access: 'receive' })),
        tracked(defer, open(url, sender(codec, senderCodec), { ...options, create: true, access: 'send' })),
      ]);
      return { tx, rx, url };
    },
    foreignWriter: true,
    createdMode: fileMode(''),
    create(defer, options) {
      const url = `fifo:${join(tmpdir(), uniqueName('fifo'))}`;
      defer(() => unlink(url));
      return tracked(defer, open(url, Rec, { create: true, access: 'receive', ...options }));
    },
    priorities: { refused: 'a byte stream carries no priorities' },
    backpressure: true,
    endOfStream: true,
    listener: { refused: 'opened by name: there is nothing to connect or accept' },
    peerWait(defer, options) {
      const url = `fifo:${join(tmpdir(), uniqueName('fifo'))}`;
      defer(() => unlink(url));
      return tracked(defer, open(url, Rec, { ...options, create: true, access: 'send' }));
    },
    peerGone: { error: 'ChannelClosedError', why: 'EPIPE: no reader is left' },
    exclusive: true,
  },
  datagramRow('udp'),
  connectedRow('tcp'),
  {
    name: 'sysv',
    async pair(codec, defer, options = {}, senderCodec) {
      // Removed by the id open returns (never by a key someone else may own); registered before it exists.
      let created: string | undefined;
      defer(() => created !== undefined && unlink(created));
      const rx = await tracked(defer, open('sysv:private', codec, { ...options, create: true }));
      created = rx.url;
      const tx = await tracked(defer, open(rx.url, sender(codec, senderCodec), options));
      return { tx, rx, url: rx.url };
    },
    foreignWriter: true,
    createdMode: (pair) => pair.rx.info().mode as number,
    async create(defer, options) {
      let created: string | undefined;
      defer(() => created !== undefined && unlink(created));
      const channel = await tracked(defer, open('sysv:private', Rec, { create: true, ...options }));
      created = channel.url;
      return channel;
    },
    // The message type is the priority: [1, 2^53).
    priorities: { limit: 2 ** 53 },
    backpressure: true,
    endOfStream: { refused: 'a named object has no end: closing one end leaves the queue open for others' },
    listener: { refused: 'opened by name: there is nothing to connect or accept' },
    peerWait: { refused: 'open never waits: the queue exists (it opens) or not (ENOENT at once)' },
    peerGone: { error: 'TimeoutError', why: 'the queue outlives its ends: a later receiver may drain it' },
    exclusive: true,
  },
  natsRow,
  pubsubRow,
];

/** The row of transport `name` (for child processes that take a row name on the command line). */
export function row(name: string): Row {
  const found = rows.find((r) => r.name === name);
  if (found === undefined) throw new Error(`no conformance row ${name}`);
  return found;
}
