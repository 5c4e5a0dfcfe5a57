/** The errors of recordings: writing a file that cannot take more, reading one that is not a recording. */
import { IpcError } from '../errors.js';

/**
 * A recording could not be written (disk full, file too large, no permission) or read (not an MCAP file,
 * a channel the file does not hold). `path` is the file; `keptBytes` what a failed write left readable.
 */
export class RecordingError extends IpcError {
  readonly path: string;
  /** Bytes of the file that stay a readable recording after a failed write (undefined for read errors). */
  readonly keptBytes: number | undefined;

  constructor(path: string, message: string, options?: { cause?: unknown; keptBytes?: number }) {
    super('ERR_IPC_RECORDING', message, options);
    this.path = path;
    this.keptBytes = options?.keptBytes;
  }
}
