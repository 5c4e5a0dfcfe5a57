import type { MessageCodec } from '../codecs/codec.js';

/**
 * Encoded records on their way to the kernel (`Outgoing`): how the base lays out the record of one
 * `send` or the batch of one `sendMany` for a transport's `writeRecords`, and the loop that hands
 * them to it until it has taken all or nothing more.
 */

/**
 * Encoded records on their way to the kernel: the record of one `send`, or the batch of one
 * `sendMany`, as the transport frames them on the wire (see `encodeRecord`), back to back.
 */
export interface Outgoing {
  bytes: Uint8Array;
  /** Records in `bytes`. */
  count: number;
  /** Where record i ends in `bytes`; undefined when every record is `stride` bytes. */
  ends: readonly number[] | undefined;
  stride: number;
  priority: number;
  /** Records wholly written so far: the base advances it by what `writeRecords` returns. */
  sent: number;
  /**
   * Bytes of `bytes` written so far. A transport that may take part of a record (a byte stream)
   * advances it past the start of record `sent`; the base keeps it at least at that start.
   */
  offset: number;
}

/** Where record `index` of `out` ends in its bytes. */
export function recordEnd(out: Outgoing, index: number): number {
  return out.ends === undefined ? (index + 1) * out.stride : (out.ends[index] as number);
}

/** Where record `index` of `out` starts in its bytes. */
export function recordStart(out: Outgoing, index: number): number {
  return index === 0 ? 0 : recordEnd(out, index - 1);
}

/** Record `index` of `out` (the bytes themselves, without a copy, when it is the only one). */
export function recordAt(out: Outgoing, index: number): Uint8Array {
  const end = recordEnd(out, index);
  if (index === 0 && end === out.bytes.length) return out.bytes;
  return out.bytes.subarray(recordStart(out, index), end);
}

/**
 * Hands `out` to `write` (a transport's writeRecords) until all of it is written (true) or the
 * kernel takes nothing more now (false). Advances `out.sent`, and `out.offset` to at least the start
 * of the first record not wholly written.
 */
export function writeAll(out: Outgoing, write: (out: Outgoing) => number): boolean {
  for (;;) {
    const n = write(out);
    out.sent += n;
    if (out.sent === out.count) return true;
    const start = recordStart(out, out.sent);
    if (out.offset < start) out.offset = start;
    if (n === 0) return false;
  }
}

/**
 * A batch buffer larger than this is dropped after use rather than kept for the next sendMany. Above
 * the 1 MiB a socket batch of 256 4-KiB records takes plus its framing (a stream's length prefixes):
 * reallocating and zero-filling the usual batch per call cost a third of 4 KiB batched throughput.
 */
const MAX_KEPT_BATCH = 2 * 1024 * 1024;

/**
 * How a channel encodes one value as one record (framing included) at `at` in `into`; returns its
 * length. Only variable-size records are framed: a fixed-size one is the codec's bytes as they are.
 */
export interface RecordEncoder<T> {
  encodeRecord(value: T, into: Uint8Array, at: number): number;
}

/**
 * The reused buffers of a channel's sends: one Outgoing for the record of `send` (no allocation
 * per send) and one batch buffer for `sendMany`. What they hold is valid until the next send: the
 * send queue copies what has to wait.
 */
export class OutgoingBuffers<T> {
  readonly #one: Outgoing = {
    bytes: new Uint8Array(0),
    count: 1,
    ends: undefined,
    stride: 0,
    priority: 0,
    sent: 0,
    offset: 0,
  };
  #batch: Uint8Array = new Uint8Array(0);

  /** The reused Outgoing of one record. */
  single(bytes: Uint8Array, priority: number): Outgoing {
    const one = this.#one;
    one.bytes = bytes;
    one.stride = bytes.length;
    one.priority = priority;
    one.sent = 0;
    one.offset = 0;
    return one;
  }

  /**
   * Encodes a batch of a fixed-size codec into the reused batch buffer: the codec's records as they
   * are, back to back. Encoding the whole batch first validates it: a bad value anywhere throws
   * before anything is sent.
   */
  fixed(values: readonly T[], priority: number, codec: MessageCodec<T>): Outgoing {
    const count = values.length;
    const bytes = this.#room(count * codec.size, 0);
    let offset = 0;
    // Room for the whole batch is there already: the loop is the codec's calls and nothing else.
    // The codec itself, not the channel's encodeRecord: a new sender process sends most of its first
    // 200 000 records before V8 has optimised this loop, and there each call level costs (fifo 24 B
    // batched from a new sender: 2.5 M/s through encodeRecord, 2.9 M/s so).
    for (let i = 0; i < count; i++) offset += codec.encodeInto(values[i] as T, bytes, offset);
    return {
      bytes: bytes.subarray(0, offset),
      count,
      ends: undefined,
      stride: codec.size,
      priority,
      sent: 0,
      offset: 0,
    };
  }

  /**
   * Encodes a batch of a variable-size codec into the reused batch buffer through the channel's
   * framing (`encoder`; records of at most `frame` bytes each), with record ends. A bad value
   * anywhere throws before anything is sent.
   */
  framed(values: readonly T[], priority: number, frame: number, encoder: RecordEncoder<T>): Outgoing {
    const count = values.length;
    let bytes = this.#room(Math.min(count, 64) * frame, 0);
    let offset = 0;
    const ends: number[] = [];
    for (let i = 0; i < count; i++) {
      if (offset + frame > bytes.length) bytes = this.#room(offset + frame, offset);
      offset += encoder.encodeRecord(values[i] as T, bytes, offset);
      ends.push(offset);
    }
    return { bytes: bytes.subarray(0, offset), count, ends, stride: 0, priority, sent: 0, offset: 0 };
  }

  /** After a sendMany: a huge batch buffer is not kept for the channel's life. */
  trim(): void {
    if (this.#batch.length > MAX_KEPT_BATCH) this.#batch = new Uint8Array(0);
  }

  /**
   * The batch `out` (from `many`) has to wait in the send queue: the queue keeps its bytes rather
   * than a copy (a 1 MiB copy and allocation per waiting batch was the cost of a batched send that
   * finds the kernel full, the usual case), so the next `many` encodes into another buffer. Call
   * `giveBack` when the queue is done with it.
   */
  handOver(out: Outgoing): void {
    if (out.bytes.buffer === this.#batch.buffer) this.#batch = new Uint8Array(0);
  }

  /** A handed-over batch's bytes are written (or withdrawn): its buffer serves the next `many` again. */
  giveBack(bytes: Uint8Array): void {
    const buffer = bytes.buffer;
    if (buffer.byteLength > this.#batch.length && buffer.byteLength <= MAX_KEPT_BATCH) {
      this.#batch = new Uint8Array(buffer);
    }
  }

  /** The batch buffer with room for `size` bytes, keeping its first `keep` bytes when it grows. */
  #room(size: number, keep: number): Uint8Array {
    if (this.#batch.length < size) {
      const grown = new Uint8Array(Math.max(size, this.#batch.length * 2));
      grown.set(this.#batch.subarray(0, keep));
      this.#batch = grown;
    }
    return this.#batch;
  }
}
