/** Reading recordings in the tests with @mcap/core's own readers (never with typed-ipc's writer code). */
import { open as openFile } from 'node:fs/promises';
import zstd from '@foxglove/wasm-zstd';
import { McapIndexedReader, McapStreamReader, type McapTypes } from '@mcap/core';
import { FileHandleReadable } from '@mcap/nodejs';
import lz4 from 'lz4js';

const handlers = {
  zstd: (buffer: Uint8Array, size: bigint) => zstd.decompress(buffer, Number(size)),
  lz4: (buffer: Uint8Array, size: bigint) => lz4.decompress(buffer, Number(size)),
};

/** A recording as the indexed reader sees it (summary, CRCs checked): channels, schemas, metadata, messages. */
export interface IndexedRecording {
  readonly channels: McapTypes.Channel[];
  readonly schemas: McapTypes.Schema[];
  readonly metadata: McapTypes.Metadata[];
  readonly messages: McapTypes.Message[];
  readonly statistics: McapTypes.Statistics | undefined;
  readonly chunks: number;
}

/** Reads `path` with McapIndexedReader (which needs a whole file: summary and footer). */
export async function readIndexed(path: string): Promise<IndexedRecording> {
  await zstd.isLoaded;
  const handle = await openFile(path);
  try {
    const reader = await McapIndexedReader.Initialize({
      readable: new FileHandleReadable(handle),
      decompressHandlers: handlers,
    });
    const messages: McapTypes.Message[] = [];
    for await (const message of reader.readMessages()) messages.push(message);
    const metadata: McapTypes.Metadata[] = [];
    for await (const record of reader.readMetadata()) metadata.push(record);
    return {
      channels: [...reader.channelsById.values()],
      schemas: [...reader.schemasById.values()],
      metadata,
      messages,
      statistics: reader.statistics,
      chunks: reader.chunkIndexes.length,
    };
  } finally {
    await handle.close();
  }
}

/** Reads `path` with McapStreamReader: the records a file cut short still holds, and whether it ended whole. */
export async function readStream(path: string): Promise<{ messages: McapTypes.Message[]; done: boolean }> {
  await zstd.isLoaded;
  const { readFile } = await import('node:fs/promises');
  const reader = new McapStreamReader({ decompressHandlers: handlers });
  reader.append(await readFile(path));
  const messages: McapTypes.Message[] = [];
  for (let record = reader.nextRecord(); record !== undefined; record = reader.nextRecord()) {
    if (record.type === 'Message') messages.push(record);
  }
  return { messages, done: reader.done() };
}

/** A message's JSON envelope. */
export function json(message: McapTypes.Message): { value: Record<string, unknown>; priority: number; from?: string } {
  return JSON.parse(Buffer.from(message.data).toString());
}
