/**
 * Where encoded payloads live until the client has written them out. The client keeps a reference to
 * each payload until then, so no region is reused before: payloads are carved one after the other
 * from 64 KiB slabs (one allocation per slab, not per message). On core NATS a full slab is reused
 * once a flush proves its bytes have left (see `next`); JetStream payloads are kept until their ack
 * (or a retry), so their slabs are left to the GC.
 */

/** Size of the slabs encoded messages are carved from. */
const SLAB_BYTES = 64 * 1024;
/** Core NATS: full slabs kept for reuse, waiting for the flush that proves their bytes were sent. */
const SPARE_SLABS = 16;

/** Flushes (PINGs) a publisher started, and the highest-numbered one the server has answered. */
export interface FlushCount {
  readonly flushesStarted: number;
  readonly flushesDone: number;
}

export class Slabs {
  #slab: Uint8Array = new Uint8Array(0);
  #used = 0;
  /** Full slabs, oldest first, each with the number of the flush after which it is free. */
  readonly #spare: { readonly slab: Uint8Array; readonly freeAfter: number }[] = [];
  /** Core NATS: the flushes that free slabs; undefined: slabs are never reused. */
  readonly #flushes: FlushCount | undefined;

  constructor(flushes: FlushCount | undefined) {
    this.#flushes = flushes;
  }

  /** The current slab, with room for `size` bytes at `used`. */
  room(size: number): Uint8Array {
    if (this.#used + size > this.#slab.length) {
      this.#slab = this.#next(Math.max(SLAB_BYTES, size));
      this.#used = 0;
    }
    return this.#slab;
  }

  /** Where the next payload starts in the current slab. */
  get used(): number {
    return this.#used;
  }

  /** Marks `length` bytes at `used` as a payload; returns it (a view of the slab). */
  commit(length: number): Uint8Array {
    const start = this.#used;
    this.#used = start + length;
    return this.#slab.subarray(start, start + length);
  }

  /** Copies `bytes` into the current slab; returns the copy. */
  copy(bytes: Uint8Array): Uint8Array {
    this.room(bytes.length).set(bytes, this.#used);
    return this.commit(bytes.length);
  }

  /**
   * A slab to encode into: on core NATS a full one whose bytes have surely left, else a new one. A new
   * 64 KiB buffer costs tens of microseconds on a loaded machine (a 4 KiB publisher paid more for its
   * slabs than for its messages). The client copies payloads into its write buffer when it writes, and
   * a flush (PING) goes out after every message published before it, so once the server answers flush
   * n, the slabs filled before flush n started hold nothing the client still reads.
   */
  #next(bytes: number): Uint8Array {
    const spare = this.#spare[0];
    if (spare !== undefined && this.#flushes !== undefined) {
      if (spare.freeAfter <= this.#flushes.flushesDone && spare.slab.length === bytes) {
        this.#spare.shift();
        this.#retire();
        return spare.slab;
      }
    }
    this.#retire();
    return new Uint8Array(bytes);
  }

  /** Keeps the full current slab for reuse after the next flush (core NATS). */
  #retire(): void {
    if (this.#flushes === undefined || this.#slab.length === 0 || this.#spare.length >= SPARE_SLABS) return;
    this.#spare.push({ slab: this.#slab, freeAfter: this.#flushes.flushesStarted + 1 });
  }
}
