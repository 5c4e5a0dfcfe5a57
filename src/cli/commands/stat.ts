/** `typed-ipc stat <url>`: attributes of a named object: capacity, message size, pending messages, fill. */
import { existsSync, lstatSync, type Stats } from 'node:fs';
import type { MessageCodec } from '../../codecs/index.js';
import { open, parseUrl } from '../../index.js';
import { type Command, positionals, stringOption, UsageError } from '../args.js';
import { groupName, modeString, queuedBytes, userName } from '../objects.js';
import { writeLine } from '../output.js';
import { missingObject, namedObjectPath, rawCodecFor } from '../probe.js';
import { rawCodec } from '../raw.js';
import { processAlive } from '../ring-header.js';
import { loadCodec } from '../schema.js';
import { renderTable } from '../table.js';

const help = `Usage: typed-ipc stat <url> [--schema <module>#<export>] [--json]

Shows what the kernel knows about a named object without consuming anything:
  mq:/name      capacity (mq_maxmsg), message size (mq_msgsize), pending messages (mq_curmsgs),
                mode and owner (when the mqueue filesystem is mounted)
  shm:/name     the ring's figures (slot size, capacity, pending messages: its fill; slots of dead
                producers recovered, messages of dead consumers abandoned) and the segment
  fifo:, unix+*:/path
                the file: type, mode, owner
  sysv:...      System V queue (IPC_STAT, as ipcs -q -i): id, key, capacity in bytes (msg_qbytes),
                pending messages and bytes, last sender and receiver pid, owner, creator, mode

Options:
  --schema <module>#<export>   open with this codec (checks that the object matches the schema)
  --json                       one JSON object instead of aligned lines
  -h, --help                   this help`;

type Figures = Record<string, string | number | boolean>;

// Figures of the handle stat itself opened for a moment (its access, its slot in the ring's handle
// table), and the queue name the URL already shows: nothing a user learns about the object from them.
const handleFigures = new Set(['access', 'handle', 'name', 'bytes']);

/** The `stat` command. */
export const stat: Command = {
  name: 'stat',
  summary: 'attributes of a queue, ring, pub/sub segment, FIFO or socket file (capacity, pending, fill, mode, owner)',
  help,
  options: { schema: { type: 'string' }, json: { type: 'boolean' } },
  async run(args) {
    const [url] = positionals('stat', args, ['url']);
    const address = parseUrl(url!);
    const schema = stringOption(args, 'schema');
    const codec = schema === undefined ? undefined : await loadCodec(schema);
    let figures: Figures;
    switch (address.scheme) {
      case 'mq':
      case 'shm': {
        const path = namedObjectPath(address.scheme, address.name);
        figures = { ...(await channelFigures(url!, codec)), ...fileFigures(path, false) };
        if (address.scheme === 'mq' && path !== undefined && existsSync(path)) figures.queuedBytes = queuedBytes(path);
        if (address.scheme === 'shm' && path !== undefined && existsSync(path)) {
          figures.segmentBytes = lstatSync(path).size;
        }
        if (typeof figures.creatorPid === 'number') figures.creatorRunning = processAlive(figures.creatorPid);
        break;
      }
      case 'shm+pubsub': {
        // A subscriber joins for the moment of info(): shown are the segment's figures, without that
        // subscriber's own (role, position, counts) and without it among the subscribers.
        const path = namedObjectPath('shm', address.name);
        const { role, position, pending, delivered, missed, skipped, subscribers, ...segment } = await channelFigures(
          url!,
          codec,
        );
        figures = { ...segment, subscribers: Number(subscribers) - 1, ...fileFigures(path, false) };
        if (path !== undefined && existsSync(path)) figures.segmentBytes = lstatSync(path).size;
        break;
      }
      case 'fifo':
        figures = { url: url!, ...fileFigures(existingPath(url!, address.path), true) };
        break;
      case 'sysv':
        figures = sysvFigures(await channelFigures(url!, codec), codec !== undefined);
        break;
      case 'unix+dgram':
      case 'unix+seqpacket':
      case 'unix+stream':
        if (address.abstract) throw new UsageError(`${url} is in the abstract namespace: it has no file to stat`);
        figures = { url: url!, ...fileFigures(existingPath(url!, address.path), true) };
        break;
      default:
        throw new UsageError(
          `${address.url} is a network address, not a named object; stat takes mq:, shm:, shm+pubsub:, sysv:, fifo: or unix+*: URLs`,
        );
    }
    if (args.values.json === true) writeLine(JSON.stringify(figures));
    else
      writeLine(
        renderTable(
          [{ header: 'ATTRIBUTE' }, { header: 'VALUE' }],
          Object.entries(figures).map(([k, v]) => [k, String(v)]),
        ),
      );
    return 0;
  },
};

// A System V queue has no message size of its own: without a schema the probe's 1-byte figures mean
// nothing, and ids become names.
function sysvFigures(figures: Figures, withSchema: boolean): Figures {
  const { uid, gid, cuid, cgid, mode, messageSize, capacity, ...rest } = figures;
  return {
    ...rest,
    ...(withSchema ? { messageSize: messageSize!, capacity: capacity! } : {}),
    mode: `${modeString(Number(mode))} (0${Number(mode).toString(8)})`,
    owner: `${userName(Number(uid))}:${groupName(Number(gid))}`,
    creator: `${userName(Number(cuid))}:${groupName(Number(cgid))}`,
  };
}

/** Opens the object for receiving (which consumes nothing) and reads its `info()`. */
async function channelFigures(url: string, codec: MessageCodec<unknown> | undefined): Promise<Figures> {
  // A System V queue declares no message size: its IPC_STAT figures need none, so any codec opens it.
  const probe = async () => (parseUrl(url).scheme === 'sysv' ? rawCodec(1, undefined, false) : rawCodecFor(url));
  const channel = await open(url, codec ?? (await probe()), { access: 'receive' });
  try {
    const figures: Figures = {};
    for (const [key, value] of Object.entries(channel.info())) {
      // A System V queue's `bytes` is what waits in it (msg_cbytes), not the ring's segment size.
      if (handleFigures.has(key) && !(key === 'bytes' && parseUrl(url).scheme === 'sysv')) continue;
      if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') figures[key] = value;
      else if (typeof value === 'bigint') figures[key] = value.toString();
      else if (value instanceof Date) figures[key] = value.toISOString();
    }
    if (codec !== undefined) figures.schema = codec.name;
    return figures;
  } finally {
    await channel.close();
  }
}

function existingPath(url: string, path: string): string {
  if (!existsSync(path)) throw missingObject(url, path);
  return path;
}

// The file's type only where it tells something (a FIFO or a socket at a path); for a queue or a
// segment it is always a regular file, and a queue file's size is the length of its status text.
function fileFigures(path: string | undefined, withType: boolean): Figures {
  if (path === undefined || !existsSync(path)) return {};
  const stats = lstatSync(path);
  return {
    path,
    ...(withType ? { type: fileType(stats) } : {}),
    mode: `${modeString(stats.mode & 0o777)} (0${(stats.mode & 0o777).toString(8)})`,
    owner: `${userName(stats.uid)}:${groupName(stats.gid)}`,
    modified: stats.mtime.toISOString(),
  };
}

function fileType(stats: Stats): string {
  if (stats.isFIFO()) return 'fifo';
  if (stats.isSocket()) return 'socket';
  if (stats.isFile()) return 'file';
  if (stats.isDirectory()) return 'directory';
  return 'other';
}
