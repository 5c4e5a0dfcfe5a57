/** Opening System V queues in tests so that every queue a test creates is removed after it. */
import { type Channel, type MessageCodec, type OpenOptions, open, type SysvInfo, unlink } from '../../src/index.js';
import type { Cleanup } from '../helpers.js';

/** A sysv: channel whose info() is typed as SysvInfo. */
export type SysvChannel<T> = Omit<Channel<T>, 'info'> & { info(): SysvInfo };

/**
 * Opens `url`; with `create`, the queue is removed by `cleanup` (by the id open returned, never by a
 * key someone else may own; the removal is registered before the queue exists). The channel is closed too.
 */
export async function openSysv<T>(
  cleanup: Cleanup,
  url: string,
  codec: MessageCodec<T>,
  options: OpenOptions = {},
): Promise<SysvChannel<T>> {
  let created: string | undefined;
  cleanup.add(() => created !== undefined && unlink(created));
  const channel = (await open(url, codec, options)) as SysvChannel<T>;
  if (options.create) created = `sysv:id=${channel.info().id}`;
  cleanup.add(() => channel.close());
  return channel;
}
