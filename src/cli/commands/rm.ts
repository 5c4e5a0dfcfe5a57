/** `typed-ipc rm <url>...`: removes named objects (queues, rings, FIFOs, socket files). */

import { parseUrl, unlink } from '../../index.js';
import { type Command, UsageError } from '../args.js';
import { hasCode } from '../endpoint.js';
import { printError } from '../output.js';

const help = `Usage: typed-ipc rm <url>... [--force]

Removes each named object: mq:/name (mq_unlink), shm:/name (the ring's segment and what belongs to
it), fifo:/path, unix+dgram:/path, unix+seqpacket:/path, unix+stream:/path (the socket file).
Processes that have the object open keep using it until they close it; the name is free at once.
System V queues (sysv:key=0x..., sysv:/path?proj=N, sysv:id=N, as ipcrm -q/-Q) go at once with
their messages: their waiting users see the queue removed.
A failure is reported (one line on stderr) and rm goes on with the next object; the exit code is 1
when any object could not be removed, 2 when a URL is malformed (then nothing is removed).

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
    for (const url of args.positionals) parseUrl(url); // a typo in one URL removes nothing
    let failed = 0;
    for (const url of args.positionals) {
      try {
        await unlink(url);
      } catch (error) {
        if (args.values.force === true && hasCode(error, 'ENOENT')) continue;
        // A System V id that names no queue is EINVAL (IPC_RMID), not ENOENT.
        if (args.values.force === true && url.startsWith('sysv:id=') && hasCode(error, 'EINVAL')) continue;
        printError('rm', error);
        failed += 1;
      }
    }
    if (failed > 0 && args.positionals.length > 1) {
      process.stderr.write(`typed-ipc rm: ${failed} of ${args.positionals.length} objects not removed\n`);
    }
    return failed > 0 ? 1 : 0;
  },
};
