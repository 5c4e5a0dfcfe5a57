/**
 * The transports by scheme, and looking up the one a URL (or scheme) names for an operation.
 *
 * The transports a bare process needs (mq, sockets, streams, FIFOs: `spawnWithChannel` and
 * `inheritedChannel` adopt descriptors synchronously) are loaded with the package. The shared-memory
 * ring, pub/sub, System V and NATS (with its client) load on the first call of one of their
 * operations: a process that never opens them does not hold their code.
 * That is not only start-up time: `import 'typed-ipc'` with everything loaded leaves ~8.5 MB of old
 * generation under tsx, above V8's 8 MB incremental-marking threshold, and a 4 KiB receiver then runs
 * a mark-compact every 50-100 ms that frees nothing (docs/architecture.md, "What loads when").
 */
import { UnsupportedError } from '../errors.js';
import { transports as fifoTransports } from './fifo.js';
import { transports as mqTransports } from './mq.js';
import { transports as socketTransports } from './socket.js';
import { transports as streamTransports } from './stream-socket.js';
import type { Transport } from './transport.js';
import { type Address, parseUrl } from './url.js';

/** An operation of the Transport interface. */
export type Operation = keyof Transport;

/** The operations that return a promise, which a deferred transport can offer before it is loaded. */
type AsyncOperation = 'open' | 'connect' | 'bind' | 'listen' | 'unlink';

/** A module that exports `transports` by scheme, as every transport module does. */
type TransportModule = { readonly transports: Partial<Record<string, Transport>> };

/**
 * The `scheme` transport of the module `load` imports, as a Transport whose `operations` import it on
 * their first call. The operations are listed here because lookup must name what a scheme offers
 * before anything is loaded; a test checks each list against the module's own table.
 */
function deferred(
  scheme: string,
  operations: readonly AsyncOperation[],
  load: () => Promise<TransportModule>,
): Transport {
  let loaded: Promise<Transport> | undefined;
  const transport = async (): Promise<Transport> => {
    loaded ??= load().then((module) => {
      const found = module.transports[scheme];
      if (found === undefined) throw new UnsupportedError(`${scheme}: its module offers no transport`);
      return found;
    });
    return loaded;
  };
  const entry: Partial<Record<AsyncOperation, (...args: never[]) => Promise<unknown>>> = {};
  for (const operation of operations) {
    entry[operation] = async (...args: never[]) => {
      const fn = (await transport())[operation] as ((...a: never[]) => Promise<unknown>) | undefined;
      if (fn === undefined) throw new UnsupportedError(`${scheme}: its module has no ${operation}()`);
      return fn(...args);
    };
  }
  return entry as Transport;
}

/** The deferred transports: scheme, the operations it offers, its module. */
export const deferredTransports: Partial<Record<string, Transport>> = {
  shm: deferred('shm', ['open', 'unlink'], () => import('./ring.js')),
  'shm+pubsub': deferred('shm+pubsub', ['open', 'unlink'], () => import('./pubsub/index.js')),
  sysv: deferred('sysv', ['open', 'unlink'], () => import('./sysv/index.js')),
  nats: deferred('nats', ['open', 'connect'], () => import('./nats/open.js')),
};

const registry: Partial<Record<string, Transport>> = {
  ...mqTransports,
  ...socketTransports,
  ...fifoTransports,
  ...streamTransports,
  ...deferredTransports,
};

/** The transport for `scheme` and its `operation`; UnsupportedError naming what it offers instead. */
export function transportOperation<K extends Operation>(scheme: string, operation: K): NonNullable<Transport[K]> {
  const transport = registry[scheme];
  if (transport === undefined) throw new UnsupportedError(`${scheme}: channels are not available yet`);
  const fn = transport[operation];
  if (fn === undefined) {
    const offered = (Object.keys(transport) as Operation[]).filter((op) => transport[op] !== undefined);
    throw new UnsupportedError(`${scheme}: channels do not support ${operation}(); use ${offered.join(', ')}`);
  }
  return fn.bind(transport) as NonNullable<Transport[K]>;
}

/** Parses `url` and finds its transport's `operation`. */
export function lookup<K extends Operation>(url: string, operation: K): [Address, NonNullable<Transport[K]>] {
  const address = parseUrl(url);
  return [address, transportOperation(address.scheme, operation)];
}
