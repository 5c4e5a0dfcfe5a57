/**
 * Node peer for the socket tests, run as a child process:
 *   echo                  inheritedChannel: send every sample back with value * 2 until EOF
 *   send N                inheritedChannel: send samples 0..N-1 (sendMany in batches), then close
 *   connect-send URL N    connect(URL): send samples 0..N-1 (unix+dgram, unix+seqpacket), then close
 *   wrong-schema          inheritedChannel with a codec of another layout (must fail)
 *   wait REF              bind a unix+dgram and listen on a unix+seqpacket address with `ref: REF`
 *                         and wait on both; with REF=false the process must still exit by itself
 */
import { bind, connect, inheritedChannel, listen } from '../../../src/channels/index.js';
import { Sample, type Sample as SampleValue } from '../sample.js';

const sample = (i: number): SampleValue => ({ channel: i % 65536, timestamp: BigInt(i), value: i / 2 });

async function sendRange(send: (values: SampleValue[]) => Promise<void>, n: number): Promise<void> {
  for (let start = 0; start < n; start += 1000) {
    await send(Array.from({ length: Math.min(1000, n - start) }, (_, i) => sample(start + i)));
  }
}

const [mode, a, b] = process.argv.slice(2);
switch (mode) {
  case 'echo': {
    const channel = inheritedChannel(Sample);
    for await (const { value } of channel) await channel.send({ ...value, value: value.value * 2 });
    await channel.close();
    break;
  }
  case 'send': {
    const channel = inheritedChannel(Sample);
    await sendRange((values) => channel.sendMany(values), Number(a));
    await channel.close();
    break;
  }
  case 'connect-send': {
    const channel = await connect(a ?? '', Sample);
    await sendRange((values) => channel.sendMany(values), Number(b));
    await channel.close();
    break;
  }
  case 'wrong-schema': {
    try {
      inheritedChannel({ ...Sample, fingerprint: 'another-layout' });
    } catch (error) {
      process.stdout.write(`${(error as Error).name}: ${(error as Error).message}\n`);
      process.exit(5);
    }
    break;
  }
  case 'wait': {
    const ref = a === 'true';
    const rx = await bind(`unix+dgram:@typed-ipc-wait-${process.pid}`, Sample, { ref });
    const listener = await listen(`unix+seqpacket:@typed-ipc-wait-${process.pid}`, Sample, { ref });
    void rx.receive();
    void listener.accept();
    process.stdout.write('waiting\n');
    break;
  }
  default:
    throw new Error(`unknown mode ${String(mode)}`);
}
