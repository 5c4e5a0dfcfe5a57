/**
 * JetStream setup: the stream a channel creates with `create: true` (its limits), and the durable
 * consumer a receiving channel reads through (created when missing, explicit acks), consumed into a
 * callback.
 */
import {
  AckPolicy,
  type ConsumerMessages,
  DeliverPolicy,
  DiscardPolicy,
  type JetStreamClient,
  type JsMsg,
  jetstreamManager,
  StorageType,
  type StreamConfig,
} from '@nats-io/jetstream';
import { type NatsConnection, nanos } from '@nats-io/transport-node';
import type { NatsOptions } from '../nats.js';
import { errorText } from './errors.js';

function streamConfig(name: string, subject: string, options: NatsOptions): Partial<StreamConfig> & { name: string } {
  // OpenOptions' capacity (the CLI's --capacity) is the created stream's message limit unless limits say more.
  const limits = { ...(options.capacity === undefined ? {} : { maxMsgs: options.capacity }), ...options.limits };
  const config: Partial<StreamConfig> & { name: string } = {
    name,
    subjects: [...(limits.subjects ?? [subject])],
    storage: limits.storage === 'memory' ? StorageType.Memory : StorageType.File,
    discard: limits.discard === 'old' ? DiscardPolicy.Old : DiscardPolicy.New,
    num_replicas: limits.replicas ?? 1,
  };
  if (limits.maxMsgs !== undefined) config.max_msgs = limits.maxMsgs;
  if (limits.maxBytes !== undefined) config.max_bytes = limits.maxBytes;
  if (limits.maxAgeMs !== undefined) config.max_age = nanos(limits.maxAgeMs);
  if (limits.maxMsgSize !== undefined) config.max_msg_size = limits.maxMsgSize;
  return config;
}

type Manager = Awaited<ReturnType<typeof jetstreamManager>>;

/** Runs `create` unless `look` finds the object (a failure other than `missing` is thrown). */
async function ensure(
  nc: NatsConnection,
  look: (jsm: Manager) => Promise<unknown>,
  missing: RegExp,
  create: (jsm: Manager) => Promise<unknown>,
): Promise<void> {
  const jsm = await jetstreamManager(nc);
  try {
    await look(jsm);
    return;
  } catch (error) {
    if (!missing.test(errorText(error))) throw error;
  }
  await create(jsm);
}

/** Creates stream `name` (storing `subject` unless the limits name subjects) when it does not exist. */
export function ensureStream(nc: NatsConnection, name: string, subject: string, options: NatsOptions): Promise<void> {
  const config = streamConfig(name, subject, options);
  return ensure(
    nc,
    (jsm) => jsm.streams.info(name),
    /stream not found/i,
    (jsm) => jsm.streams.add(config),
  );
}

/** Where a durable consumer reads from. */
export interface DurableConsumer {
  readonly stream: string;
  readonly durable: string;
  readonly subject: string;
}

/** Creates the durable consumer (explicit acks, from the first message) when it does not exist. */
function ensureConsumer(nc: NatsConnection, where: DurableConsumer, options: NatsOptions): Promise<void> {
  const config = {
    durable_name: where.durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    filter_subject: where.subject,
    ack_wait: nanos(options.ackWaitMs ?? 30_000),
    max_ack_pending: options.maxAckPending ?? 1000,
  };
  return ensure(
    nc,
    (jsm) => jsm.consumers.info(where.stream, where.durable),
    /consumer not found/i,
    (jsm) => jsm.consumers.add(where.stream, config),
  );
}

/** Starts consuming from the durable consumer (created if missing); every message goes to `onMessage`. */
export async function consumeDurable(
  nc: NatsConnection,
  js: JetStreamClient,
  where: DurableConsumer,
  options: NatsOptions,
  onMessage: (msg: JsMsg) => void,
): Promise<ConsumerMessages> {
  await ensureConsumer(nc, where, options);
  const consumer = await js.consumers.get(where.stream, where.durable);
  const maxAckPending = options.maxAckPending ?? 1000;
  return consumer.consume({ max_messages: Math.min(maxAckPending, 512), callback: onMessage });
}
