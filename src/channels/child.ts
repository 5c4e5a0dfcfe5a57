/**
 * A typed channel to a child process on an inherited descriptor. The parent makes a connected pair
 * with a transport's `pair` (a socketpair for `unix+seqpacket`, `unix+dgram` and `unix+stream`, a pipe
 * for `pipe`; each module lists its own in a `transports` record), keeps
 * one end as a Channel, and passes the other to the child as descriptor `fd` (3 by default). The
 * child finds it through the environment:
 *
 * - `TYPED_IPC_FD`: the descriptor number;
 * - `TYPED_IPC_TRANSPORT`: the scheme whose `adopt` wraps it (e.g. `unix+seqpacket`);
 * - `TYPED_IPC_FINGERPRINT`: the parent's codec fingerprint, checked by `inheritedChannel`;
 * - `TYPED_IPC_DIRECTION`: the child's direction (`send`, `receive`, `both`), for one-way transports.
 *
 * A Node child calls `inheritedChannel(codec)`; a C child reads and writes the descriptor directly
 * (one `struct` per read/write on seqpacket and dgram pairs).
 *
 * The child's exit shows as EOF on a `unix+seqpacket` pair (the parent's iterator ends). On a
 * `unix+dgram` pair only the next send notices (ChannelClosedError); watch the child's `exit` event.
 *
 * Adding a transport: give its entry in a `transports` record (any key, e.g. `pipe`) a `pair` and
 * an `adopt` (see `Transport` in transport.ts); `spawnWithChannel(cmd, args, codec, { transport:
 * key })` and `inheritedChannel` then work with it unchanged.
 */
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import type { MessageCodec } from '../codecs/codec.js';
import { SchemaError, ValidationError } from '../errors.js';
import { libc } from '../native/index.js';
import type { Channel, ChannelOptions } from './channel.js';
import { transportOperation } from './registry.js';
import type { Direction } from './transport.js';

/** Environment variable names the child reads (see the module comment). */
export const CHILD_ENV = {
  fd: 'TYPED_IPC_FD',
  transport: 'TYPED_IPC_TRANSPORT',
  fingerprint: 'TYPED_IPC_FINGERPRINT',
  direction: 'TYPED_IPC_DIRECTION',
} as const;

type Stdio = 'pipe' | 'ignore' | 'inherit';

/** Options of `spawnWithChannel`: Node's spawn options (but `stdio`) plus the channel's. */
export interface ChildChannelOptions extends Omit<SpawnOptions, 'stdio'>, ChannelOptions {
  /** A scheme whose transport can make pairs: `unix+seqpacket` (default) or `unix+dgram`. */
  readonly transport?: string;
  /** The descriptor number the child gets its end on; default 3. */
  readonly fd?: number;
  /** The parent's direction on one-way transports (pipes); sockets are always both. */
  readonly direction?: Direction;
  /** The child's stdin, stdout and stderr; default `['ignore', 'pipe', 'pipe']`. */
  readonly stdio?: readonly [Stdio, Stdio, Stdio];
}

/** A spawned child and the parent's end of its channel. */
export interface SpawnedChannel<T> {
  readonly child: ChildProcess;
  readonly channel: Channel<T>;
}

const opposite: Record<Direction, Direction> = { send: 'receive', receive: 'send', both: 'both' };

/**
 * Spawns `command` with a typed channel on descriptor `options.fd` (3). The child's end is closed in
 * the parent once the child has it, so the parent sees the child's exit as EOF (on seqpacket).
 *
 * @example
 * ```ts
 * const { child, channel } = spawnWithChannel('./c-worker', [], Sample); // reads and writes fd 3
 * await channel.send({ channel: 1, timestamp: 1n, value: 0.5 });
 * ```
 * @throws {@link ValidationError} for a descriptor outside [3, 1023].
 * @throws {@link SystemError} when the socket pair cannot be made (e.g. `EMFILE`).
 */
export function spawnWithChannel<T>(
  command: string,
  args: readonly string[],
  codec: MessageCodec<T>,
  options: ChildChannelOptions = {},
): SpawnedChannel<T> {
  const { transport = 'unix+seqpacket', fd = 3, direction = 'both', stdio = ['ignore', 'pipe', 'pipe'] } = options;
  if (!Number.isInteger(fd) || fd < 3 || fd > 1023) {
    throw new ValidationError('fd', 'an integer in [3, 1023] (0-2 are stdio)', String(fd));
  }
  const pair = transportOperation(transport, 'pair');
  const adopt = transportOperation(transport, 'adopt');
  const [parentFd, childFd] = pair({ direction });
  let channel: Channel<T>;
  try {
    channel = adopt(parentFd, codec, { ...channelOptions(options), direction, peer: false });
  } catch (error) {
    libc.close(parentFd);
    libc.close(childFd);
    throw error;
  }
  const childStdio: (Stdio | number)[] = [...stdio];
  while (childStdio.length < fd) childStdio.push('ignore');
  childStdio[fd] = childFd;
  try {
    const child = spawn(command, args, {
      ...spawnOptions(options),
      stdio: childStdio,
      env: {
        ...(options.env ?? process.env),
        [CHILD_ENV.fd]: String(fd),
        [CHILD_ENV.transport]: transport,
        [CHILD_ENV.fingerprint]: codec.fingerprint,
        [CHILD_ENV.direction]: opposite[direction],
      },
    });
    return { child, channel };
  } catch (error) {
    void channel.close();
    throw error;
  } finally {
    // The child has its own copy (or spawn failed): the parent's copy must go, or EOF never comes.
    libc.close(childFd);
  }
}

/**
 * Spawns a Node script (`node ...execArgv script ...args`) with a typed channel; the child calls
 * `inheritedChannel(codec)`. Pass `execArgv: ['--import', 'tsx']` for a TypeScript script.
 *
 * @example
 * ```ts
 * const { child, channel } = spawnNodeWithChannel('./worker.js', [], Sample);
 * for await (const { value } of channel) console.log(value); // ends when the child exits
 * ```
 * @throws {@link ValidationError} for a descriptor outside [3, 1023].
 * @throws {@link SystemError} when the socket pair cannot be made (e.g. `EMFILE`).
 */
export function spawnNodeWithChannel<T>(
  script: string,
  args: readonly string[],
  codec: MessageCodec<T>,
  options: ChildChannelOptions & { readonly execArgv?: readonly string[] } = {},
): SpawnedChannel<T> {
  const { execArgv = [], ...rest } = options;
  return spawnWithChannel(process.execPath, [...execArgv, script, ...args], codec, rest);
}

/**
 * In a child spawned by `spawnWithChannel`: the channel on the inherited descriptor.
 *
 * @example
 * ```ts
 * const channel = inheritedChannel(Sample);
 * await channel.send({ channel: 1, timestamp: process.hrtime.bigint(), value: 42 });
 * ```
 * @throws {@link SchemaError} when the parent's codec has another layout (fingerprint).
 * @throws {@link ValidationError} when the process was not spawned with a channel.
 */
export function inheritedChannel<T>(codec: MessageCodec<T>, options: ChannelOptions = {}): Channel<T> {
  const fd = Number(process.env[CHILD_ENV.fd]);
  const transport = process.env[CHILD_ENV.transport];
  if (!Number.isInteger(fd) || fd < 0 || transport === undefined) {
    throw new ValidationError(
      `env ${CHILD_ENV.fd}/${CHILD_ENV.transport}`,
      'a descriptor number and a scheme set by spawnWithChannel in the parent',
      `${String(process.env[CHILD_ENV.fd])}/${String(transport)}`,
    );
  }
  const fingerprint = process.env[CHILD_ENV.fingerprint];
  if (fingerprint !== undefined && fingerprint !== codec.fingerprint) {
    throw new SchemaError(
      `the parent's ${transport} channel carries messages with fingerprint ${fingerprint}, but this child's ${codec.name} codec has ${codec.fingerprint}: both sides must use the same schema`,
    );
  }
  const direction = (process.env[CHILD_ENV.direction] ?? 'both') as Direction;
  // Adopt once: a second call would wrap (and later close) the same descriptor twice.
  delete process.env[CHILD_ENV.fd];
  return transportOperation(transport, 'adopt')(fd, codec, { ...options, direction });
}

function channelOptions(options: ChildChannelOptions): ChannelOptions {
  return {
    ...(options.ref === undefined ? {} : { ref: options.ref }),
    ...(options.wait === undefined ? {} : { wait: options.wait }),
  };
}

function spawnOptions(options: ChildChannelOptions): SpawnOptions {
  const { transport: _t, fd: _f, direction: _d, stdio: _s, ref: _r, wait: _w, ...rest } = options;
  return rest;
}
