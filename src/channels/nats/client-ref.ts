/**
 * ref()/unref() of a NATS connection. The client has no unref of its own, so this reaches its socket,
 * its ping timer and (JetStream) the consumer's heartbeat monitor, in the pinned client version; the
 * handles it makes anew (a socket after a reconnect, each ping timer) follow as they come.
 */
import type { ConsumerMessages } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';

/** The parts of the client's protocol handler that ref()/unref() reach (nats-core's ProtocolHandler). */
interface ClientInternals {
  transport?: { socket?: { ref(): unknown; unref(): unknown } };
  heartbeats?: { timer?: NodeJS.Timeout; _schedule?: () => void };
}

export class ClientRef {
  readonly #nc: NatsConnection;
  #ref = true;
  #patchedHeartbeats = false;
  /** JetStream: the consumer whose heartbeat monitor follows too. */
  consumer: ConsumerMessages | undefined;

  constructor(nc: NatsConnection) {
    this.#nc = nc;
  }

  /** Whether the connection keeps the process alive. */
  get ref(): boolean {
    return this.#ref;
  }

  /** Makes the connection's handles keep the process alive (true) or not (false). */
  set(ref: boolean): void {
    this.#ref = ref;
    this.apply();
  }

  /** Applies the setting to the handles there are now (after a reconnect: the new socket). */
  apply(): void {
    const protocol = (this.#nc as unknown as { protocol?: ClientInternals }).protocol;
    const hold = (handle: { ref(): unknown; unref(): unknown } | undefined) =>
      this.#ref ? handle?.ref() : handle?.unref();
    hold(protocol?.transport?.socket);
    const heartbeats = protocol?.heartbeats;
    if (heartbeats !== undefined && typeof heartbeats._schedule === 'function') {
      hold(heartbeats.timer);
      if (!this.#patchedHeartbeats) {
        // The ping timer is a new setTimeout each interval: each one follows ref()/unref() as it is made.
        this.#patchedHeartbeats = true;
        const schedule = heartbeats._schedule;
        heartbeats._schedule = () => {
          schedule.call(heartbeats);
          hold(heartbeats.timer);
        };
      }
    }
    hold((this.consumer as { monitor?: { timer?: NodeJS.Timeout } } | undefined)?.monitor?.timer);
  }
}
