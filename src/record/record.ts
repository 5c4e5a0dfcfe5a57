/**
 * `record(channels, { path })`: every message of one or more channels into one MCAP file, each channel
 * its own MCAP channel. Messages are JSON (`{"value":{...},"priority":n,"from":"..."}`, 64-bit integers
 * as strings) described by an embedded JSON Schema, so Foxglove and the MCAP tools read the file without
 * typed-ipc; the typed-ipc schema (C header source, size, fingerprint) is in the file's metadata, so
 * `replay` can check a target against it.
 */
import type { Channel, Message } from '../channels/index.js';
import { cHeader, jsonSchemaOf, type MessageCodec } from '../codecs/index.js';
import { ValidationError } from '../errors.js';
import { type Compression, chunkCompressor } from './compression.js';
import { RecordingFile, writeFailure } from './file.js';
import { envelopeSchema, libraryName, MESSAGE_ENCODING, META, METADATA_NAME, SCHEMA_ENCODING } from './format.js';
import { type EnvelopeWriter, envelopeWriter } from './json-bytes.js';
import { McapFileWriter } from './writer.js';

/** A channel to record and the MCAP topic it is written under (default: the channel's URL). */
export interface RecordSource {
  readonly channel: Channel<unknown>;
  readonly topic?: string;
}

/** Options of `record`. */
export interface RecordOptions {
  /** The MCAP file to write; created with mode 0600, never replaced unless `overwrite`. */
  readonly path: string;
  /** Replace an existing file. */
  readonly overwrite?: boolean;
  /**
   * Stop after this many messages (over every channel); messages past it are left in the channels. With
   * several channels, messages that arrive on others at the same moment are recorded too (up to
   * channels - 1 past the count): a message once taken from a channel is never dropped.
   */
  readonly count?: number;
  /** Stop after this many milliseconds. */
  readonly durationMs?: number;
  /** Stop when aborted; the file is finished and valid. */
  readonly signal?: AbortSignal;
  /** Chunk compression: `zstd` (wasm, default), `lz4` (plain JavaScript) or `none`. */
  readonly compression?: Compression;
  /** Uncompressed bytes per chunk (default 1 MiB). */
  readonly chunkSize?: number;
  /** Messages taken from a channel at once (default 1024). */
  readonly batch?: number;
  /** Called about every `progressIntervalMs` (default 1000) and once at the end. */
  readonly onProgress?: (progress: RecordProgress) => void;
  readonly progressIntervalMs?: number;
}

/** How far a recording is. */
export interface RecordProgress {
  /** Messages recorded. */
  readonly messages: number;
  /** Bytes of JSON messages recorded (before compression). */
  readonly messageBytes: number;
  /** Bytes in the file so far (whole chunks; the open chunk is written when full and at the end). */
  readonly fileBytes: number;
  readonly elapsedMs: number;
  /** Messages per second since the start. */
  readonly rate: number;
  /** Messages that arrived but could not be decoded (consumed, counted, not recorded). */
  readonly decodeErrors: number;
  /** Milliseconds from the first message received to the last (the rate while messages flowed: messages / this). */
  readonly receiveSpanMs: number;
}

/** What a finished recording holds. */
export interface RecordSummary extends RecordProgress {
  readonly path: string;
  /** Why it ended: the count was reached, the duration passed, the signal aborted, or every channel ended. */
  readonly stoppedBy: 'count' | 'duration' | 'signal' | 'end';
  readonly channels: readonly { readonly topic: string; readonly url: string; readonly messages: number }[];
}

interface Topic {
  readonly source: RecordSource;
  readonly topic: string;
  readonly id: number;
  readonly envelope: EnvelopeWriter;
  messages: number;
  sequence: number;
}

/** `record` of the package (record/index.ts documents it), loaded on its first call. */
export async function record(
  channels: Channel<unknown> | readonly (Channel<unknown> | RecordSource)[],
  options: RecordOptions,
): Promise<RecordSummary> {
  const sources = (Array.isArray(channels) ? channels : [channels]).map((c: Channel<unknown> | RecordSource) =>
    'send' in c ? { channel: c } : c,
  );
  checkOptions(sources, options);
  const compress = await chunkCompressor(options.compression ?? 'zstd');
  const file = await RecordingFile.create(options.path, options.overwrite ? { overwrite: true } : {});
  const session = new Session(file, options);
  try {
    const writer = await McapFileWriter.start(file, {
      library: libraryName(),
      chunkSize: options.chunkSize ?? 1024 * 1024,
      compress,
    });
    session.writer = writer;
    const topics: Topic[] = [];
    for (const source of sources) topics.push(await register(writer, source));
    return await session.run(topics);
  } catch (error) {
    throw await session.fail(error);
  } finally {
    await file.close();
  }
}

function checkOptions(sources: readonly RecordSource[], options: RecordOptions): void {
  if (sources.length === 0) throw new ValidationError('channels', 'at least one channel to record', 'none');
  const positive = (name: string, value: number | undefined, integer = true): void => {
    if (value !== undefined && !((integer ? Number.isSafeInteger(value) : Number.isFinite(value)) && value > 0)) {
      throw new ValidationError(name, integer ? 'a positive integer' : 'a positive number', String(value));
    }
  };
  positive('count', options.count);
  positive('durationMs', options.durationMs, false);
  positive('chunkSize', options.chunkSize);
  positive('batch', options.batch);
  const topics = sources.map((s) => s.topic ?? s.channel.url);
  const twice = topics.find((t, i) => topics.indexOf(t) !== i);
  if (twice !== undefined) {
    throw new ValidationError('topic', 'one topic per channel', `${JSON.stringify(twice)} twice`, {
      message: `topic: ${JSON.stringify(twice)} is given to two channels; give each its own topic`,
    });
  }
}

async function register(writer: McapFileWriter, source: RecordSource): Promise<Topic> {
  const codec = source.channel.codec as MessageCodec<unknown>;
  const topic = source.topic ?? source.channel.url;
  const schemaId = await writer.addSchema({
    name: codec.name,
    encoding: SCHEMA_ENCODING,
    data: new TextEncoder().encode(JSON.stringify(envelopeSchema(jsonSchemaOf(codec)))),
  });
  const metadata = new Map([
    [META.url, source.channel.url],
    [META.schema, codec.name],
    [META.fingerprint, codec.fingerprint],
    [META.size, String(codec.size)],
    [META.fixedSize, String(codec.fixedSize)],
  ]);
  const id = await writer.addChannel({ topic, schemaId, messageEncoding: MESSAGE_ENCODING, metadata });
  const header = headerOf(codec);
  await writer.addMetadata({
    name: METADATA_NAME,
    metadata: new Map([
      [META.topic, topic],
      ...metadata,
      ...(header === undefined ? [] : [[META.cHeader, header] as const]),
    ]),
  });
  return { source, topic, id, envelope: envelopeWriter(codec), messages: 0, sequence: 0 };
}

/** The C header of a struct codec (the schema's source a C peer or `fromCHeader` reads), if it has one. */
function headerOf(codec: MessageCodec<unknown>): string | undefined {
  const kind = (codec as { kind?: unknown }).kind;
  if (kind !== 'struct' && kind !== 'union') return undefined;
  return cHeader(codec as unknown as Parameters<typeof cHeader>[0]);
}

/** One recording in progress: the sources' loops, the shared writer, the limits and the progress. */
class Session {
  /** Set once the file's header is written. */
  writer: McapFileWriter | undefined;
  readonly #file: RecordingFile;
  readonly #options: RecordOptions;
  readonly #stop = new AbortController();
  readonly #start = process.hrtime.bigint();
  /** Wall-clock nanoseconds at `#start`: log times are wall clock, measured on the monotonic clock. */
  readonly #epoch = BigInt(Date.now()) * 1_000_000n;
  #stoppedBy: RecordSummary['stoppedBy'] = 'end';
  #messages = 0;
  #messageBytes = 0;
  #decodeErrors = 0;
  /** Monotonic ns of the first and the last receive that brought messages. */
  #firstReceive: bigint | undefined;
  #lastReceive = 0n;
  /** Messages other sources have asked for and not yet received (so `count` is never overshot). */
  #reserved = 0;
  /** The writer takes one call at a time (McapWriter's rule): every write waits for the one before. */
  #lock: Promise<void> = Promise.resolve();

  constructor(file: RecordingFile, options: RecordOptions) {
    this.#file = file;
    this.#options = options;
  }

  progress(): RecordProgress {
    const elapsedMs = Number(process.hrtime.bigint() - this.#start) / 1e6;
    return {
      messages: this.#messages,
      messageBytes: this.#messageBytes,
      fileBytes: this.#file.bytes,
      elapsedMs,
      rate: elapsedMs > 0 ? (this.#messages * 1000) / elapsedMs : 0,
      decodeErrors: this.#decodeErrors,
      receiveSpanMs: this.#firstReceive === undefined ? 0 : Number(this.#lastReceive - this.#firstReceive) / 1e6,
    };
  }

  #halt(why: RecordSummary['stoppedBy']): void {
    if (this.#stop.signal.aborted) return;
    this.#stoppedBy = why;
    this.#stop.abort();
  }

  async run(topics: Topic[]): Promise<RecordSummary> {
    const { signal, durationMs, onProgress } = this.#options;
    const onAbort = (): void => this.#halt('signal');
    if (signal?.aborted) onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    const timer = durationMs === undefined ? undefined : setTimeout(() => this.#halt('duration'), durationMs);
    const ticker =
      onProgress === undefined
        ? undefined
        : setInterval(() => onProgress(this.progress()), this.#options.progressIntervalMs ?? 1000);
    try {
      // One source failing stops the others; the first failure is what the recording reports.
      const pumps = topics.map((topic) =>
        this.#pump(topic).catch((error: unknown) => {
          this.#halt(this.#stoppedBy);
          throw error;
        }),
      );
      const failed = (await Promise.allSettled(pumps)).find((r) => r.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
      await this.#lock;
      await this.writer!.end();
    } finally {
      clearTimeout(timer);
      clearInterval(ticker);
      signal?.removeEventListener('abort', onAbort);
      this.#halt(this.#stoppedBy);
    }
    const progress = this.progress();
    onProgress?.(progress);
    return {
      ...progress,
      path: this.#options.path,
      stoppedBy: this.#stoppedBy,
      channels: topics.map((t) => ({ topic: t.topic, url: t.source.channel.url, messages: t.messages })),
    };
  }

  /** Receives from one channel and writes what arrives, until the recording stops or the channel ends. */
  async #pump(topic: Topic): Promise<void> {
    const { channel } = topic.source;
    const batch = this.#options.batch ?? 1024;
    const { count } = this.#options;
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      // With a count, never take more than is left (what is taken is consumed): a source asks for what no
      // other source has asked for yet. When others hold all of it, it still waits for one message (so one
      // source waiting on an idle channel does not starve another), which with several channels may
      // record up to channels - 1 messages past the count, never dropping one already taken.
      let max = batch;
      if (count !== undefined) max = Math.max(1, Math.min(batch, count - this.#messages - this.#reserved));
      this.#reserved += max;
      let received: Message<unknown>[];
      try {
        received = await channel.receiveMany(max, { signal });
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        if (code === 'ERR_IPC_DECODE') {
          this.#decodeErrors += 1;
          continue;
        }
        if (code === 'ABORT_ERR' || code === 'ERR_IPC_CLOSED') return;
        throw error;
      } finally {
        this.#reserved -= max;
      }
      const now = process.hrtime.bigint();
      this.#firstReceive ??= now;
      this.#lastReceive = now;
      const logTime = this.#epoch + (now - this.#start);
      // Counted at once (the write follows in order), so the next ask of every source sees what is left.
      this.#messages += received.length;
      this.#lock = this.#lock.then(() => this.#write(topic, received, logTime));
      await this.#lock;
      if (count !== undefined && this.#messages >= count) this.#halt('count');
    }
  }

  async #write(topic: Topic, messages: readonly Message<unknown>[], logTime: bigint): Promise<void> {
    const bytes = await this.writer!.addMessages(topic.id, topic.sequence, logTime, messages, topic.envelope);
    topic.sequence += messages.length;
    topic.messages += messages.length;
    this.#messageBytes += bytes;
  }

  /** After an error: stops every source; a failed write leaves the file closed as a readable recording. */
  async fail(error: unknown): Promise<unknown> {
    this.#halt(this.#stoppedBy);
    if (this.#file.failure === undefined) return error;
    const kept = await this.#file.salvage();
    return writeFailure(this.#options.path, this.#file.failure, kept);
  }
}
