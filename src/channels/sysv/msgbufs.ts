/** The native memory of a `sysv:` channel's `struct msgbuf`s. */
import { libc } from '../../native/index.js';

export const MTYPE = libc.MTYPE_SIZE;

/** Frees the msgbufs of a channel that was dropped without close(). */
const unclosed = new FinalizationRegistry<bigint>((address) => libc.free(address));

/**
 * A channel's `struct msgbuf`s in one piece of native memory: for sends at 0, for receives at `rxAt`
 * (8-aligned, as the kernel's `long mtype` wants), and the mtype of a probe at `peekAt`. Freed by
 * close(), or when a channel that was never closed is collected. No call is made after close (every
 * send and receive checks the channel is open first); the addresses are 0 (NULL) after `free`, so a
 * call that slipped through would fail with EFAULT rather than write to freed memory.
 */
export class MsgBuffers {
  readonly memory: ArrayBuffer;
  readonly rxAt: number;
  readonly peekAt: number;
  tx: bigint;
  rx: bigint;
  peek: bigint;

  constructor(owner: object, size: number) {
    const align = (n: number): number => Math.ceil(n / 8) * 8;
    this.rxAt = align(MTYPE + size);
    this.peekAt = this.rxAt + align(MTYPE + size + 1);
    const total = this.peekAt + MTYPE;
    this.tx = libc.allocNative(total);
    this.rx = this.tx + BigInt(this.rxAt);
    this.peek = this.tx + BigInt(this.peekAt);
    this.memory = libc.viewNative(this.tx, total);
    new Uint8Array(this.memory).fill(0);
    unclosed.register(owner, this.tx, this);
  }

  free(): void {
    if (this.tx === 0n) return;
    unclosed.unregister(this);
    libc.free(this.tx);
    this.tx = 0n;
    this.rx = 0n;
    this.peek = 0n;
  }
}
