/** `typed-ipc rm <url>...`: removes named objects (queues, rings, FIFOs, socket files). */

import { unlink } from '../../index.js';
import { type Command, UsageError } from '../args.js';
import { hasCode } from '../endpoint.js';

const help = `Usage: typed-ipc rm <url>... [--force]

Removes each named object: mq:/name (mq_unlink), shm:/name (the ring's segment and what belongs to
it), fifo:/path, unix+dgram:/path, unix+seqpacket:/path, unix+stream:/path (the socket file).
Processes that have the object open keep using it until they close it; the name is free at once.
System V queues (sysv:key=0x..., sysv:/path?proj=N, sysv:id=N, as ipcrm -q/-Q) go at once with
their messages: their waiting users see the queue removed.

Options:
  -f, --force   no error for objects that do not exist
  -h, --help    this help`;

/** The `rm` command. */
export const rm: Command = {
  name: 'rm',
  summary: 'remove queues, rings, FIFOs and socket files',
  help,
  options: { force: { type: 'boolean', short: 'f' } },
  async run(args) {
    if (args.positionals.length === 0) throw new UsageError('expected <url>...; see typed-ipc rm --help');
    for (const url of args.positionals) {
      try {
        await unlink(url);
      } catch (error) {
        if (args.values.force === true && hasCode(error, 'ENOENT')) continue;
        // A System V id that names no queue is EINVAL (IPC_RMID), not ENOENT.
        if (args.values.force === true && url.startsWith('sysv:id=') && hasCode(error, 'EINVAL')) continue;
        throw error;
      }
    }
    return 0;
  },
};
