/**
 * `replay(path, channel)`: sends a recording's messages into a channel with their priorities, at their
 * recorded spacing (`rate: 1`), faster (`rate: 2`, ...) or as fast as the channel takes them (`'max'`),
 * once or in a loop; the target's schema must have the fingerprint the recording was made with.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Channel } from '../channels/index.js';
import { fromJsonValue } from '../codecs/index.js';
import { AbortError, SchemaMismatchError, ValidationError } from '../errors.js';
import { RecordingError } from './errors.js';
import { envelopeOf, type RecordedChannel, type RecordingContents, readRecording } from './reader.js';

/** Options of `replay`. */
export interface ReplayOptions {
  /** Speed against the recording: 1 keeps the recorded spacing, 2 halves it, `'max'` sends back to back. */
  readonly rate?: number | 'max';
  /** Start over after the last message, until `signal` or `count`. */
  readonly loop?: boolean;
  /** Which recorded channel to send (needed when the file holds several). */
  readonly topic?: string;
  /** Stop after this many messages sent. */
  readonly count?: number;
  readonly signal?: AbortSignal;
  /** Send every message with priority 0: for a target without priorities (a ring, a socket). */
  readonly dropPriorities?: boolean;
}

/** What a replay sent. */
export interface ReplaySummary {
  readonly messages: number;
  /** Passes over the file (more than 1 with `loop`). */
  readonly passes: number;
  readonly topic: string;
  readonly elapsedMs: number;
  /** False when the file ended before its footer (a recording cut short): what it held was sent. */
  readonly complete: boolean;
}

/** `replay` of the package (record/index.ts documents it), loaded on its first call. */
export async function replay<T>(path: string, target: Channel<T>, options: ReplayOptions = {}): Promise<ReplaySummary> {
  const rate = options.rate ?? 1;
  if (rate !== 'max' && !(typeof rate === 'number' && Number.isFinite(rate) && rate > 0)) {
    throw new ValidationError('rate', "a positive number or 'max'", String(rate));
  }
  if (options.count !== undefined && !(Number.isSafeInteger(options.count) && options.count > 0)) {
    throw new ValidationError('count', 'a positive integer', String(options.count));
  }
  const { signal } = options;
  const started = process.hrtime.bigint();
  let sent = 0;
  let passes = 0;
  let topic: string | undefined;
  let complete = true;
  do {
    passes += 1;
    const contents: RecordingContents = { channels: new Map(), metadata: [], complete: false };
    let chosen: RecordedChannel | undefined;
    /** Monotonic ns when this pass started, and the log time of its first message. */
    let base: { readonly at: bigint; readonly logTime: bigint } | undefined;
    let sentThisPass = 0;
    for await (const message of readRecording(path, contents)) {
      if (signal?.aborted) throw new AbortError('replay', signal.reason);
      chosen ??= choose(path, contents.channels, options.topic, target);
      if (message.channel.id !== chosen.id) continue;
      topic = chosen.topic;
      const envelope = envelopeOf(path, message);
      const value = fromJsonValue(envelope.value, target.codec);
      if (rate !== 'max') {
        base ??= { at: process.hrtime.bigint(), logTime: message.logTime };
        const dueNs = Number(message.logTime - base.logTime) / rate;
        const waitMs = (dueNs - Number(process.hrtime.bigint() - base.at)) / 1e6;
        // Timers have millisecond steps: a message due within a millisecond is sent now.
        if (waitMs >= 1)
          await sleep(Math.floor(waitMs), undefined, signal === undefined ? {} : { signal }).catch(aborted(signal));
      }
      await target.send(value, {
        priority: options.dropPriorities ? 0 : envelope.priority,
        ...(signal === undefined ? {} : { signal }),
      });
      sent += 1;
      sentThisPass += 1;
      if (options.count !== undefined && sent >= options.count) break;
    }
    complete &&= contents.complete;
    if (chosen === undefined || sentThisPass === 0) {
      if (chosen === undefined) choose(path, contents.channels, options.topic, target);
      break; // an empty recording (or channel) would loop forever sending nothing
    }
  } while (options.loop === true && !(options.count !== undefined && sent >= options.count) && !signal?.aborted);
  if (signal?.aborted) throw new AbortError('replay', signal.reason);
  return {
    messages: sent,
    passes,
    topic: topic ?? options.topic ?? '',
    elapsedMs: Number(process.hrtime.bigint() - started) / 1e6,
    complete,
  };
}

function aborted(signal: AbortSignal | undefined): (error: unknown) => never {
  return (error) => {
    throw signal?.aborted ? new AbortError('replay', signal.reason) : error;
  };
}

/** The recorded channel to send, checked against the target's schema before anything is sent. */
function choose(
  path: string,
  channels: ReadonlyMap<number, RecordedChannel>,
  topic: string | undefined,
  target: Channel<unknown>,
): RecordedChannel {
  const all = [...channels.values()];
  const topics = all.map((c) => JSON.stringify(c.topic)).join(', ') || 'none';
  let chosen: RecordedChannel | undefined;
  if (topic !== undefined) {
    chosen = all.find((c) => c.topic === topic);
    if (chosen === undefined) {
      throw new RecordingError(path, `${path} holds no channel ${JSON.stringify(topic)}; it holds ${topics}`);
    }
  } else if (all.length === 1) {
    chosen = all[0]!;
  } else {
    throw new RecordingError(
      path,
      `${path} holds ${all.length === 0 ? 'no channels' : `several channels (${topics})`}: say which to replay (topic, --topic)`,
    );
  }
  const local = target.codec.fingerprint;
  if (chosen.fingerprint === undefined) {
    throw new RecordingError(
      path,
      `${path}: channel ${JSON.stringify(chosen.topic)} carries no typed-ipc schema fingerprint (not recorded by typed-ipc); replay needs one to check the target`,
    );
  }
  if (chosen.fingerprint !== local) {
    throw new SchemaMismatchError(
      `${path}: channel ${JSON.stringify(chosen.topic)} was recorded with schema ${chosen.schema ?? '?'} (fingerprint ${chosen.fingerprint}, ${chosen.size ?? '?'} B), but ${target.url} uses ${target.codec.name} (fingerprint ${local}, ${target.codec.size} B); replay into a channel of the recorded schema`,
      local,
      chosen.fingerprint,
    );
  }
  return chosen;
}
