/** `typed-ipc ls`: message queues and shared-memory objects with size, mode and owner. */
import { type Command, UsageError } from '../args.js';
import {
  isMqueueMounted,
  listQueues,
  listSegments,
  listSysvQueues,
  modeString,
  mountHint,
  mqueueDir,
  type ObjectEntry,
  shmDir,
} from '../objects.js';
import { writeLine } from '../output.js';
import { renderTable } from '../table.js';

const help = `Usage: typed-ipc ls [--json]

Lists POSIX message queues (from the mqueue filesystem, /dev/mqueue) and shared-memory objects
(/dev/shm) with size, mode, owner and last modification, then System V message queues (as ipcs -q,
from /proc/sysvipc/msg). For a queue, SIZE is the bytes of the messages waiting in it (the kernel's
QSIZE, or ipcs' used-bytes); for a shared-memory object, the size of the segment.
Use \`typed-ipc stat <url>\` for a queue's capacity and message size or a ring's fill.

When the mqueue filesystem is not mounted, queues cannot be listed (they still work); mount it with
  ${mountHint('/dev/mqueue')}

Options:
  --json       one JSON object per object (NDJSON) instead of a table
  -h, --help   this help`;

/** The `ls` command. */
export const ls: Command = {
  name: 'ls',
  summary: 'list message queues and shared-memory objects (size, mode, owner)',
  help,
  options: { json: { type: 'boolean' } },
  async run(args) {
    if (args.positionals.length > 0) {
      throw new UsageError(`takes no arguments, got ${args.positionals.join(' ')}`);
    }
    const queuesDir = mqueueDir();
    const mounted = isMqueueMounted(queuesDir);
    if (!mounted) {
      process.stderr.write(
        `typed-ipc ls: message queues not listed: no mqueue filesystem is mounted at ${queuesDir}; mount it with: ${mountHint(queuesDir)}\n`,
      );
    }
    const entries = [...(mounted ? listQueues(queuesDir) : []), ...listSegments(shmDir()), ...listSysvQueues()];
    if (args.values.json === true) {
      for (const e of entries)
        writeLine(JSON.stringify({ ...e, mode: `0${e.mode.toString(8)}`, modified: e.modified.toISOString() }));
    } else if (entries.length === 0) {
      if (process.stdout.isTTY) writeLine('no message queues or shared-memory objects');
    } else {
      writeLine(
        renderTable(
          [
            { header: 'URL' },
            { header: 'SIZE', right: true },
            { header: 'MODE' },
            { header: 'OWNER' },
            { header: 'MODIFIED' },
            { header: 'NOTE' },
          ],
          entries.map((e: ObjectEntry) => [
            e.url,
            String(e.size),
            modeString(e.mode),
            `${e.owner}:${e.group}`,
            e.modified.toISOString(),
            e.note ?? '',
          ]),
        ),
      );
    }
    return 0;
  },
};
