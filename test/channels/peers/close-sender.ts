/**
 * `close-sender.ts <transport> <url> <extra>`: the producer end of a stress-table transport fills the
 * channel until the kernel takes no more (trySend false; at most 200 000 messages, none for UDP, which
 * never fills), makes <extra> more `send` calls that it does not await, calls close(), and only then
 * prints `accepted <n>` (the reader's cue to start). An unhandled rejection of any of those sends kills this process (Node's default), so
 * exit code 0 and `closed` on stdout mean every accepted send was delivered before close() resolved.
 */
import { makeSample, Sample } from '../../stress/sample.js';
import { transportNamed } from '../../stress/transports.js';

const [name = '', url = '', extraArg = '20'] = process.argv.slice(2);
const entry = transportNamed(name);
const channel = await entry.producer(url, Sample);
let accepted = 0;
if (entry.reliable) while (accepted < 200_000 && channel.trySend(makeSample(1, accepted))) accepted++;
for (let i = 0; i < Number(extraArg); i++) void channel.send(makeSample(1, accepted++));
// close() is called before the reader is told to start: nothing can drain in between.
const closing = channel.close({ timeoutMs: 60_000 });
process.stdout.write(`accepted ${accepted}\n`);
await closing;
process.stdout.write('closed\n');
