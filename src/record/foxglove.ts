/**
 * `serveFoxglove(channels)`: a live Foxglove WebSocket server (the ws-protocol of Foxglove Studio) that
 * publishes every channel's messages as they arrive, each as a topic with its JSON Schema and JSON
 * messages (the spelling of recordings), so Foxglove plots samples live. Loaded on first use: `ws` and
 * `@foxglove/ws-protocol` stay out of `import 'typed-ipc'`.
 */
import type { AddressInfo } from 'node:net';
import type { Channel, Message } from '../channels/index.js';
import { jsonSchemaOf, type MessageCodec } from '../codecs/index.js';
import { ValidationError } from '../errors.js';
import { envelopeSchema, MESSAGE_ENCODING, SCHEMA_ENCODING } from './format.js';
import { envelopeWriter } from './json-bytes.js';
import type { RecordSource } from './record.js';

/** Options of `serveFoxglove`. */
export interface FoxgloveOptions {
  /** TCP port (default 8765, Foxglove's; 0: the kernel picks one, read it from `port`). */
  readonly port?: number;
  /** Address to listen on (default 127.0.0.1: this machine only; `0.0.0.0` opens it to the network). */
  readonly host?: string;
  /** The server's name as Foxglove shows it. */
  readonly name?: string;
  /** Closes the server (and stops receiving) when aborted. */
  readonly signal?: AbortSignal;
}

/** A running Foxglove server. */
export interface FoxgloveLive {
  /** `ws://host:port`, what Foxglove's "Open connection" takes. */
  readonly url: string;
  readonly port: number;
  /** Messages received from the channels so far (each sent to every client subscribed to its topic). */
  messages(): number;
  /** Stops receiving and closes the server; resolves once closed. Idempotent. */
  close(): Promise<void>;
  /** Settles when the server closed: by `close()`, the signal, or every channel ending (then resolves). */
  readonly done: Promise<void>;
}

/** `serveFoxglove` of the package (record/index.ts documents it), loaded on its first call. */
export async function serveFoxglove(
  channels: Channel<unknown> | readonly (Channel<unknown> | RecordSource)[],
  options: FoxgloveOptions = {},
): Promise<FoxgloveLive> {
  const sources = (Array.isArray(channels) ? channels : [channels]).map((c: Channel<unknown> | RecordSource) =>
    'send' in c ? { channel: c } : c,
  );
  if (sources.length === 0) throw new ValidationError('channels', 'at least one channel to serve', 'none');
  const port = options.port ?? 8765;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ValidationError('port', 'an integer in [0, 65535]', String(port));
  }
  const [{ FoxgloveServer }, { WebSocketServer }] = await Promise.all([import('@foxglove/ws-protocol'), import('ws')]);
  const server = new FoxgloveServer({ name: options.name ?? 'typed-ipc' });
  const topics = sources.map((source) => {
    const codec = source.channel.codec as MessageCodec<unknown>;
    const id = server.addChannel({
      topic: source.topic ?? source.channel.url,
      encoding: MESSAGE_ENCODING,
      schemaName: codec.name,
      schema: JSON.stringify(envelopeSchema(jsonSchemaOf(codec))),
      schemaEncoding: SCHEMA_ENCODING,
    });
    return { channel: source.channel, id, envelope: envelopeWriter(codec) };
  });
  const wss = new WebSocketServer({
    host: options.host ?? '127.0.0.1',
    port,
    handleProtocols: (protocols) =>
      protocols.has(FoxgloveServer.SUPPORTED_SUBPROTOCOL) ? FoxgloveServer.SUPPORTED_SUBPROTOCOL : false,
  });
  await new Promise<void>((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  let connections = 0;
  wss.on('connection', (ws, request) => {
    connections += 1;
    // ws's send has extra overloads the protocol's IWebSocket does not declare; the calls it makes are the same.
    server.handleConnection(
      ws as unknown as Parameters<typeof server.handleConnection>[0],
      `${request.socket.remoteAddress}:${request.socket.remotePort} #${connections}`,
    );
  });
  const stop = new AbortController();
  let received = 0;
  const epoch = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
  const pump = async (topic: (typeof topics)[number]): Promise<void> => {
    while (!stop.signal.aborted) {
      let batch: Message<unknown>[];
      try {
        batch = await topic.channel.receiveMany(1024, { signal: stop.signal });
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        if (code === 'ERR_IPC_DECODE') continue;
        if (code === 'ABORT_ERR' || code === 'ERR_IPC_CLOSED') return;
        throw error;
      }
      const time = epoch + process.hrtime.bigint();
      const { envelope } = topic;
      for (const message of batch) {
        const bytes = new Uint8Array(envelope.bound(message));
        server.sendMessage(topic.id, time, bytes.subarray(0, envelope.put(bytes, 0, message)));
      }
      received += batch.length;
    }
  };
  const address = wss.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      stop.abort();
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    })();
    return closing;
  };
  options.signal?.addEventListener('abort', () => void close(), { once: true });
  if (options.signal?.aborted) void close();
  const pumps = Promise.all(topics.map(pump));
  const done = pumps.then(
    () => close(),
    async (error: unknown) => {
      await close();
      throw error;
    },
  );
  done.catch(() => undefined);
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return { url: `ws://${host}:${address.port}`, port: address.port, messages: () => received, close, done };
}
