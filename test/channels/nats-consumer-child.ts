/**
 * A JetStream consumer process for the crash test: receives from a durable consumer and prints
 * `GOT <seq>` when a message arrives and `ACK <seq>` once the server confirmed its ack. The test
 * SIGKILLs it mid-stream. Arguments: URL, ack wait (ms), max ack pending.
 */
import { open } from '../../src/channels/index.js';
import { Sample } from './sample.js';

const [url, ackWaitMs, maxAckPending] = process.argv.slice(2);
const channel = await open(url as `nats://${string}`, Sample, {
  ackWaitMs: Number(ackWaitMs),
  maxAckPending: Number(maxAckPending),
});
process.stdout.write('READY\n');
for await (const message of channel) {
  process.stdout.write(`GOT ${message.sequence}\n`);
  await message.ack?.();
  process.stdout.write(`ACK ${message.sequence}\n`);
}
