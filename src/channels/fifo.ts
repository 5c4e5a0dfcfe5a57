/**
 * FIFOs (`fifo:path`, named pipes: one-way, opened by path) and anonymous pipes to child processes
 * (`pipe`, see child.ts), as StreamChannels. Several writers may share one FIFO (`shared: true`):
 * then every write is whole records within PIPE_BUF, which the kernel keeps atomic.
 *
 * Kernel behaviour that shapes this module:
 * - mkfifo applies the umask: the FIFO gets its exact mode by a chmod after it.
 * - A writer's non-blocking open fails with ENXIO until a reader opened the FIFO, and nothing
 *   signals a reader's arrival: the open retries on a back-off (wait.ts).
 * - A reader's open returns at once, and read() gives 0 until the first writer opened it: only
 *   POLLHUP tells "a writer came and left" (end of stream) from "no writer yet" (see StreamChannel).
 */
import { type BigIntStats, fstatSync, lstatSync } from 'node:fs';
import { chmod } from 'node:fs/promises';
import type { MessageCodec } from '../codecs/codec.js';
import { UnsupportedError, ValidationError } from '../errors.js';
import { check, errnoName, errnos, libc, sockets, systemError } from '../native/index.js';
import type { Channel } from './channel.js';
import { checkAccess, checkCreate, checkMode } from './options.js';
import { adoptStream, frameSize, oneWay, StreamChannel, sharedTooLarge } from './stream.js';
import type { OpenOptions, PairOptions, Transport } from './transport.js';
import type { Address } from './url.js';
import { peerWait, sleepUntil } from './wait.js';

/** Creates the FIFO at `path` with exactly `mode` (mkfifo applies the umask, so chmod follows). */
async function createFifo(path: string, mode: number, exclusive: boolean): Promise<void> {
  if (libc.mkfifo(path, mode) === 0) {
    await chmod(path, mode);
    return;
  }
  const errno = libc.errno();
  if (errno !== errnos.EEXIST || exclusive) throw systemError(errno, 'mkfifo', path);
}

/**
 * Opens a FIFO's write end. Without a reader, a non-blocking open fails with ENXIO; the kernel offers
 * no event for "a reader opened", so this retries on a timer with exponential backoff (1 ms doubling
 * to 64 ms): no thread is parked and the event loop stays free.
 */
async function openFifoWriter(path: string, url: string, options: OpenOptions): Promise<number> {
  const wait = peerWait(`open ${url} for writing (waiting for a reader)`, options);
  for (let delay = 1; ; delay = Math.min(delay * 2, 64)) {
    const fd = libc.open(path, libc.O_WRONLY | FIFO_OPEN_FLAGS, 0);
    if (fd >= 0) return fd;
    const errno = libc.errno();
    if (errno !== errnos.ENXIO && errno !== errnos.EINTR) throw fifoOpenError(errno, path);
    await sleepUntil(delay, wait, options.ref !== false);
  }
}

/**
 * Every FIFO open: non-blocking, close-on-exec, and O_NOFOLLOW. Whoever can write the FIFO's
 * directory could otherwise swap the FIFO for a symlink to a FIFO of theirs, and read what this end
 * writes or feed what it reads (fs.protected_symlinks only guards sticky world-writable directories,
 * and is 0 on many machines). O_NOFOLLOW covers the last component; symlinks in the directories
 * above are followed, as the path is the caller's.
 */
const FIFO_OPEN_FLAGS = libc.O_NONBLOCK | libc.O_CLOEXEC | libc.O_NOFOLLOW;

function fifoOpenError(errno: number, path: string): Error {
  const hint =
    errnoName(errno) === 'ELOOP'
      ? "the path is a symbolic link, and FIFOs are opened without following one (another user could point it at a FIFO of theirs); give the FIFO's own path"
      : undefined;
  return systemError(errno, 'open', path, hint);
}

/** What lstat sees at `path`, or undefined when nothing is there. */
function lstatOf(path: string): BigIntStats | undefined {
  return lstatSync(path, { bigint: true, throwIfNoEntry: false });
}

/** Refuses, before opening it, a path that is not a FIFO (a regular file, a device, a symlink). */
function checkIsFifo(path: string): void {
  const stat = lstatOf(path);
  if (stat === undefined || stat.isFIFO()) return; // missing: open() says ENOENT
  const what = stat.isSymbolicLink() ? 'a symbolic link (FIFOs are opened without following one)' : 'not a FIFO';
  throw new ValidationError('url', 'the path of a FIFO (made by mkfifo or `create: true`)', `${path}: ${what}`);
}

/**
 * After the open: the descriptor must be a FIFO, and the very one the path names now (same device
 * and inode): a path swapped between the check and the open is refused, not used.
 */
function checkOpenedFifo(fd: number, path: string): void {
  const opened = fstatSync(fd, { bigint: true });
  const now = lstatOf(path);
  if (!opened.isFIFO()) {
    throw new ValidationError('url', 'the path of a FIFO (made by mkfifo or `create: true`)', `${path}: not a FIFO`);
  }
  if (now === undefined || now.dev !== opened.dev || now.ino !== opened.ino) {
    throw new ValidationError(
      'url',
      `the FIFO that was opened (device ${opened.dev}, inode ${opened.ino})`,
      `${path} replaced while it was being opened; someone else changes that directory: use one only you can write`,
    );
  }
}

async function openFifo<T>(address: Address, codec: MessageCodec<T>, options: OpenOptions): Promise<Channel<T>> {
  if (address.scheme !== 'fifo') throw new UnsupportedError(`${address.url}: not a fifo: URL`);
  const { path, url } = address;
  const access = checkAccess(
    options.access,
    ['send', 'receive'],
    'a FIFO is one-way: open one end to send and another to receive',
  );
  const { create, exclusive } = checkCreate(options);
  const mode = checkMode(options.mode);
  if (options.shared === true && frameSize(codec) > libc.PIPE_BUF) throw sharedTooLarge(url, frameSize(codec));
  if (create) await createFifo(path, mode, exclusive);
  checkIsFifo(path);
  // A reader's open returns at once: the kernel offers no non-blocking way to learn that a writer
  // opened. Its receive waits for the first writer instead (see #fill: 0 without POLLHUP is no EOF).
  let fd: number;
  if (access === 'receive') {
    fd = libc.open(path, libc.O_RDONLY | FIFO_OPEN_FLAGS, 0);
    if (fd < 0) throw fifoOpenError(libc.errno(), path);
  } else {
    fd = await openFifoWriter(path, url, options);
  }
  try {
    checkOpenedFifo(fd, path);
    return new StreamChannel(codec, {
      url,
      transport: 'fifo',
      fd,
      kind: 'pipe',
      access,
      fifoReader: access === 'receive',
      atomic: options.shared === true,
      ...(options.ref === undefined ? {} : { ref: options.ref }),
    });
  } catch (error) {
    libc.close(fd);
    throw error;
  }
}

async function unlinkFifo(address: Address): Promise<void> {
  if (address.scheme !== 'fifo') throw new UnsupportedError(`${address.url}: not a fifo: URL`);
  check(libc.unlink(address.path), 'unlink', address.path);
}

/** A pipe for a child: [parent's end (non-blocking), child's end (blocking)], by the parent's direction. */
function pipePair(options: PairOptions): [number, number] {
  const direction = options.direction ?? 'both';
  if (direction === 'both') throw oneWay('a pipe pair');
  const fds = new Int32Array(2);
  check(libc.pipe2(fds, libc.O_CLOEXEC), 'pipe2');
  const [readEnd = -1, writeEnd = -1] = fds;
  const [parent, child] = direction === 'receive' ? [readEnd, writeEnd] : [writeEnd, readEnd];
  sockets.setNonBlocking(parent);
  return [parent, child];
}

/** The FIFO and pipe transports, by URL scheme. */
export const transports: Partial<Record<string, Transport>> = {
  fifo: { open: openFifo, unlink: unlinkFifo },
  /** Anonymous pipes, for child processes only (`spawnWithChannel(..., { transport: 'pipe', direction })`). */
  pipe: { pair: pipePair, adopt: adoptStream },
};
