/**
 * Waiting on a timer for something the kernel sends no event for (a FIFO reader appearing, a UNIX
 * listener's backlog draining, a datagram peer making room): one back-off sleep that honours the
 * wait's deadline and AbortSignal at once, used by every such retry loop in src/channels.
 */
import { AbortError, TimeoutError } from '../errors.js';
import { deadlineOf, type WaitOptions } from '../native/index.js';
import { checkTimeout } from './options.js';
import type { PeerWaitOptions } from './transport.js';

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
