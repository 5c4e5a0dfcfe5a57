/** The transports by scheme, and looking up the one a URL (or scheme) names for an operation. */
import { UnsupportedError } from '../errors.js';
import { transports as fifoTransports } from './fifo.js';
import { transports as mqTransports } from './mq.js';
import { transports as natsTransports } from './nats.js';
import { transports as pubsubTransports } from './pubsub/index.js';
import { transports as ringTransports } from './ring.js';
import { transports as socketTransports } from './socket.js';
import { transports as streamTransports } from './stream-socket.js';
import { transports as sysvTransports } from './sysv/index.js';
import type { Transport } from './transport.js';
import { type Address, parseUrl } from './url.js';

const registry: Partial<Record<string, Transport>> = {
  ...mqTransports,
  ...natsTransports,
  ...ringTransports,
  ...pubsubTransports,
  ...socketTransports,
  ...fifoTransports,
  ...streamTransports,
  ...sysvTransports,
};

/** An operation of the Transport interface. */
export type Operation = keyof Transport;

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
