/**
 * Recordings: channels into MCAP files (`record`), back into channels (`replay`), read back
 * (`readRecording`), served live to Foxglove and plotted. Reading a recording is loaded with the
 * package; recording, replaying, serving and plotting load on their first call (with them the MCAP
 * writer, the compression packages, ws and Vega): `import 'typed-ipc'` stays small (channels/registry.ts
 * says why that matters for more than start-up).
 */
import type * as Foxglove from './foxglove.js';
import type * as Plot from './plot.js';
import type * as Record from './record.js';
import type * as Replay from './replay.js';

export { type Compression, compressions } from './compression.js';
export { RecordingError } from './errors.js';
export type { FoxgloveLive, FoxgloveOptions } from './foxglove.js';
export type { PlotOptions } from './plot.js';
export {
  type Envelope,
  envelopeOf,
  type RecordedChannel,
  type RecordedMessage,
  type RecordedSchema,
  type RecordingContents,
  readRecording,
  recordedSchemas,
} from './reader.js';
export type { RecordOptions, RecordProgress, RecordSource, RecordSummary } from './record.js';
export type { ReplayOptions, ReplaySummary } from './replay.js';

/** `fn` of the module `load` imports, imported on the first call (`fn`'s own type is the caller's). */
function onFirstCall<F extends (...args: never[]) => Promise<unknown>>(load: () => Promise<F>): F {
  return (async (...args: Parameters<F>) => (await load())(...args)) as F;
}

/**
 * Records every message of `channels` into an MCAP file until `count`, `durationMs`, `signal` or the end
 * of every channel; resolves with what was recorded. A failed write (full disk) rejects with a
 * RecordingError after the file was closed as a readable recording of what was written.
 *
 * @example
 * ```ts
 * await using rx = await open('mq:/samples', Sample, { create: true, access: 'receive' });
 * const summary = await record([rx], { path: 'run.mcap', durationMs: 10_000 });
 * ```
 */
export const record: typeof Record.record = onFirstCall(() => import('./record.js').then((m) => m.record));

/**
 * Sends the messages of one recorded channel of the MCAP file at `path` into `target`, in recorded
 * order and with their priorities; resolves when done (or aborted with `signal`: AbortError).
 *
 * @throws {@link SchemaMismatchError} before anything is sent when `target`'s codec has another
 *   fingerprint than the recorded schema (naming both).
 * @throws {@link RecordingError} for a file that is not a recording, or a `topic` it does not hold.
 */
export const replay: typeof Replay.replay = onFirstCall(() => import('./replay.js').then((m) => m.replay));

/**
 * Serves `channels` to Foxglove over its WebSocket protocol until closed. Messages are consumed from the
 * channels (like `tail`) and sent to the clients subscribed to their topic at that moment.
 *
 * @example
 * ```ts
 * const live = await serveFoxglove([rx], { port: 8765 });   // Foxglove: Open connection, ws://127.0.0.1:8765
 * ```
 */
export const serveFoxglove: typeof Foxglove.serveFoxglove = onFirstCall(() =>
  import('./foxglove.js').then((m) => m.serveFoxglove),
);

/** Draws `fields` of the messages in the MCAP file at `path` over their log time; resolves with SVG text. */
export const plotRecording: typeof Plot.plotRecording = onFirstCall(() =>
  import('./plot.js').then((m) => m.plotRecording),
);

/** Receives from `channels` for `durationMs`, then draws `fields` of what arrived; resolves with SVG text. */
export const plotChannels: typeof Plot.plotChannels = onFirstCall(() =>
  import('./plot.js').then((m) => m.plotChannels),
);
