/**
 * Accepted sends that have not reached the kernel yet, counted so that `close()` delivers them
 * before it releases anything, and named when `destroy()` (or close()'s timeout) fails them: the
 * error of such a send carries the stack of the call that accepted it, not of the close that ended it.
 */
import { ChannelClosedError } from '../errors.js';

/** One accepted send in flight (see FdChannel.acceptSend). */
export interface InFlightSend {
  /** Marks it delivered or failed; close() stops waiting for it. Idempotent. */
  settle(): void;
  /** The error to reject it with: `cause`, or one naming this send when the channel was destroyed. */
  error(cause: unknown): unknown;
}

/** A channel's accepted, unsettled sends. */
export class InFlight {
  readonly #url: string;
  #count = 0;
  /** Called when the count drops to 0 while close() waits for it. */
  #drained: (() => void) | undefined;
  /** Why the channel was destroyed, for the errors of the sends it failed. */
  #reason = '';
  #error: Error | undefined;

  constructor(url: string) {
    this.#url = url;
  }

  /** Accepted sends not yet settled. */
  get count(): number {
    return this.#count;
  }

  /** The error the channel was destroyed with; undefined while it lives. */
  get failure(): Error | undefined {
    return this.#error;
  }

  /** Registers one accepted send that has to wait (see FdChannel.acceptSend). */
  accept(): InFlightSend {
    this.#count += 1;
    let settled = false;
    // Captured now, as the caller's frames are gone by the time destroy() fails the send. It costs
    // about 3 µs here with Error.stackTraceLimit at 3 as at the default 10 (the cost is the capture,
    // not the frames), and only a send that found no room pays it: in the mq bench's
    // one-by-one row 3 076 sends of 200 000 waited, about 1% of the sender's time. Not worth an opt-in.
    const site = new Error('send');
    return {
      settle: () => {
        if (settled) return;
        settled = true;
        this.#count -= 1;
        if (this.#count === 0) this.#drained?.();
      },
      error: (cause: unknown) => (this.#error !== undefined ? this.#undelivered(site, cause) : cause),
    };
  }

  /**
   * The channel is destroyed with `error` because of `reason`: the sends it fails from now on say so.
   * A close() still draining has nothing left to wait for.
   */
  destroyed(error: Error, reason: string): void {
    this.#error = error;
    this.#reason = reason;
    this.#drained?.();
  }

  /** Resolves true once every accepted send is settled, false when `timeoutMs` ran out first. */
  drain(timeoutMs: number, timer: (callback: () => void, ms: number) => NodeJS.Timeout): Promise<boolean> {
    return new Promise((resolve) => {
      const pending = Number.isFinite(timeoutMs) ? timer(() => resolve(false), timeoutMs) : undefined;
      this.#drained = () => {
        clearTimeout(pending);
        resolve(true);
      };
    });
  }

  #undelivered(site: Error, cause: unknown): ChannelClosedError {
    const error = new ChannelClosedError(
      `send on ${this.#url}: this message was accepted but not delivered: ${this.#reason}`,
      { cause: cause === this.#error ? cause : (this.#error ?? cause) },
    );
    // The stack of the send() call that accepted it (the frames below the message line).
    const frames = site.stack?.split('\n').slice(1).join('\n');
    if (frames) error.stack = `${error.name}: ${error.message}\n${frames}`;
    return error;
  }
}
