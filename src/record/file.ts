/**
 * The file a recording is written to: McapWriter's IWritable over a file descriptor that remembers how
 * far the file is whole, so that a failed write (a full disk, RLIMIT_FSIZE) leaves a readable recording:
 * the file is cut back to the end of the last whole write and closed with an MCAP DataEnd and Footer.
 */
import { type FileHandle, open } from 'node:fs/promises';
import type { IWritable } from '@mcap/core';
import { RecordingError } from './errors.js';

/** An MCAP output file. */
export class RecordingFile implements IWritable {
  readonly path: string;
  readonly #handle: FileHandle;
  /** Bytes written and acknowledged: every record up to here is whole. */
  #position = 0;
  #failure: unknown;

  private constructor(path: string, handle: FileHandle) {
    this.path = path;
    this.#handle = handle;
  }

  /** Creates `path` (mode 0600 unless told otherwise); refuses an existing file unless `overwrite`. */
  static async create(path: string, options: { overwrite?: boolean; mode?: number } = {}): Promise<RecordingFile> {
    try {
      return new RecordingFile(path, await open(path, options.overwrite ? 'w' : 'wx', options.mode ?? 0o600));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const hint =
        code === 'EEXIST'
          ? 'it exists: choose another name, remove it, or pass overwrite (--force)'
          : `${(error as Error).message}`;
      throw new RecordingError(path, `cannot create the recording ${path}: ${hint}`, { cause: error });
    }
  }

  /** The first write failure (the system's error), if any; every later write fails with it too. */
  get failure(): unknown {
    return this.#failure;
  }

  position(): bigint {
    return BigInt(this.#position);
  }

  /** Bytes of the file that are whole. */
  get bytes(): number {
    return this.#position;
  }

  async write(buffer: Uint8Array): Promise<void> {
    if (this.#failure !== undefined) throw writeFailure(this.path, this.#failure, this.#position);
    let done = 0;
    try {
      while (done < buffer.length) {
        const { bytesWritten } = await this.#handle.write(buffer, done, buffer.length - done, this.#position + done);
        done += bytesWritten;
      }
    } catch (error) {
      this.#failure = error;
      throw writeFailure(this.path, error, this.#position);
    }
    this.#position += buffer.length;
  }

  /**
   * After a failed write: cuts the file back to its last whole record and appends DataEnd, Footer and
   * the closing magic (49 bytes, which the cut usually frees). Returns the bytes kept; the file stays
   * readable by a streaming MCAP reader even if the footer does not fit.
   */
  async salvage(): Promise<number> {
    await this.#handle.truncate(this.#position).catch(() => undefined);
    const { McapRecordBuilder } = await import('@mcap/core');
    const builder = new McapRecordBuilder();
    builder.writeDataEnd({ dataSectionCrc: 0 });
    builder.writeFooter({ summaryStart: 0n, summaryOffsetStart: 0n, summaryCrc: 0 });
    builder.writeMagic();
    try {
      await this.#handle.write(builder.buffer, 0, builder.buffer.length, this.#position);
      this.#position += builder.buffer.length;
    } catch {
      await this.#handle.truncate(this.#position).catch(() => undefined);
    }
    return this.#position;
  }

  async close(): Promise<void> {
    await this.#handle.close();
  }
}

/** The error of a failed write, naming what happened and how many bytes stay readable. */
export function writeFailure(path: string, error: unknown, kept: number): RecordingError {
  const code = (error as NodeJS.ErrnoException).code;
  const what =
    code === 'ENOSPC'
      ? 'the disk is full (ENOSPC)'
      : code === 'EFBIG'
        ? 'the file reached the largest size allowed (EFBIG: RLIMIT_FSIZE or the file system)'
        : code === 'EDQUOT'
          ? 'the disk quota is used up (EDQUOT)'
          : `${(error as Error).message}`;
  return new RecordingError(
    path,
    `writing the recording ${path} failed: ${what}; the ${kept} bytes written before stay a readable recording; free space (or record with a smaller --duration/--count) and record again`,
    { cause: error, keptBytes: kept },
  );
}
