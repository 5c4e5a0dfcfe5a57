/**
 * Recordings: channels into MCAP files (`record`), back into channels (`replay`), read back
 * (`readRecording`). The MCAP and compression packages load on first use, not with `import 'typed-ipc'`.
 */
export { type Compression, compressions } from './compression.js';
export { RecordingError } from './errors.js';
export { type FoxgloveLive, type FoxgloveOptions, serveFoxglove } from './foxglove.js';
export { type PlotOptions, plotChannels, plotRecording } from './plot.js';
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
export { type RecordOptions, type RecordProgress, type RecordSource, type RecordSummary, record } from './record.js';
export { type ReplayOptions, type ReplaySummary, replay } from './replay.js';
