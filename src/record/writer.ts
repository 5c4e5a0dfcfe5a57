/**
 * The MCAP writer of recordings. Records other than messages (header, schemas, channels, metadata,
 * chunks, summary, footer) are framed by @mcap/core's McapRecordBuilder; the message records of a chunk
 * are written here, a batch at a time, straight into one reused buffer (their JSON by json-bytes.ts),
 * because McapWriter.addMessage costs about 5 µs a message (a bigint pair per index entry, a copy of the
 * chunk per CRC, CRC-32 in JavaScript), which is slower than the channels it records. CRCs here are
 * zlib's (native). Files are read back by @mcap/core's readers in the tests, never by this code.
 */
import { crc32 } from 'node:zlib';
import type { McapRecordBuilder, McapTypes } from '@mcap/core';
import type { Message } from '../channels/index.js';
import type { RecordingFile } from './file.js';
import type { EnvelopeWriter } from './json-bytes.js';

/** MCAP opcodes written here directly. */
const OP_MESSAGE = 0x05;
const OP_MESSAGE_INDEX = 0x07;
/** opcode, record length, channel id, sequence, log time, publish time. */
const MESSAGE_HEADER = 1 + 8 + 2 + 4 + 8 + 8;

type Compress = (data: Uint8Array) => { compression: string; compressedData: Uint8Array };

interface ChannelState {
  readonly id: number;
  messages: bigint;
  /** This chunk's message index entries (log time, offset in the chunk), 16 bytes each. */
  index: Buffer;
  indexView: DataView;
  indexLength: number;
}

const viewOf = (bytes: Uint8Array): DataView => new DataView(bytes.buffer, bytes.byteOffset, bytes.length);

/** Writes one MCAP file: `start`, schemas/channels/metadata, messages in any number, then `end`. */
export class McapFileWriter {
  readonly #file: RecordingFile;
  readonly #builder: McapRecordBuilder;
  readonly #chunkSize: number;
  readonly #compress: Compress | undefined;
  #chunk: Buffer;
  #chunkView: DataView;
  #chunkLength = 0;
  #chunkStart = 0n;
  #chunkEnd = 0n;
  #chunkMessages = 0;
  readonly #schemas: McapTypes.Schema[] = [];
  readonly #channels: McapTypes.Channel[] = [];
  readonly #states = new Map<number, ChannelState>();
  readonly #chunkIndexes: McapTypes.ChunkIndex[] = [];
  readonly #metadataIndexes: McapTypes.MetadataIndex[] = [];
  #messageCount = 0n;
  #start: bigint | undefined;
  #end = 0n;
  /** The log time of the batch being written, as 8 little-endian bytes (a batch shares one). */
  readonly #time = new DataView(new ArrayBuffer(8));
  /**
   * The chunk write in flight: the next chunk is built while the file takes this one (awaiting each
   * write left the recorder idle for the disk). Awaited before any other write, so writes stay in order.
   */
  #pending: Promise<void> = Promise.resolve();
  /** Bytes handed to the file so far, the one in flight included: where the next record starts. */
  #offset = 0n;

  private constructor(file: RecordingFile, builder: McapRecordBuilder, chunkSize: number, compress?: Compress) {
    this.#file = file;
    this.#builder = builder;
    this.#chunkSize = chunkSize;
    this.#compress = compress;
    this.#chunk = Buffer.allocUnsafe(chunkSize + 64 * 1024);
    this.#chunkView = viewOf(this.#chunk);
  }

  /** Writes the magic and header into `file`. */
  static async start(
    file: RecordingFile,
    options: { library: string; chunkSize: number; compress?: Compress | undefined },
  ): Promise<McapFileWriter> {
    const { McapRecordBuilder } = await import('@mcap/core');
    const writer = new McapFileWriter(file, new McapRecordBuilder(), options.chunkSize, options.compress);
    writer.#builder.writeMagic();
    writer.#builder.writeHeader({ profile: '', library: options.library });
    await writer.#flushBuilder();
    return writer;
  }

  async #flushBuilder(): Promise<void> {
    const bytes = this.#builder.buffer;
    this.#builder.reset();
    await this.#write(bytes);
  }

  /** Writes after the write in flight (if any). */
  async #write(bytes: Uint8Array): Promise<void> {
    await this.#pending;
    this.#offset += BigInt(bytes.length);
    await this.#file.write(bytes);
  }

  /** Adds a schema; returns its id (1, 2, ...). */
  async addSchema(schema: Omit<McapTypes.Schema, 'id'>): Promise<number> {
    const record = { ...schema, id: this.#schemas.length + 1 };
    this.#schemas.push(record);
    this.#builder.writeSchema(record);
    await this.#flushBuilder();
    return record.id;
  }

  /** Adds a channel; returns its id (0, 1, ...). */
  async addChannel(channel: Omit<McapTypes.Channel, 'id'>): Promise<number> {
    const record = { ...channel, id: this.#channels.length };
    this.#channels.push(record);
    const index = Buffer.allocUnsafe(16 * 1024);
    this.#states.set(record.id, { id: record.id, messages: 0n, index, indexView: viewOf(index), indexLength: 0 });
    this.#builder.writeChannel(record);
    await this.#flushBuilder();
    return record.id;
  }

  /** Adds a metadata record (before any message: the chunk in progress is not interrupted). */
  async addMetadata(metadata: McapTypes.Metadata): Promise<void> {
    const offset = this.#offset;
    const length = this.#builder.writeMetadata(metadata);
    this.#metadataIndexes.push({ offset, length, name: metadata.name });
    await this.#flushBuilder();
  }

  /**
   * Adds `messages` of one channel, all received at `logTime` and numbered from `sequence`: each one's
   * envelope JSON is written by `envelope` straight into the chunk, behind its record header. Resolves
   * with the JSON bytes written, once every message is in a chunk (waiting only when a chunk filled up).
   */
  async addMessages(
    channelId: number,
    sequence: number,
    logTime: bigint,
    messages: readonly Message<unknown>[],
    envelope: EnvelopeWriter,
  ): Promise<number> {
    const state = this.#states.get(channelId)!;
    this.#time.setBigUint64(0, logTime, true);
    let bytes = 0;
    for (let i = 0; i < messages.length; ) {
      const before = this.#chunkLength;
      const end = this.#fill(state, sequence + i, messages, i, envelope);
      bytes += this.#chunkLength - before - (end - i) * MESSAGE_HEADER;
      this.#counted(state, end - i, logTime);
      i = end;
      if (this.#chunkLength >= this.#chunkSize) await this.#finishChunk();
    }
    return bytes;
  }

  /**
   * Writes messages[from ..] into the chunk until the batch ends or the chunk is full; returns the index
   * of the first message not written. No bigint and no Buffer method per message (each cost more than
   * the message's JSON): the header's fields are DataView stores, the log time's halves made once a batch.
   */
  #fill(
    state: ChannelState,
    sequence: number,
    messages: readonly Message<unknown>[],
    from: number,
    envelope: EnvelopeWriter,
  ): number {
    const timeLo = this.#time.getUint32(0, true);
    const timeHi = this.#time.getUint32(4, true);
    const channelId = state.id;
    this.#reserveIndex(state, messages.length - from);
    const index = state.indexView;
    let indexAt = state.indexLength;
    let i = from;
    while (i < messages.length) {
      const message = messages[i]!;
      const at = this.#chunkLength;
      const room = MESSAGE_HEADER + envelope.bound(message);
      if (at + room > this.#chunk.length) this.#grow(at + room);
      const chunk = this.#chunk;
      const view = this.#chunkView;
      const end = envelope.put(chunk, at + MESSAGE_HEADER, message);
      // The bound is arithmetic over the schema; past the buffer a typed array would drop bytes silently.
      if (end > chunk.length) throw new Error(`message JSON overran its bound (${room} bytes)`);
      view.setUint8(at, OP_MESSAGE);
      view.setUint32(at + 1, end - at - 9, true); // the record's length (u64): all after opcode and length
      view.setUint32(at + 5, 0, true);
      view.setUint16(at + 9, channelId, true);
      view.setUint32(at + 11, sequence + (i - from), true);
      view.setUint32(at + 15, timeLo, true); // log time
      view.setUint32(at + 19, timeHi, true);
      view.setUint32(at + 23, timeLo, true); // publish time
      view.setUint32(at + 27, timeHi, true);
      // The message index entry: log time, then the record's offset in the chunk (u64; chunks stay < 4 GiB).
      index.setUint32(indexAt, timeLo, true);
      index.setUint32(indexAt + 4, timeHi, true);
      index.setUint32(indexAt + 8, at, true);
      index.setUint32(indexAt + 12, 0, true);
      indexAt += 16;
      this.#chunkLength = end;
      i++;
      if (end >= this.#chunkSize) break;
    }
    state.indexLength = indexAt;
    return i;
  }

  /** Room in the channel's message index of this chunk for `count` more entries. */
  #reserveIndex(state: ChannelState, count: number): void {
    const needed = state.indexLength + 16 * count;
    if (needed <= state.index.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(needed, state.index.length * 2));
    state.index.copy(bigger, 0, 0, state.indexLength);
    state.index = bigger;
    state.indexView = viewOf(bigger);
  }

  /** Counts `count` messages just written at `logTime` into the chunk's, the channel's and the file's figures. */
  #counted(state: ChannelState, count: number, logTime: bigint): void {
    if (count === 0) return;
    state.messages += BigInt(count);
    if (this.#chunkMessages === 0 || logTime < this.#chunkStart) this.#chunkStart = logTime;
    if (this.#chunkMessages === 0 || logTime > this.#chunkEnd) this.#chunkEnd = logTime;
    this.#chunkMessages += count;
    this.#messageCount += BigInt(count);
    if (this.#start === undefined || logTime < this.#start) this.#start = logTime;
    if (logTime > this.#end) this.#end = logTime;
  }

  #grow(needed: number): void {
    const bigger = Buffer.allocUnsafe(Math.max(needed, this.#chunk.length * 2));
    this.#chunk.copy(bigger, 0, 0, this.#chunkLength);
    this.#chunk = bigger;
    this.#chunkView = viewOf(bigger);
  }

  /** Compresses and writes the chunk in progress, then its message indexes. */
  async #finishChunk(): Promise<void> {
    if (this.#chunkMessages === 0) return;
    const records = this.#chunk.subarray(0, this.#chunkLength);
    const compressed = this.#compress?.(records) ?? { compression: '', compressedData: records };
    const chunkStartOffset = this.#offset;
    const chunkLength = this.#builder.writeChunk({
      messageStartTime: this.#chunkStart,
      messageEndTime: this.#chunkEnd,
      uncompressedSize: BigInt(records.length),
      uncompressedCrc: crc32(records),
      compression: compressed.compression,
      records: compressed.compressedData,
    });
    const chunkBytes = this.#builder.buffer;
    this.#builder.reset();
    // Message indexes: one record per channel with messages in this chunk, laid out by hand (see above).
    const indexStart = chunkStartOffset + chunkLength;
    const offsets = new Map<number, bigint>();
    const parts: Buffer[] = [];
    let indexLength = 0;
    for (const state of this.#states.values()) {
      if (state.indexLength === 0) continue;
      const head = Buffer.allocUnsafe(1 + 8 + 2 + 4);
      head[0] = OP_MESSAGE_INDEX;
      head.writeBigUInt64LE(BigInt(2 + 4 + state.indexLength), 1);
      head.writeUInt16LE(state.id, 9);
      head.writeUInt32LE(state.indexLength, 11);
      offsets.set(state.id, indexStart + BigInt(indexLength));
      parts.push(head, state.index.subarray(0, state.indexLength));
      indexLength += head.length + state.indexLength;
      state.indexLength = 0;
    }
    this.#chunkIndexes.push({
      messageStartTime: this.#chunkStart,
      messageEndTime: this.#chunkEnd,
      chunkStartOffset,
      chunkLength,
      messageIndexOffsets: offsets,
      messageIndexLength: BigInt(indexLength),
      compression: compressed.compression,
      compressedSize: BigInt(compressed.compressedData.length),
      uncompressedSize: BigInt(records.length),
    });
    this.#chunkLength = 0;
    this.#chunkMessages = 0;
    const bytes = Buffer.concat([chunkBytes, ...parts]);
    await this.#pending;
    this.#offset += BigInt(bytes.length);
    this.#pending = this.#file.write(bytes);
    // Handled here so a failure is not reported as unhandled before the next write awaits it.
    this.#pending.catch(() => undefined);
  }

  /** Writes the last chunk, DataEnd, the summary (schemas, channels, statistics, indexes), and the footer. */
  async end(): Promise<void> {
    await this.#finishChunk();
    await this.#pending;
    this.#builder.writeDataEnd({ dataSectionCrc: 0 });
    await this.#flushBuilder();
    const summaryStart = this.#offset;
    const groups: McapTypes.SummaryOffset[] = [];
    const group = (opcode: number, write: () => void): void => {
      const before = this.#builder.length;
      write();
      const length = this.#builder.length - before;
      if (length > 0)
        groups.push({ groupOpcode: opcode, groupStart: summaryStart + BigInt(before), groupLength: BigInt(length) });
    };
    const { Opcode } = await import('@mcap/core');
    group(Opcode.SCHEMA, () => {
      for (const schema of this.#schemas) this.#builder.writeSchema(schema);
    });
    group(Opcode.CHANNEL, () => {
      for (const channel of this.#channels) this.#builder.writeChannel(channel);
    });
    group(Opcode.STATISTICS, () =>
      this.#builder.writeStatistics({
        messageCount: this.#messageCount,
        schemaCount: this.#schemas.length,
        channelCount: this.#channels.length,
        attachmentCount: 0,
        metadataCount: this.#metadataIndexes.length,
        chunkCount: this.#chunkIndexes.length,
        messageStartTime: this.#start ?? 0n,
        messageEndTime: this.#end,
        channelMessageCounts: new Map([...this.#states.values()].map((s) => [s.id, s.messages])),
      }),
    );
    group(Opcode.CHUNK_INDEX, () => {
      for (const index of this.#chunkIndexes) this.#builder.writeChunkIndex(index);
    });
    group(Opcode.METADATA_INDEX, () => {
      for (const index of this.#metadataIndexes) this.#builder.writeMetadataIndex(index);
    });
    const summaryOffsetStart = summaryStart + BigInt(this.#builder.length);
    for (const offset of groups) this.#builder.writeSummaryOffset(offset);
    const beforeFooter = this.#builder.length;
    this.#builder.writeFooter({ summaryStart, summaryOffsetStart, summaryCrc: 0 });
    const bytes = Buffer.from(this.#builder.buffer);
    this.#builder.reset();
    // The summary CRC covers the summary and the footer up to (not including) the CRC field itself.
    const footerCrcAt = beforeFooter + 1 + 8 + 8 + 8;
    bytes.writeUInt32LE(crc32(bytes.subarray(0, footerCrcAt)), footerCrcAt);
    const magic = this.#builder;
    magic.writeMagic();
    const tail = Buffer.concat([bytes, Buffer.from(magic.buffer)]);
    magic.reset();
    await this.#write(tail);
  }
}
