/**
 * `sysv:`: System V message queues (msgget/msgsnd/msgrcv). Every message is one msgsnd of the codec's
 * size with a message type (mtype >= 1) in place of a priority; receivers take any type, one type,
 * the lowest type up to a bound, or every type but one (MSG_EXCEPT), chosen when the channel is opened.
 * The parts: options.ts (the options of an open, what a URL names), channel.ts (the channel: msgsnd,
 * msgrcv, probes, info), msgbufs.ts (the channel's native msgbuf memory), pacer.ts (the wait strategy:
 * a queue has no descriptor, so waits retry on loop turns and timers), queues.ts (the system's queues).
 */
import type { MessageCodec } from '../../codecs/codec.js';
import { MessageSizeError, SystemError } from '../../errors.js';
import { errnos, libc, systemError, sysvmsg } from '../../native/index.js';
import type { OpenOptions, Transport } from '../transport.js';
import type { SysvTarget } from '../url.js';
import { SysvChannel } from './channel.js';
import { accessBits, checkOptions, keyOf, queueId, sysvTarget } from './options.js';

export type { SysvInfo } from './channel.js';
export { type SysvQueueEntry, sysvQueues } from './queues.js';

/** Opens (or creates) the queue and checks that a message of the codec fits in it and in msgmax. */
async function openChannel<T>(
  url: string,
  target: SysvTarget,
  codec: MessageCodec<T>,
  options: OpenOptions,
): Promise<SysvChannel<T>> {
  const checked = checkOptions(target, codec as MessageCodec<unknown>, options);
  const { msgmax } = sysvmsg.sysvLimits();
  if (msgmax !== undefined && codec.size > msgmax) {
    throw new MessageSizeError(
      codec.size,
      msgmax,
      `${codec.name} messages are ${codec.size} bytes, more than ${sysvmsg.SYSV_PROC}/msgmax (${msgmax}), the largest System V message: use a smaller schema, or raise the limit (sysctl -w kernel.msgmax=${codec.size}, as root)`,
    );
  }
  const { id, created } =
    target.kind === 'id'
      ? { id: target.id, created: false }
      : sysvmsg.getQueue(target.kind === 'private' ? libc.IPC_PRIVATE : keyOf(target), url, {
          create: checked.create,
          exclusive: checked.exclusive,
          mode: checked.mode,
          access: accessBits[checked.access],
        });
  // A private queue has no key: its id is the only name another process can open it by.
  const channelUrl = target.kind === 'private' ? `sysv:id=${id}` : url;
  try {
    if (created && checked.capacityBytes !== undefined) sysvmsg.setCapacityBytes(id, channelUrl, checked.capacityBytes);
    let capacityBytes: number | undefined;
    try {
      capacityBytes = sysvmsg.queueStat(id, channelUrl).capacityBytes;
    } catch (error) {
      // IPC_STAT needs read permission, which a send-only user may lack: then msgsnd is the check.
      if (!(error instanceof SystemError && error.errno === errnos.EACCES && checked.access === 'send')) throw error;
    }
    if (capacityBytes !== undefined && codec.size > capacityBytes) {
      throw new MessageSizeError(
        codec.size,
        capacityBytes,
        `${channelUrl} holds at most ${capacityBytes} bytes of messages (its msg_qbytes), less than one ${codec.name} message (${codec.size} bytes), so a send would wait forever: create the queue with capacityBytes >= ${codec.size}`,
      );
    }
    return new SysvChannel(channelUrl, codec, id, checked, options.ref !== false);
  } catch (error) {
    if (created) sysvmsg.removeQueue(id, channelUrl);
    throw error;
  }
}

/** The `sysv:` transport: open (create) a queue, remove it (IPC_RMID). */
export const transports: Partial<Record<string, Transport>> = {
  sysv: {
    async open(address, codec, options) {
      return openChannel(address.url, sysvTarget(address), codec, options);
    },
    async unlink(address) {
      const target = sysvTarget(address);
      let id: number;
      try {
        id = queueId(address.url, target);
      } catch (error) {
        if (!(error instanceof SystemError && error.code === 'ENOENT' && error.syscall === 'msgget')) throw error;
        throw systemError(
          error.errno,
          'msgget',
          address.url,
          'no queue has this key (already removed, or never created)',
        );
      }
      sysvmsg.removeQueue(id, address.url);
    },
  },
};
