/**
 * The async iterator of a channel (`for await (… of channel)`, `channel.iterate(options)`): what
 * ends the loop (end of stream, close) and what a message that cannot be decoded does to it.
 */
import { ChannelClosedError, DecodeError, ValidationError } from '../errors.js';
import type { IterateOptions, Message } from './contract.js';

/** What the iterator needs of its channel. */
export interface IterationSource<T> {
  /** True once close() or destroy() was called: the loop ends. */
  closed(): boolean;
  /** The next message if one is waiting now, else undefined; throws an error in its turn. */
  next(): Message<T> | undefined;
  /** Waits for the next message (as receive() does). */
  wait(): Promise<Message<T>>;
}

/**
 * A hand-written iterator rather than an async generator: a generator costs several promise turns
 * per message, this one none beyond receive()'s when a message is waiting.
 */
export function iterateChannel<T>(
  source: IterationSource<T>,
  options: IterateOptions = {},
): AsyncIterableIterator<Message<T> | DecodeError> {
  const yieldErrors = options.decodeErrors === 'yield';
  if (options.decodeErrors !== undefined && !yieldErrors && options.decodeErrors !== 'throw') {
    throw new ValidationError('decodeErrors', "'throw' or 'yield'", String(options.decodeErrors));
  }
  let yielded: unknown;
  const end = (error: unknown): IteratorResult<Message<T> | DecodeError> => {
    // End of stream, or the channel closed under the loop, ends the iteration.
    if (error instanceof ChannelClosedError) return { value: undefined, done: true };
    // The bad message was consumed: the loop gets the error and goes on. The same error twice is a
    // channel that cannot go on (a stream whose framing is lost): that one ends the loop.
    if (yieldErrors && error instanceof DecodeError && error !== yielded) {
      yielded = error;
      return { value: error, done: false };
    }
    throw error;
  };
  const iterator: AsyncIterableIterator<Message<T> | DecodeError> = {
    next: () => {
      if (source.closed()) return Promise.resolve({ value: undefined, done: true });
      let message: Message<T> | undefined;
      try {
        message = source.next();
      } catch (error) {
        try {
          return Promise.resolve(end(error));
        } catch (thrown) {
          return Promise.reject(thrown);
        }
      }
      if (message !== undefined) return Promise.resolve({ value: message, done: false });
      return source.wait().then((value) => ({ value, done: false }), end);
    },
    return: () => Promise.resolve({ value: undefined, done: true }),
    [Symbol.asyncIterator]: () => iterator,
  };
  return iterator;
}
