/**
 * Received messages waiting in this process, oldest first, as the client handed them over (decoded
 * only when taken). On core NATS at most `maxPending` wait: like the C and Go clients' pending limits,
 * a message arriving past it is dropped and counted, one slow-consumer event per run of drops.
 */
import type { JsMsg } from '@nats-io/jetstream';
import type { Msg } from '@nats-io/transport-node';

export class ReceiveQueue {
  readonly #messages: (Msg | JsMsg)[] = [];
  #head = 0;
  /** Waiting messages at most; Infinity: no limit (JetStream's server stops at max_ack_pending). */
  readonly #maxPending: number;
  #dropped = 0;
  #overflows = 0;
  /** In a run of drops (one slow-consumer event per run). */
  #overflowing = false;

  constructor(maxPending: number) {
    this.#maxPending = maxPending;
  }

  /** Messages waiting. */
  get length(): number {
    return this.#messages.length - this.#head;
  }

  /** Messages dropped because `maxPending` were already waiting. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Runs of drops (each one slow-consumer event). */
  get overflows(): number {
    return this.#overflows;
  }

  /** Appends `msg`, or drops and counts it when `maxPending` are waiting. */
  push(msg: Msg | JsMsg): void {
    if (this.length >= this.#maxPending) {
      // nats.js buffers without bound; like the C and Go clients' pending limits, this drops the newest.
      if (!this.#overflowing) this.#overflows += 1;
      this.#overflowing = true;
      this.#dropped += 1;
      return;
    }
    this.#overflowing = false;
    this.#messages.push(msg);
  }

  /** Takes the oldest message; undefined when none waits. */
  take(): Msg | JsMsg | undefined {
    if (this.#head >= this.#messages.length) return undefined;
    const msg = this.#messages[this.#head] as Msg | JsMsg;
    this.#messages[this.#head] = undefined as never;
    this.#head += 1;
    // Compact once the consumed prefix dominates, so taking stays O(1) amortised.
    if (this.#head >= 1024 && this.#head * 2 >= this.#messages.length) {
      this.#messages.splice(0, this.#head);
      this.#head = 0;
    }
    return msg;
  }

  /** Drops every waiting message (not acked: JetStream delivers them again to the next consumer). */
  clear(): void {
    this.#messages.length = 0;
    this.#head = 0;
  }
}
