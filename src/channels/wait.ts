/**
 * How channels wait: the shape of a wait (WaitOptions) and of a way of waiting (WaitStrategy, the
 * descriptor's readiness), and waiting on a timer for something the kernel sends no event for (a
 * FIFO reader appearing, a UNIX listener's backlog draining, a datagram peer making room): one
 * back-off sleep that honours the wait's deadline and AbortSignal at once, used by every such retry
 * loop in src/channels.
 */
import { AbortError, TimeoutError } from '../errors.js';
import { deadlineOf } from '../native/index.js';
import { checkTimeout } from './options.js';
import type { PeerWaitOptions } from './transport.js';

/**
 * When a wait gives up: an absolute deadline (performance.now() ms) and/or an AbortSignal, and what
 * the TimeoutError names. The native layer's FdWatch takes the same shape (src/native/poll.ts); it is
 * declared again here because the transports' protected API names it, and no src/native type may
 * reach the published declarations (test/package/declarations.test.ts).
 */
export interface WaitOptions {
  /** Absolute time from `performance.now()`; Infinity or undefined waits forever. */
  readonly deadline?: number | undefined;
  /** Operation name and the caller's timeout, for the TimeoutError message. */
  readonly operation?: string | undefined;
  readonly timeoutMs?: number | undefined;
  readonly signal?: AbortSignal | undefined;
}

/**
 * How a channel waits until it may read or write again. The default is the descriptor's readiness
 * on the event loop (the native layer's FdWatch); a transport whose readiness is not its
 * descriptor's (the ring's memory, a System V queue) plugs in its own (FdChannel.useWaits).
 */
export interface WaitStrategy {
  readable(options: WaitOptions): Promise<void>;
  writable(options: WaitOptions): Promise<void>;
  /** Waiting keeps the process alive again (ref) or no longer (unref). */
  ref?(): void;
  unref?(): void;
  /** Ends every wait with `error`; called once, when the channel is destroyed. */
  close?(error: Error): void;
  /**
   * Whether reading (or writing) may go on now, without waiting: what the spin of the `wait` option
   * checks (wait-strategy.ts). Default: poll(2) on the descriptor.
   */
  ready?(direction: 'readable' | 'writable'): boolean;
  /**
   * The first try of a send() or sendMany() found no room, and the send may wait: whether room came
   * within a brief synchronous look (then the base tries once more before it queues the send, which
   * costs far more than a probe). Absent: the send is queued at once. System V's pacer has it.
   */
  roomSoon?(): boolean;
}

/**
 * The descriptor's own readiness, as a transport with a WaitStrategy of its own may still use it
 * (the ring sleeps on its doorbell descriptor): FdChannel's `watch`.
 */
export interface DescriptorWait {
  readonly fd: number;
  /** Whether a wait on the descriptor is pending. */
  readonly waiting: boolean;
  readable(options?: WaitOptions): Promise<void>;
  writable(options?: WaitOptions): Promise<void>;
}

/** The WaitOptions of waiting for a peer (`{ timeoutMs, signal }` of connect and open). */
export function peerWait(operation: string, options: PeerWaitOptions): WaitOptions {
  const { signal } = options;
  const timeoutMs = checkTimeout(options.timeoutMs);
  return { deadline: deadlineOf(timeoutMs), timeoutMs, signal, operation };
}

/**
 * Sleeps `ms`, unless the deadline or the signal comes first: then it rejects with TimeoutError or
 * AbortError (an abort during the sleep ends it at once). An unref'd sleep does not keep the process alive.
 */
export function sleepUntil(ms: number, wait: WaitOptions, ref = true): Promise<void> {
  const { signal } = wait;
  const operation = wait.operation ?? 'wait';
  if (signal?.aborted) return Promise.reject(new AbortError(operation, signal.reason));
  const remaining = (wait.deadline ?? Number.POSITIVE_INFINITY) - performance.now();
  if (remaining <= 0) return Promise.reject(new TimeoutError(operation, wait.timeoutMs ?? 0));
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new AbortError(operation, signal?.reason));
    };
    const timer = setTimeout(
      () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      },
      Math.min(ms, Math.ceil(remaining)),
    );
    if (!ref) timer.unref();
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
