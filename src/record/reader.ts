/**
 * Reading a recording back: the MCAP stream reader over the file, so a file cut short (a recording that
 * was killed, or closed after a full disk) yields every whole record it holds. Shared by replay and plot.
 */
import { createReadStream } from 'node:fs';
import type { McapTypes } from '@mcap/core';
import { decompressHandlers } from './compression.js';
import { RecordingError } from './errors.js';
import { MESSAGE_ENCODING, META, METADATA_NAME } from './format.js';

/** A recorded channel, as its MCAP Channel and Schema records describe it. */
export interface RecordedChannel {
  readonly id: number;
  readonly topic: string;
  /** The URL it was recorded from. */
  readonly url: string | undefined;
  /** The typed-ipc schema's name, fingerprint and size, when recorded by typed-ipc. */
  readonly schema: string | undefined;
  readonly fingerprint: string | undefined;
  readonly size: number | undefined;
  readonly messageEncoding: string;
}

/** One recorded message with its channel. */
export interface RecordedMessage {
  readonly channel: RecordedChannel;
  /** Receive time, wall-clock nanoseconds. */
  readonly logTime: bigint;
  readonly sequence: number;
  /** The message record's data: JSON text for typed-ipc recordings. */
  readonly data: Uint8Array;
}

/** What a pass over a recording met besides messages. */
export interface RecordingContents {
  /** Channels met so far, by id. */
  readonly channels: Map<number, RecordedChannel>;
  /** Metadata records met so far. */
  readonly metadata: { readonly name: string; readonly metadata: ReadonlyMap<string, string> }[];
  /** False when the file ended before its footer (cut short): what was read is all it holds. */
  complete: boolean;
}

/** Reads the records of the MCAP file at `path` in file order; messages are yielded, the rest collected. */
export async function* readRecording(
  path: string,
  contents: RecordingContents = { channels: new Map(), metadata: [], complete: false },
): AsyncGenerator<RecordedMessage> {
  const { McapStreamReader } = await import('@mcap/core');
  const reader = new McapStreamReader({ decompressHandlers: await decompressHandlers() });
  const stream = createReadStream(path, { highWaterMark: 1 << 20 });
  try {
    for await (const chunk of stream) {
      try {
        reader.append(chunk as Buffer);
      } catch (error) {
        throw notMcap(path, error);
      }
      for (;;) {
        let record: McapTypes.TypedMcapRecord | undefined;
        try {
          record = reader.nextRecord();
        } catch (error) {
          throw notMcap(path, error);
        }
        if (record === undefined) break;
        if (record.type === 'Channel') {
          contents.channels.set(record.id, channelOf(record));
        } else if (record.type === 'Metadata') {
          contents.metadata.push({ name: record.name, metadata: record.metadata });
        } else if (record.type === 'Message') {
          const channel = contents.channels.get(record.channelId);
          if (channel === undefined) throw notMcap(path, new Error(`a message of unknown channel ${record.channelId}`));
          yield { channel, logTime: record.logTime, sequence: record.sequence, data: record.data };
        }
      }
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'EACCES') {
      throw new RecordingError(path, `cannot read the recording ${path}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    throw error;
  } finally {
    stream.destroy();
  }
  contents.complete = reader.done();
}

function channelOf(record: McapTypes.Channel): RecordedChannel {
  const size = record.metadata.get(META.size);
  return {
    id: record.id,
    topic: record.topic,
    url: record.metadata.get(META.url),
    schema: record.metadata.get(META.schema),
    fingerprint: record.metadata.get(META.fingerprint),
    size: size === undefined ? undefined : Number(size),
    messageEncoding: record.messageEncoding,
  };
}

function notMcap(path: string, error: unknown): RecordingError {
  return new RecordingError(
    path,
    `${path} is not a readable MCAP recording: ${(error as Error).message}; give a file written by typed-ipc record (or another MCAP writer)`,
    { cause: error },
  );
}

/** The parsed envelope of a typed-ipc message: the value's JSON, its priority and sender. */
export interface Envelope {
  readonly value: unknown;
  readonly priority: number;
  readonly from?: string;
}

/** Parses a recorded message's JSON envelope; a RecordingError names the topic and sequence otherwise. */
export function envelopeOf(path: string, message: RecordedMessage): Envelope {
  if (message.channel.messageEncoding !== MESSAGE_ENCODING) {
    throw new RecordingError(
      path,
      `${path}: channel ${JSON.stringify(message.channel.topic)} holds ${JSON.stringify(message.channel.messageEncoding)} messages; typed-ipc reads "json" (as typed-ipc record writes them)`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(message.data.buffer, message.data.byteOffset, message.data.length).toString());
  } catch (error) {
    throw new RecordingError(path, `${path}: message ${message.sequence} of ${message.channel.topic} is not JSON`, {
      cause: error,
    });
  }
  const envelope = parsed as Partial<Envelope> | null;
  if (typeof envelope !== 'object' || envelope === null || !('value' in envelope)) {
    throw new RecordingError(
      path,
      `${path}: message ${message.sequence} of ${message.channel.topic} is not {"value":...,"priority":n}`,
    );
  }
  const priority = envelope.priority ?? 0;
  return envelope.from === undefined
    ? { value: envelope.value, priority }
    : { value: envelope.value, priority, from: envelope.from };
}

/** A recorded channel with the typed-ipc schema source the file's metadata holds for it. */
export interface RecordedSchema {
  readonly channel: RecordedChannel;
  /** The schema's C header (cHeader output), which `fromCHeader` turns back into the codec. */
  readonly cHeader: string | undefined;
}

/**
 * The channels of a recording and their schemas, read from the records before its first message (where
 * typed-ipc writes them), without reading the messages.
 */
export async function recordedSchemas(path: string): Promise<RecordedSchema[]> {
  const contents: RecordingContents = { channels: new Map(), metadata: [], complete: false };
  for await (const _ of readRecording(path, contents)) break;
  return [...contents.channels.values()].map((channel) => {
    const record = contents.metadata.find(
      (m) => m.name === METADATA_NAME && m.metadata.get(META.topic) === channel.topic,
    );
    return { channel, cHeader: record?.metadata.get(META.cHeader) };
  });
}
