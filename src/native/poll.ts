/**
 * Readiness of a file descriptor from the Node event loop, through koffi's (undocumented, pinned)
 * `koffi.node.poll`, which wraps a libuv `uv_poll_t`. Waiting costs no thread: the descriptor sits in
 * libuv's epoll set while someone waits on it, and a thousand waiting channels cost a thousand epoll
 * entries, nothing more.
 *
 * Kernel and libuv behaviour that shapes this module:
 * - libuv allows one poll handle per descriptor, so each FdWatch owns one handle and multiplexes
 *   its readers and writers onto it by restarting it with the union of the wanted events.
 * - A started handle puts the descriptor in libuv's epoll set, and then every system call of the peer
 *   that changes the object's state (a send on a socket or queue we read, a receive that frees room
 *   we wait for) runs the epoll wake-up callback inside the kernel, under the object's lock. So the
 *   handle is stopped as soon as nobody waits in a direction (uv_poll_stop removes the descriptor
 *   from the epoll set at once; uv_poll_start adds it back on the next loop turn). Measured on
 *   unix+dgram: the sender's CPU per message drops by about a tenth against a handle left started,
 *   more than the two epoll_ctl calls a wait now costs.
 * - uv_poll is level-triggered: a started handle on a ready descriptor fires on every loop turn,
 *   which is why an event for a direction nobody waits on stops watching that direction (no spin).
 * - The callback receives `(status, events)`, not `(events)` as koffi's .d.ts says.
 * - EPOLLHUP is reported as the wanted events, EPOLLERR as status UV_EBADF with the handle stopped:
 *   either way waiters wake up, retry their call and see the error (EPIPE, EOF) there, where it belongs.
 * - While Node tears down its environment it runs the loop once more (Environment::CleanupHandles);
 *   a started koffi poll handle whose descriptor is ready then calls into JS, which aborts the
 *   process ("FATAL ERROR: napi_throw"). Every open handle is therefore stopped on process 'exit'.
 */
// First: refuse another architecture before koffi loads (see arch.ts).
import './arch.js';
import koffi, { type node } from 'koffi';
import { AbortError, ChannelClosedError, TimeoutError, UnsupportedError } from '../errors.js';
import { systemError } from './errors.js';

type PollHandle = node.PollHandle;

/** libuv's UV_EBADF (-EBADF), which it also uses for EPOLLERR on a poll handle. */
const UV_EBADF = -9;

/** When to give up waiting: an absolute deadline (performance.now() ms) and/or an AbortSignal. */
export interface WaitOptions {
  /** Absolute time from `performance.now()`; Infinity or undefined waits forever. */
  readonly deadline?: number | undefined;
  /** Operation name and the caller's timeout, for the TimeoutError message. */
  readonly operation?: string | undefined;
  readonly timeoutMs?: number | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** Turns `{ timeoutMs }` into an absolute deadline for WaitOptions. */
export function deadlineOf(timeoutMs: number | undefined): number {
  return timeoutMs === undefined ? Number.POSITIVE_INFINITY : performance.now() + timeoutMs;
}

interface Waiter {
  resolve(): void;
  reject(error: unknown): void;
  /** The timeout of this wait, if it has one (re-referenced by ref()/unref()). */
  timer?: NodeJS.Timeout | undefined;
}

type Direction = 'readable' | 'writable';

/** Poll handles not closed yet, stopped when the process exits (see the module comment). */
const openHandles = new Set<PollHandle>();
let stopOnExit = false;

function trackHandle(handle: PollHandle): void {
  openHandles.add(handle);
  if (stopOnExit) return;
  stopOnExit = true;
  process.once('exit', () => {
    for (const open of openHandles) open.stop();
  });
}

const READABLE = 1;
const WRITABLE = 2;

/** Waits for a descriptor to become readable or writable, without blocking the event loop. */
export class FdWatch {
  readonly fd: number;
  #handle: PollHandle | undefined;
  #readers = new Set<Waiter>();
  #writers = new Set<Waiter>();
  /** Events the libuv handle is started for (READABLE | WRITABLE), 0 when stopped. */
  #started = 0;
  /** Whether the libuv handle currently keeps the loop alive. */
  #handleRef = false;
  #closed = false;
  #ref = true;

  constructor(fd: number) {
    this.fd = fd;
  }

  /** Resolves when the descriptor is readable (or in error / hung up). */
  readable(options: WaitOptions = {}): Promise<void> {
    return this.#wait('readable', options);
  }

  /** Resolves when the descriptor is writable (or in error / hung up). */
  writable(options: WaitOptions = {}): Promise<void> {
    return this.#wait('writable', options);
  }

  /** Whether someone is waiting at the moment. */
  get waiting(): boolean {
    return this.#readers.size + this.#writers.size > 0;
  }

  /** Lets the process exit even while someone waits on this descriptor. */
  unref(): void {
    this.#ref = false;
    this.#refresh();
  }

  /** Keeps the process alive while someone waits on this descriptor (the default). */
  ref(): void {
    this.#ref = true;
    this.#refresh();
  }

  /** Stops watching; pending waits reject with ChannelClosedError. Does not close the descriptor. */
  close(error: unknown = new ChannelClosedError()): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#handle !== undefined) openHandles.delete(this.#handle);
    this.#handle?.close();
    this.#handle = undefined;
    for (const waiter of [...this.#readers, ...this.#writers]) waiter.reject(error);
  }

  #wait(direction: Direction, options: WaitOptions): Promise<void> {
    if (this.#closed) return Promise.reject(new ChannelClosedError());
    const { signal, deadline = Number.POSITIVE_INFINITY } = options;
    if (signal?.aborted) return Promise.reject(new AbortError(options.operation ?? 'wait', signal.reason));
    const remaining = deadline - performance.now();
    if (remaining <= 0) return Promise.reject(this.#timeout(options));

    const set = direction === 'readable' ? this.#readers : this.#writers;
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => settle(new AbortError(options.operation ?? 'wait', signal?.reason));
      const settle = (error?: unknown): void => {
        if (!set.delete(waiter)) return;
        if (waiter.timer !== undefined) clearTimeout(waiter.timer);
        signal?.removeEventListener('abort', onAbort);
        this.#update();
        if (error === undefined) resolve();
        else reject(error);
      };
      const waiter: Waiter = { resolve: () => settle(), reject: (error) => settle(error) };
      set.add(waiter);
      if (Number.isFinite(remaining)) {
        waiter.timer = setTimeout(() => settle(this.#timeout(options)), Math.ceil(remaining));
        if (!this.#ref) waiter.timer.unref();
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        this.#update();
      } catch (error) {
        settle(error);
      }
    });
  }

  #timeout(options: WaitOptions): TimeoutError {
    return new TimeoutError(options.operation ?? 'wait', options.timeoutMs ?? 0);
  }

  /** Makes the libuv handle watch at least what is waited for, and keep the loop alive only then. */
  #update(): void {
    if (this.#closed) return;
    const wanted = (this.#readers.size > 0 ? READABLE : 0) | (this.#writers.size > 0 ? WRITABLE : 0);
    // Watch exactly what is waited for: nothing at all while nobody waits (see the module comment).
    if (wanted !== this.#started) this.#start(wanted);
    this.#setHandleRef(wanted !== 0 && this.#ref);
  }

  #start(events: number): void {
    const opts = { readable: (events & READABLE) !== 0, writable: (events & WRITABLE) !== 0 };
    const callback = this.#onEvent as unknown as (ev: node.PollEvents) => void;
    if (this.#handle === undefined) {
      const handle = koffi.node.poll(this.fd, opts, callback);
      if (handle === null || handle === undefined) {
        throw new UnsupportedError(`fd ${this.fd} cannot be watched for readiness (libuv's poll refused it)`);
      }
      this.#handle = handle;
      this.#handleRef = true;
      trackHandle(handle);
    } else if (events === 0) {
      this.#handle.stop();
    } else {
      this.#handle.start(opts, callback);
    }
    this.#started = events;
  }

  #setHandleRef(on: boolean): void {
    if (this.#handle === undefined || on === this.#handleRef) return;
    this.#handleRef = on;
    if (on) this.#handle.ref();
    else this.#handle.unref();
  }

  /** Applies a ref()/unref() to the handle and to the timers of pending waits. */
  #refresh(): void {
    this.#setHandleRef(this.waiting && this.#ref);
    for (const waiter of [...this.#readers, ...this.#writers]) {
      if (this.#ref) waiter.timer?.ref();
      else waiter.timer?.unref();
    }
  }

  #onEvent = (status: number, events: { readable: boolean; writable: boolean }): void => {
    if (status === UV_EBADF) {
      // libuv reports EPOLLERR on a poll handle as UV_EBADF and stops the handle (a FIFO writer whose
      // reader left, a socket with a pending error). Wake everyone: each retries its call and sees the
      // real error there (EPIPE, ECONNRESET, or EBADF itself); waiting again restarts the handle.
      this.#started = 0;
      for (const waiter of [...this.#readers, ...this.#writers]) waiter.resolve();
      return;
    }
    if (status < 0) {
      this.close(systemError(-status, 'poll'));
      return;
    }
    // A ready direction that nobody waits for would fire again on every loop turn: stop watching it.
    let keep = this.#started;
    if (events.readable && this.#readers.size === 0) keep &= ~READABLE;
    if (events.writable && this.#writers.size === 0) keep &= ~WRITABLE;
    if (keep !== this.#started) this.#start(keep);
    // Wake everyone waiting in a ready direction; each retries its non-blocking call and waits
    // again if another waiter got there first.
    if (events.readable) for (const waiter of [...this.#readers]) waiter.resolve();
    if (events.writable) for (const waiter of [...this.#writers]) waiter.resolve();
  };
}
