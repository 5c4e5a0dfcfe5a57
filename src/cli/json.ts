/**
 * Messages as JSON on the command line: the spelling lives in the codecs layer (`toJson`,
 * `fromJsonValue`, shared with recordings); here a misfit on the command line becomes a UsageError.
 */
import { type BigintStyle, fromJsonValue, type MessageCodec, structFields, toJson } from '../codecs/index.js';
import { UsageError } from './args.js';

export { type BigintStyle, structFields, toJson };

/** Parses JSON text and converts it to the codec's value type, then validates it. */
export function fromJson(text: string, codec: MessageCodec<unknown>, what = '--json'): unknown {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${what}: not valid JSON (${(error as Error).message}): ${abbreviate(text)}`);
  }
  try {
    return fromJsonValue(parsed, codec);
  } catch (error) {
    // The value is an argument of the command line: a misfit is a usage error, and nothing was sent.
    if ((error as { code?: unknown }).code === 'ERR_IPC_VALIDATION')
      throw new UsageError(`${what}: ${(error as Error).message}`);
    throw error;
  }
}

function abbreviate(text: string): string {
  return text.length > 60 ? `${JSON.stringify(text.slice(0, 57))}...` : JSON.stringify(text);
}
