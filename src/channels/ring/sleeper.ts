/**
 * Sleeping on a doorbell, shared by the ring and pub/sub (docs/ring-protocol.md, "Waiting and
 * waking"): spin a few checks, try to recover a slot a dead peer holds, then set this handle's bit in
 * a sleeper mask, look again and wait for the doorbell. The waker stores (publish/release) and then
 * loads the mask; the sleeper sets its bit and then looks: both seq_cst, so one of the two sees the
 * other and no wake-up is lost. A wait that may be held back by a dead peer, or that must notice a
 * truncated segment, is bounded by a recheck and looks again.
 */
import { TimeoutError } from '../../errors.js';
import type { DescriptorWait, WaitOptions, WaitStrategy } from '../wait.js';
import type { Doorbell } from './doorbell.js';

/** What a recovery attempt found: a dead peer's slot released, a slot that may be stuck, or nothing. */
export type Recovery = 'recovered' | 'stuck' | 'idle';

/** Where a wait sleeps: the mask word and bit of this handle, and which of the channel's two sides. */
export interface SleepSpot {
  /** Index (in 32-bit words of the mapping) of the mask word that holds this handle's bit. */
  readonly word: number;
  readonly bit: number;
  readonly side: 0 | 1;
}

/** How long a sleep lasts before it looks again (ms; 0: until woken or the caller's deadline). */
export interface Recheck {
  /** When recovery found a slot that may be stuck (its owner may be dead). */
  readonly stuckMs: number;
  /** Otherwise. */
  readonly idleMs: number;
}

/** A channel's two sides: 0, receivers waiting for messages; 1, senders waiting for room. */
export type Side = 0 | 1;

/** What a ring or pub/sub channel tells its sleeper about its two sides (see `DoorbellSleeper.waits`). */
export interface SleepSides {
  /** This handle's bit in each side's sleeper mask. */
  readonly spots: readonly [SleepSpot, SleepSpot];
  /** How long a sleep lasts before it looks again: one for both sides, or one per side. */
  readonly recheck: Recheck | readonly [Recheck, Recheck];
  /** Whether a wait of `side` may end now (the segment's memory, no system call). */
  ready(side: Side): boolean;
  /** What a wait of `side` that found nothing tries first: release what a dead peer holds. */
  recover(side: Side): Recovery;
}

export class DoorbellSleeper {
  // Waits of this channel pending on each side: the side's mask bit is shared by them, and the last
  // one out clears it.
  readonly #sleepers = [0, 0];

  readonly #i32: Int32Array;
  readonly #bell: Doorbell;
  readonly #watch: DescriptorWait;
  readonly #spin: number;
  readonly #closed: () => boolean;
  readonly #assertIntact: () => void;

  /**
   * `spin`: checks before sleeping; `closed`: whether the channel is closed (the mapping is gone: touch
   * it only while open); `assertIntact`: throws (and closes the channel) when the segment was
   * truncated, run on every wake-up and timeout before the segment is looked at.
   */
  constructor(
    i32: Int32Array,
    bell: Doorbell,
    watch: DescriptorWait,
    spin: number,
    closed: () => boolean,
    assertIntact: () => void,
  ) {
    this.#i32 = i32;
    this.#bell = bell;
    this.#watch = watch;
    this.#spin = spin;
    this.#closed = closed;
    this.#assertIntact = assertIntact;
  }

  /**
   * The channel's wait strategy (FdChannel.useWaits): a wait for readable sleeps on side 0, for
   * writable on side 1, and the `wait` option's spin checks `ready` in the segment's memory.
   */
  waits(sides: SleepSides): WaitStrategy {
    const { spots, recheck } = sides;
    const rechecks = 'stuckMs' in recheck ? [recheck, recheck] : recheck;
    // Bound once: a wait passes them on rather than making closures of its own.
    const ready = [() => sides.ready(0), () => sides.ready(1)] as const;
    const recover = [() => sides.recover(0), () => sides.recover(1)] as const;
    const sleep = (side: Side, wait: WaitOptions): Promise<void> =>
      this.sleep(spots[side], ready[side], recover[side], rechecks[side] as Recheck, wait);
    return {
      readable: (wait) => sleep(0, wait),
      writable: (wait) => sleep(1, wait),
      ready: (direction) => sides.ready(direction === 'readable' ? 0 : 1),
    };
  }

  /** Waits until `ready()` may hold: woken by a peer, or at a recheck (then the caller looks again). */
  async sleep(
    spot: SleepSpot,
    ready: () => boolean,
    recover: () => Recovery,
    recheck: Recheck,
    options: WaitOptions,
  ): Promise<void> {
    for (let i = 0; i < this.#spin; i++) if (ready()) return;
    const state = recover();
    if (state === 'recovered') return;
    // Drain stale rings so the wait below ends only for a new one, but only when no other wait of
    // this channel is pending: a ring meant for it may not have reached its poll callback yet.
    if (!this.#watch.waiting) this.#bell.drain();
    const { word, bit, side } = spot;
    this.#sleepers[side]! += 1;
    Atomics.or(this.#i32, word, bit);
    try {
      if (ready()) return;
      const ms = state === 'stuck' ? recheck.stuckMs : recheck.idleMs;
      const deadline = options.deadline ?? Number.POSITIVE_INFINITY;
      const internal = ms > 0 && performance.now() + ms < deadline;
      try {
        await this.#watch.readable(internal ? { ...options, deadline: performance.now() + ms } : options);
      } catch (error) {
        // A timeout (the caller's or ours) looks at the segment too before anything touches it.
        this.#assertIntact();
        if (!(internal && error instanceof TimeoutError)) throw error;
      }
      this.#assertIntact();
    } finally {
      this.#sleepers[side]! -= 1;
      if (this.#sleepers[side] === 0 && !this.#closed()) Atomics.and(this.#i32, word, ~bit);
    }
  }
}
