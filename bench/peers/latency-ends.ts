/**
 * The two ends of a ping-pong over one transport, as bench/latency.bench.ts and
 * test/channels/wait-strategy.test.ts open them (see latency-peer.ts for what <a> and <b> name).
 */
import { bind, type Channel, type ChannelOptions, connect, listen, open } from '../../src/index.js';
import { Sample } from '../../test/channels/sample.js';

/** One end's receiving and sending channels (the same one on sockets), and a reply function. */
export interface Ends {
  readonly rx: Channel<Sample>;
  readonly tx: Channel<Sample>;
  /** How the pong end answers a message (sendTo its sender on unbound datagram peers). */
  reply(value: Sample, from: string | undefined): Promise<void>;
  close(): Promise<void>;
}

function oneWay(rx: Channel<Sample>, tx: Channel<Sample>): Ends {
  return {
    rx,
    tx,
    reply: (value) => tx.send(value),
    close: async () => {
      await tx.close();
      await rx.close();
    },
  };
}

function both(channel: Channel<Sample>, extra: { close(): Promise<void> }[] = []): Ends {
  return {
    rx: channel,
    tx: channel,
    reply: (value) => channel.send(value),
    close: async () => {
      await channel.close();
      for (const other of extra) await other.close();
    },
  };
}

/**
 * Opens one end: `pong` receives on <a> and answers on <b> (sockets: binds or listens on <a> and
 * prints `ready <url>` when `announce` is set), the ping end the other way round.
 */
export async function ends(
  transport: string,
  pong: boolean,
  a: string,
  b: string,
  wait: ChannelOptions,
  announce: (url: string) => void = () => {},
): Promise<Ends> {
  const [inbound, outbound] = pong ? [a, b] : [b, a];
  switch (transport) {
    case 'mq':
    case 'shm':
      return oneWay(await open(inbound, Sample, wait), await open(outbound, Sample, wait));
    case 'shm+pubsub': {
      // Subscribe first (a message published before a subscriber joins is not its to read); the pong
      // end says `ready` once it listens, and the ping end publishes only after that.
      const rx = await open(inbound, Sample, { access: 'receive', ...wait });
      if (pong) announce(inbound);
      return oneWay(rx, await open(outbound, Sample, { access: 'send', ...wait }));
    }
    case 'fifo': {
      // Both ends open their read side first would deadlock: the pong end opens its reader first, the ping end its writer.
      if (pong) {
        const rx = await open(inbound, Sample, { access: 'receive', ...wait });
        return oneWay(rx, await open(outbound, Sample, { access: 'send', ...wait }));
      }
      const tx = await open(outbound, Sample, { access: 'send', ...wait });
      return oneWay(await open(inbound, Sample, { access: 'receive', ...wait }), tx);
    }
    case 'unix+dgram': {
      if (!pong) return both(await connect(a, Sample, wait));
      const server = await bind(a, Sample, wait);
      announce(a);
      return {
        rx: server,
        tx: server,
        reply: (value, from) => server.sendTo(from!, value),
        close: () => server.close(),
      };
    }
    case 'unix+seqpacket':
    case 'unix+stream':
    case 'tcp': {
      if (!pong) return both(await connect(a, Sample, wait));
      const listener = await listen(a, Sample, wait);
      announce(listener.url);
      return both(await listener.accept(), [listener]);
    }
    default:
      throw new Error(`unknown transport ${transport}`);
  }
}
