/**
 * `ref.ts <mode> <url>`: how an mq channel keeps a process alive. The parent created the queue.
 * - idle: opens the channel and never waits: the process must end by itself.
 * - idle-after-wait: waits for one message, then puts one back (readable, nobody waiting): must end.
 * - await: waits in receive with nothing else in the loop: must stay alive until a message comes.
 * - unref: like await on an unref()'d channel (with a timeout too): must end without the message.
 * - ref-again: unref() then ref(): like await.
 * - no-spin: like idle-after-wait, but stays 500 ms longer and prints how busy its loop was then.
 * - spin: like no-spin, with a loop that never idles over those 500 ms (the control: what a poll
 *   handle left firing on a readable descriptor does).
 * - send-full: fills the queue and waits in send: prints how busy its loop was over 500 ms of that
 *   wait, then must stay alive until the parent makes room, and print `sent`.
 * `busy <u> cpu <ms>`: the event loop's utilisation over the window (0 idle .. 1 never idle) and the CPU
 * time used. Utilisation tells a spinning loop from an idle one however little CPU a loaded machine
 * gives the process; CPU time alone does not (a spinning process starved of CPU uses little of it).
 * Prints `waiting` once it waits, `got <channel>` when it receives, `exit` when the process ends.
 */
import { open } from '../../../src/index.js';
import { Sample } from '../../channels/sample.js';

const [mode = '', url = ''] = process.argv.slice(2);
process.on('exit', () => process.stdout.write('exit\n'));
const channel = await open(url, Sample);

/** Waits 500 ms and reports how busy the loop was meanwhile; with `spin`, keeps the loop from idling. */
async function busy(spin = false): Promise<string> {
  const start = performance.eventLoopUtilization();
  const before = process.cpuUsage();
  let spinning = spin;
  const turn = (): void => {
    if (spinning) setImmediate(turn);
  };
  if (spin) setImmediate(turn);
  await new Promise((resolve) => setTimeout(resolve, 500));
  spinning = false;
  const used = process.cpuUsage(before);
  const utilisation = performance.eventLoopUtilization(start).utilization;
  return `busy ${utilisation.toFixed(3)} cpu ${(used.user + used.system) / 1000}\n`;
}

const receive = async (options = {}): Promise<void> => {
  const pending = channel.receive(options);
  process.stdout.write('waiting\n');
  const { value } = await pending;
  process.stdout.write(`got ${value.channel}\n`);
};

switch (mode) {
  case 'idle':
    break;
  case 'idle-after-wait':
  case 'no-spin':
  case 'spin':
    await receive();
    channel.trySend({ channel: 99, timestamp: 0n, value: 0 });
    if (mode !== 'idle-after-wait') process.stdout.write(await busy(mode === 'spin'));
    break;
  case 'send-full': {
    while (channel.trySend({ channel: 1, timestamp: 0n, value: 0 }));
    const sending = channel.send({ channel: 2, timestamp: 0n, value: 0 });
    process.stdout.write('waiting\n');
    process.stdout.write(await busy());
    await sending;
    process.stdout.write('sent\n');
    break;
  }
  case 'await':
    await receive();
    break;
  case 'unref':
    channel.unref();
    void receive();
    void channel.receive({ timeoutMs: 60_000 });
    break;
  case 'ref-again':
    channel.unref().ref();
    await receive();
    break;
  default:
    throw new Error(`unknown mode ${mode}`);
}
