/** A ring for the recording tests: a receiving and a sending end, both closed and the ring removed by `cleanup`. */
import { type Channel, type MessageCodec, open, unlink } from '../../src/index.js';
import { type Cleanup, uniqueName } from '../helpers.js';

/** A new ring (shm:) of `codec` with its two ends; `cleanup` closes them and removes it. */
export async function ringPair<T>(
  cleanup: Cleanup,
  codec: MessageCodec<T>,
  capacity = 1024,
): Promise<{ url: string; rx: Channel<T>; tx: Channel<T> }> {
  const url = `shm:/${uniqueName('rec')}`;
  cleanup.add(() => unlink(url));
  const rx = await open(url, codec, { create: true, capacity });
  cleanup.add(() => rx.close());
  const tx = await open(url, codec);
  cleanup.add(() => tx.close());
  return { url, rx, tx };
}
