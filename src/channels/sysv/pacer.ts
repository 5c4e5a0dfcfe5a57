/**
 * The wait strategy of `sysv:` channels. A System V queue has no file descriptor, so nothing can wait
 * for it on the event loop. Waiting sends and receives retry the non-blocking call (IPC_NOWAIT)
 * instead: for a spin window that adapts to
 * the channel (0.05 to 2 ms; up to 50 ms while the peer process is runnable, on queues of < 256
 * messages) each pause probes the queue for up to 20 us with sched_yield between probes, then gives the
 * loop a turn; after the window, on timers of 1 ms (eight times), then 2, 4, 8 ms up to `pollMaxMs`
 * (default 10). Timers cost no thread, an idle waiting channel costs about 100 system calls a second,
 * and a busy one stays in the fast phase; docs/sysv.md has the figures and reasons.
 */
import { AbortError, TimeoutError } from '../../errors.js';
import { libc, type WaitOptions } from '../../native/index.js';

/**
 * How long a waiting call retries on every loop turn before it sleeps on timers: adapted per channel
 * between these bounds (see RetryPacer), starting at SPIN_START_MS.
 */
const SPIN_MIN_MS = 0.05;
const SPIN_START_MS = 0.5;
const SPIN_MAX_MS = 2;
/**
 * How long one wait keeps spinning past its window while the process at the other end (msg_lspid or
 * msg_lrpid) is runnable: a descheduled peer on a loaded machine is about to move, a sleeping one is not.
 */
const ACTIVE_SPIN_MAX_MS = 50;
/**
 * Queues that hold this many messages or more do not spin on for a runnable peer: a 1 ms timer lets
 * the peer fill (or drain) them meanwhile and the next try moves a batch, which measured faster on a
 * loaded machine than spinning, which takes CPU from the peer (docs/sysv.md).
 */
export const ACTIVE_SPIN_BELOW_MESSAGES = 256;
export const DEFAULT_POLL_MAX_MS = 10;
/**
 * How long one pause of the spin phase probes the queue in a tight loop, with a sched_yield before
 * each probe, before it gives the event loop a turn: a running peer reaches the queue within
 * microseconds, sooner than a loop turn comes round, and the yield hands it the CPU when it waits for
 * this one on the same core. It holds the loop for at most this long (docs/sysv.md, Waiting).
 */
const SYNC_SPIN_MS = 0.02;
/**
 * Sleeps of the timer phase stay at 1 ms for this many before they double: a peer that slept too
 * (both ends waiting on timers in turn) is met again within a millisecond, not after 8 or 10.
 */
const FLAT_SLEEPS = 8;

const settled: Promise<void> = Promise.resolve();

interface Pause {
  timer?: NodeJS.Timeout;
  immediate?: NodeJS.Immediate;
  reject(error: unknown): void;
}

interface Progress {
  readonly options: WaitOptions;
  readonly started: number;
  sleeps: number;
  /** Spin on loop turns until then: the peer was runnable when the spin window ran out. */
  spinUntil: number;
}

/** Which end a wait waits for: a receive for a sender (msg_lspid), a send for a receiver (msg_lrpid). */
export type Peer = 'sender' | 'receiver';

/**
 * The pauses between tries of waiting sends and receives. Each operation (one WaitOptions object,
 * which the base class keeps for all tries of one send or receive) backs off on its own: for the
 * channel's spin window, a short probing spin and then a loop turn per pause; then timers of 1 ms
 * (FLAT_SLEEPS of them), 2, 4, ... ms up to `maxMs`.
 *
 * The spin window adapts to the channel: a wait that the other side ended within the window (a busy
 * queue: a consumer draining, a producer filling) keeps it at least twice that long, so that a stream
 * of messages never falls into the timer phase, where both sides would sleep in turn; a wait that
 * lasted into the timer phase (an idle queue) halves it, so that idle channels spin next to nothing.
 */
export class RetryPacer {
  readonly #maxMs: number;
  readonly #peerRunnable: (peer: Peer) => boolean;
  readonly #pauses = new Set<Pause>();
  readonly #progress = new WeakMap<WaitOptions, Progress>();
  #spinMs = SPIN_START_MS;
  /** The operation whose pause resolved last: a success right after it ends its wait (see `done`). */
  #resumed: Progress | undefined;
  #ref = true;
  #closedWith: unknown;

  constructor(maxMs: number, peerRunnable: (peer: Peer) => boolean) {
    this.#maxMs = maxMs;
    this.#peerRunnable = peerRunnable;
  }

  /**
   * Resolves when the caller should try again; rejects on timeout, abort or close. `probe` tells
   * without side effects whether the call would go through now (undefined: it cannot tell).
   */
  pause(options: WaitOptions, peer: Peer, probe: () => boolean | undefined): Promise<void> {
    this.#resumed = undefined;
    if (this.#closedWith !== undefined) return Promise.reject(this.#closedWith);
    const { signal, deadline = Number.POSITIVE_INFINITY } = options;
    const operation = options.operation ?? 'wait';
    if (signal?.aborted) return Promise.reject(new AbortError(operation, signal.reason));
    const now = performance.now();
    const remaining = deadline - now;
    if (remaining <= 0) return Promise.reject(new TimeoutError(operation, options.timeoutMs ?? 0));
    let progress = this.#progress.get(options);
    if (progress === undefined) {
      progress = { options, started: now, sleeps: 0, spinUntil: now + this.#spinMs };
      this.#progress.set(options, progress);
    }
    // An unref'ed channel must not hold the loop: immediates cannot be unref'ed, so it sleeps at once.
    let spin = this.#ref && now < progress.spinUntil;
    // The window ran out: spin on (one more window, then ask again) while the other end is runnable,
    // i.e. on its way to the queue, rather than both ends sleeping on timers in turn. One IPC_STAT and
    // one /proc read per window; a peer that sleeps (idle, or on its own timers) gets the back-off.
    if (this.#ref && !spin && progress.sleeps === 0 && now - progress.started < ACTIVE_SPIN_MAX_MS) {
      spin = this.#peerRunnable(peer);
      if (spin) progress.spinUntil = now + SPIN_MAX_MS;
    }
    const resumed = progress;
    if (spin && this.#probeSpin(now, probe)) {
      this.#resumed = resumed;
      return settled;
    }
    const delay = spin
      ? 0
      : Math.ceil(Math.min(this.#maxMs, 2 ** Math.max(0, progress.sleeps - FLAT_SLEEPS), remaining));
    if (!spin) progress.sleeps += 1;
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => settle(new AbortError(operation, signal?.reason));
      const settle = (error?: unknown): void => {
        if (!this.#pauses.delete(pause)) return;
        if (pause.timer !== undefined) clearTimeout(pause.timer);
        if (pause.immediate !== undefined) clearImmediate(pause.immediate);
        signal?.removeEventListener('abort', onAbort);
        if (error !== undefined) {
          reject(error);
        } else {
          this.#resumed = resumed;
          resolve();
        }
      };
      const pause: Pause = { reject: settle };
      this.#pauses.add(pause);
      if (spin) {
        pause.immediate = setImmediate(() => {
          libc.schedYield();
          settle();
        });
      } else {
        pause.timer = setTimeout(settle, delay);
        if (!this.#ref) pause.timer.unref();
      }
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * Probes for up to SYNC_SPIN_MS from `now`, with a sched_yield before each probe: whether the call
   * would go through now (false also when the probe cannot tell).
   */
  #probeSpin(now: number, probe: () => boolean | undefined): boolean {
    const until = now + SYNC_SPIN_MS;
    for (;;) {
      libc.schedYield();
      const ready = probe();
      if (ready !== false) return ready === true;
      if (performance.now() >= until) return false;
    }
  }

  /**
   * The first try of a send() found the queue full: probe for a moment before it is queued (the
   * channel's `roomSoon`, see FdChannel). False at once when unref'ed, as a pause would not spin either.
   */
  beforeQueueing(probe: () => boolean | undefined): boolean {
    if (!this.#ref || this.#closedWith !== undefined) return false;
    return this.#probeSpin(performance.now(), probe);
  }

  /** A send or receive succeeded: if it ended a wait, adapt the spin window to how long that took. */
  done(): void {
    const resumed = this.#resumed;
    if (resumed === undefined) return;
    this.#resumed = undefined;
    // sendMany keeps one WaitOptions for all its messages: the next one that waits starts fast again.
    this.#progress.delete(resumed.options);
    const waited = performance.now() - resumed.started;
    this.#spinMs =
      resumed.sleeps === 0
        ? Math.min(SPIN_MAX_MS, Math.max(this.#spinMs, 2 * waited))
        : Math.max(SPIN_MIN_MS, this.#spinMs / 2);
  }

  ref(): void {
    this.#ref = true;
    for (const pause of this.#pauses) pause.timer?.ref();
  }

  unref(): void {
    this.#ref = false;
    for (const pause of this.#pauses) pause.timer?.unref();
  }

  /** Rejects every pending pause with `error`, and every later one. */
  close(error: unknown): void {
    if (this.#closedWith !== undefined) return;
    this.#closedWith = error;
    for (const pause of [...this.#pauses]) pause.reject(error);
  }
}
