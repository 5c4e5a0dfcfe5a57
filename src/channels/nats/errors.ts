/**
 * How the NATS client's failures become typed-ipc's: text with every secret scrubbed out, a wait on a
 * client promise bounded by a timeout and a signal, and one mapping of a failed operation to the
 * IpcError family (NatsError codes, TimeoutError, ChannelClosedError).
 */
import { AbortError, ChannelClosedError, TimeoutError } from '../../errors.js';
import type { ReceiveOptions } from '../channel.js';
import { NatsError } from '../nats.js';

/** Text with every secret of the options replaced by `***` (for messages built from the client's errors). */
export function scrubber(secrets: readonly (string | undefined)[]): (text: string) => string {
  // Longest first: a secret inside another (a seed inside a creds text) must not leave the rest showing.
  const list = secrets
    .filter((s): s is string => typeof s === 'string' && s.length > 0)
    .sort((a, b) => b.length - a.length);
  return (text) => list.reduce((out, secret) => out.split(secret).join('***'), text);
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Races `promise` against `options`' timeout and signal; the operation is named in the errors. With
 * `ref: false` the timeout does not keep the process alive (an unref'd channel's wait).
 */
export function bounded<R>(promise: Promise<R>, options: ReceiveOptions, operation: string, ref = true): Promise<R> {
  const { timeoutMs, signal } = options;
  if (timeoutMs === undefined && signal === undefined) return promise;
  if (signal?.aborted) return Promise.reject(new AbortError(operation, signal.reason));
  return new Promise<R>((resolve, reject) => {
    const timer =
      timeoutMs === undefined ? undefined : setTimeout(() => finish(new TimeoutError(operation, timeoutMs)), timeoutMs);
    if (!ref) timer?.unref();
    const onAbort = () => finish(new AbortError(operation, signal?.reason));
    signal?.addEventListener('abort', onAbort, { once: true });
    function finish(error: unknown, value?: R): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (error === undefined) resolve(value as R);
      else reject(error);
    }
    promise.then(
      (value) => finish(undefined, value),
      (error) => finish(error ?? new Error('failed')),
    );
  });
}

/** What the mapping needs to know of its channel. */
export interface ErrorContext {
  readonly url: string;
  readonly subject: string;
  /** JetStream: the stream; undefined on core NATS. */
  readonly stream: string | undefined;
  /** The timeout a JetStream request has when its caller gave none. */
  readonly ackTimeoutMs: number;
  readonly scrub: (text: string) => string;
  /** Whether the channel was closed (a closed connection is then ChannelClosedError). */
  readonly closed: () => boolean;
}

/** The typed-ipc error for a failure of the client during `operation` (send, receive, ack). */
export function mapError(context: ErrorContext, error: unknown, operation: string, timeoutMs?: number): unknown {
  if (error instanceof ChannelClosedError || error instanceof NatsError) return error;
  if (error instanceof TimeoutError || error instanceof AbortError) return error;
  const { url } = context;
  const text = context.scrub(errorText(error));
  const name = error instanceof Error ? error.name : '';
  if (/timeout/i.test(name) || /timeout/i.test(text)) {
    return new TimeoutError(`${operation} on ${url}`, timeoutMs ?? context.ackTimeoutMs);
  }
  if (/permission/i.test(text)) {
    return new NatsError(
      'ERR_IPC_NATS_PERMISSION',
      url,
      `${operation} on ${url}: ${text}; grant this user the subject in the server's authorization`,
      { cause: error },
    );
  }
  if (/no responders|503|jetstream is not enabled/i.test(text) && context.stream !== undefined) {
    return new NatsError(
      'ERR_IPC_NATS_JETSTREAM',
      url,
      `${operation} on ${url}: no JetStream stream stores subject ${context.subject} (or JetStream is off); create stream ${context.stream} (open with create: true) or enable JetStream on the server`,
      { cause: error },
    );
  }
  if (/closed|draining/i.test(name) || /connection closed|draining/i.test(text)) {
    return context.closed()
      ? new ChannelClosedError(`${url} is closed`)
      : new NatsError(
          'ERR_IPC_NATS_CONNECTION_LOST',
          url,
          `${operation} on ${url}: the connection is closed (${text}); open the channel again`,
          { cause: error },
        );
  }
  return new NatsError('ERR_IPC_NATS', url, `${operation} on ${url}: ${text}`, { cause: error });
}
