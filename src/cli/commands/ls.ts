/** `typed-ipc ls [<dir>...]`: message queues, shared-memory objects, FIFOs and socket files with size, mode and owner. */
import { statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { type Command, UsageError } from '../args.js';
import { fileDirs, modeString, mountHint, type ObjectEntry, objectKinds } from '../objects.js';
import { writeLine } from '../output.js';
import { renderTable } from '../table.js';

const help = `Usage: typed-ipc ls [<dir>...] [--json]

Lists POSIX message queues (from the mqueue filesystem, /dev/mqueue), shared-memory objects
(/dev/shm), System V message queues (as ipcs -q, from /proc/sysvipc/msg), and the FIFOs and UNIX
socket files directly inside each <dir> (default: the directories in $TYPED_IPC_DIRS,
colon-separated, else the temporary directory ${tmpdir()}), with size, mode, owner and last
modification. For a queue, SIZE is the bytes of the messages waiting in it (the kernel's QSIZE, or
ipcs' used-bytes); for a shared-memory object, the size of the segment. A socket file is shown with
the kind of socket bound to it (from /proc/net/unix); a pub/sub segment by its shm+pubsub: URL, with
its policy and figures; a socket file that nothing is bound to any more (its
process died) is marked stale: typed-ipc rm removes it. Use \`typed-ipc stat <url>\` for a queue's
capacity and message size or a ring's fill.

When the mqueue filesystem is not mounted, queues cannot be listed (they still work); mount it with
  ${mountHint('/dev/mqueue')}

Options:
  --json       one JSON object per object (NDJSON) instead of a table
  -h, --help   this help`;

/** The `ls` command. */
export const ls: Command = {
  name: 'ls',
  summary: 'list queues (POSIX and System V), shared-memory objects, FIFOs and socket files',
  help,
  options: { json: { type: 'boolean' } },
  async run(args) {
    const dirs = args.positionals.length > 0 ? [...args.positionals] : fileDirs();
    for (const dir of dirs) {
      if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) {
        throw new UsageError(
          `${JSON.stringify(dir)} is not a directory; ls takes directories to look for FIFOs and sockets in`,
        );
      }
    }
    const context = { dirs, warn: (message: string) => process.stderr.write(`typed-ipc ls: ${message}\n`) };
    const entries = objectKinds.flatMap((kind) => kind.list(context));
    if (entries.length === 0) {
      const empty = `no message queues, shared-memory objects, System V queues, FIFOs or socket files (looked in ${dirs.join(', ')})`;
      // NDJSON stays empty for a program reading it; a person still learns that nothing was found.
      if (args.values.json === true) process.stderr.write(`typed-ipc ls: ${empty}\n`);
      else writeLine(empty);
    } else if (args.values.json === true) {
      for (const e of entries)
        writeLine(JSON.stringify({ ...e, mode: `0${e.mode.toString(8)}`, modified: e.modified.toISOString() }));
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
