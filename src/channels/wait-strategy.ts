/**
 * A channel's wait strategy (the `wait` option), in the spirit of Aeron's idle strategies: how a send
 * or receive that cannot go on now waits. By default it sleeps at once (epoll through the event
 * loop, a doorbell on the ring) and a wake-up costs the kernel's scheduling latency and a turn of
 * the event loop, 10 to 30 µs between two Node processes. With `{ spinUs: n }` the base's one wait
 * (FdChannel.waitFor) first keeps checking for up to n microseconds (memory loads on the ring,
 * `poll(fd, 0)` on a descriptor), by default with sched_yield(2) between checks (Aeron's yielding
 * strategy; `yield: false` is its busy spin), and only then sleeps. The spin runs on the JavaScript
 * thread: the event loop does nothing else meanwhile, and the process spends CPU for as long as it
 * spins. docs/latency.md has the figures beside C, the CPU cost and when to choose what. */
import { UnsupportedError, ValidationError } from '../errors.js';
import { libc } from '../native/index.js';

/** The `wait` option of every channel: how long a waiting send or receive spins before it sleeps. */
export interface WaitOption {
  /**
   * Microseconds to keep checking (blocking the event loop) before sleeping, in [0, 1 000 000];
   * 0 (the default) sleeps at once, as without the option.
   */
  readonly spinUs?: number;
  /**
   * Whether each check of the spin is followed by sched_yield(2) (default true), so that another
   * runnable process on this CPU (often the very peer being waited for) runs first. false busy-spins:
   * for processes with a core each (isolated or otherwise idle); where they share a core, a busy spin
   * holds it until its time is up and a round trip then costs the whole spin (see docs/latency.md).
   */
  readonly yield?: boolean;
}

/** The longest spin the `wait` option accepts (one second of a blocked event loop). */
export const MAX_SPIN_US = 1_000_000;

/** What bounds a spin besides its length: the wait's absolute deadline and its signal. */
export interface SpinLimits {
  /** Absolute time from performance.now(), as in WaitOptions. */
  readonly deadline?: number | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** A validated spin: `until(ready)` checks `ready` for at most `spinUs` microseconds, yielding the CPU between checks or not. */
export class Spin {
  /** Microseconds to spin, > 0. */
  readonly spinUs: number;
  /** Whether sched_yield(2) follows each check. */
  readonly yields: boolean;
  readonly #spinMs: number;

  constructor(spinUs: number, yields = true) {
    this.spinUs = spinUs;
    this.yields = yields;
    this.#spinMs = spinUs / 1000;
  }

  /**
   * Calls `ready` until it returns true (then true), or until `spinUs` microseconds or the wait's
   * deadline (performance.now() ms) have passed (then false: the caller goes to sleep, where the
   * deadline and the signal take effect). An aborted signal or a past deadline means no spin at all.
   */
  until(ready: () => boolean, wait: SpinLimits = {}): boolean {
    if (ready()) return true;
    // Nothing can abort the signal while the spin blocks the thread: one look before it is enough.
    if (wait.signal?.aborted) return false;
    const end = Math.min(performance.now() + this.#spinMs, wait.deadline ?? Number.POSITIVE_INFINITY);
    // The clock is read on every turn: performance.now() costs tens of nanoseconds, less than the
    // cheapest probe that makes a system call, and keeps the bound exact for the ring's memory probes too.
    if (this.yields) {
      while (performance.now() < end) {
        // Yield from the first turn on: measured on 2 shared cores, a busy phase of even 5 µs before
        // yielding tripled the shm ping-pong's p50 (the peer waited for this CPU meanwhile).
        libc.schedYield();
        if (ready()) return true;
      }
    } else {
      while (performance.now() < end) if (ready()) return true;
    }
    return false;
  }
}

/**
 * Checks the `wait` option and returns its spin, or undefined when the channel sleeps at once (no
 * option, or `spinUs: 0`). Throws ValidationError naming `wait` or `wait.spinUs` for anything else.
 */
export function spinOf(wait: unknown): Spin | undefined {
  if (wait === undefined) return undefined;
  if (typeof wait !== 'object' || wait === null || Array.isArray(wait)) {
    throw new ValidationError('wait', 'an object such as { spinUs: 50 }', describe(wait));
  }
  for (const key of Object.keys(wait)) {
    if (key !== 'spinUs' && key !== 'yield') {
      throw new ValidationError('wait', 'only the keys spinUs and yield', `a key ${JSON.stringify(key)}`, {
        message:
          `wait: expected only the keys spinUs and yield, got a key ${JSON.stringify(key)}; ` +
          'the wait strategy is { spinUs: <microseconds>, yield?: boolean }',
      });
    }
  }
  const { spinUs, yield: yields } = wait as WaitOption;
  if (yields !== undefined && typeof yields !== 'boolean') {
    throw new ValidationError('wait.yield', 'a boolean (default true)', describe(yields));
  }
  if (spinUs === undefined || spinUs === 0) return undefined;
  if (typeof spinUs !== 'number' || !(spinUs >= 0 && spinUs <= MAX_SPIN_US)) {
    throw new ValidationError(
      'wait.spinUs',
      `microseconds in [0, ${MAX_SPIN_US}] (0 sleeps at once)`,
      describe(spinUs),
      {
        message:
          `wait.spinUs: expected microseconds in [0, ${MAX_SPIN_US}] (0 sleeps at once), got ${describe(spinUs)}; ` +
          'a spin blocks the event loop while it lasts: tens to hundreds of microseconds cover most replies',
      },
    );
  }
  return new Spin(spinUs, yields ?? true);
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (Array.isArray(value)) return 'an array';
  return value === null ? 'null' : typeof value === 'object' ? 'an object' : String(value);
}

/**
 * Why a scheme cannot spin: its messages reach the process through the event loop itself, or it
 * has a wait of its own. A spin there is refused rather than silently ignored.
 */
const NO_SPIN: Partial<Record<string, string>> = {
  nats: 'nats:// messages arrive through the event loop (the NATS client reads its socket there), which a spin blocks',
  sysv: 'System V queues have no descriptor and wait on their own back-off (see pollMaxMs in docs/sysv.md)',
};

/**
 * Checks the `wait` option of an entry point (open, connect, bind, listen) before anything is
 * created: ValidationError for a malformed one, UnsupportedError for a spin on a scheme without one.
 */
export function checkWaitOption(scheme: string, wait: unknown): void {
  const spin = spinOf(wait);
  const why = NO_SPIN[scheme];
  if (spin !== undefined && why !== undefined) {
    throw new UnsupportedError(`wait: ${scheme} channels cannot spin: ${why}; leave the wait option out`);
  }
}
