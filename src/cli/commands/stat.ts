/** `typed-ipc stat <url>`: attributes of a named object: capacity, message size, pending messages, fill. */
import { existsSync, lstatSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import type { MessageCodec } from '../../codecs/codec.js';
import { open, parseUrl } from '../../index.js';
import { type Command, positionals, stringOption, UsageError } from '../args.js';
import { hasCode } from '../endpoint.js';
import { groupName, isMqueueMounted, modeString, mqueueDir, queuedBytes, shmDir, userName } from '../objects.js';
import { writeLine } from '../output.js';
import { rawCodec } from '../raw.js';
import { processAlive, readRingHeader } from '../ring-header.js';
import { loadCodec } from '../schema.js';
import { renderTable } from '../table.js';

const help = `Usage: typed-ipc stat <url> [--schema <module>#<export>] [--json]

Shows what the kernel knows about a named object without consuming anything:
  mq:/name      capacity (mq_maxmsg), message size (mq_msgsize), pending messages (mq_curmsgs),
                mode and owner (when the mqueue filesystem is mounted)
  shm:/name     the ring's figures (slot size, capacity, pending messages: its fill) and the segment
  fifo:, unix+*:/path
                the file: type, mode, owner
  sysv:...      System V queue (IPC_STAT, as ipcs -q -i): id, key, capacity in bytes (msg_qbytes),
                pending messages and bytes, last sender and receiver pid, owner, creator, mode

Options:
  --schema <module>#<export>   open with this codec (checks that the object matches the schema)
  --json                       one JSON object instead of aligned lines
  -h, --help                   this help`;

type Figures = Record<string, string | number | boolean>;

/** The `stat` command. */
export const stat: Command = {
  name: 'stat',
  summary: 'attributes of a queue, ring, FIFO or socket file (capacity, pending, fill, mode, owner)',
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
      case 'shm':
        figures = {
          ...(await channelFigures(url!, codec)),
          ...fileFigures(namedObjectPath(address.scheme, address.name)),
        };
        if (typeof figures.creatorPid === 'number') figures.creatorRunning = processAlive(figures.creatorPid);
        break;
      case 'fifo':
        figures = { url: url!, ...fileFigures(existingPath(url!, address.path)) };
        break;
      case 'sysv':
        figures = sysvFigures(await channelFigures(url!, codec), codec !== undefined);
        break;
      case 'unix+dgram':
      case 'unix+seqpacket':
      case 'unix+stream':
        if (address.abstract) throw new UsageError(`${url} is in the abstract namespace: it has no file to stat`);
        figures = { url: url!, ...fileFigures(existingPath(url!, address.path)) };
        break;
      default:
        throw new UsageError(
          `${url} is a network address, not a named object; stat takes mq:, shm:, fifo: or unix+*: URLs`,
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

function namedObjectPath(scheme: 'mq' | 'shm', name: string): string | undefined {
  if (scheme === 'shm') return join(shmDir(), name.slice(1));
  const dir = mqueueDir();
  return isMqueueMounted(dir) ? join(dir, name.slice(1)) : undefined;
}

/** Opens the object for receiving (which consumes nothing) and reads its `info()`. */
async function channelFigures(url: string, codec: MessageCodec<unknown> | undefined): Promise<Figures> {
  const channel = await openProbing(url, codec);
  try {
    const info = channel.info();
    const figures: Figures = {};
    for (const [key, value] of Object.entries(info)) {
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

// Without a schema, the object's message size is not known before opening it. A ring's header says it
// (and its fingerprint). For a queue, opening with a 1-byte raw codec either fits, or fails with a
// MessageSizeError that carries the queue's own size (its `limit`), and the second open uses that.
async function openProbing(url: string, codec: MessageCodec<unknown> | undefined) {
  if (codec !== undefined) return open(url, codec, { access: 'receive' });
  const address = parseUrl(url);
  if (address.scheme === 'shm') {
    const path = namedObjectPath('shm', address.name)!;
    if (!existsSync(path)) throw new Error(`${url}: no shared-memory object ${path}`);
    const header = readRingHeader(path);
    if (header === undefined) throw new Error(`${url}: ${path} is not a typed-ipc ring (no TIPCRING header)`);
    return open(url, rawCodec(header.messageSize, header.fingerprint), { access: 'receive' });
  }
  try {
    return await open(url, rawCodec(1), { access: 'receive' });
  } catch (error) {
    if (!hasCode(error, 'ERR_IPC_MESSAGE_SIZE')) throw error;
    const size = (error as unknown as { limit: number }).limit;
    return open(url, rawCodec(size), { access: 'receive' });
  }
}

function existingPath(url: string, path: string): string {
  if (!existsSync(path)) throw new Error(`${url}: no such file ${path}`);
  return path;
}

function fileFigures(path: string | undefined): Figures {
  if (path === undefined || !existsSync(path)) return {};
  const stats = lstatSync(path);
  return {
    path,
    type: fileType(stats),
    bytes: stats.size,
    mode: `${modeString(stats.mode & 0o777)} (0${(stats.mode & 0o777).toString(8)})`,
    owner: `${userName(stats.uid)}:${groupName(stats.gid)}`,
    modified: stats.mtime.toISOString(),
    ...(path.startsWith(mqueueDir()) ? { queuedBytes: queuedBytes(path) } : {}),
  };
}

function fileType(stats: Stats): string {
  if (stats.isFIFO()) return 'fifo';
  if (stats.isSocket()) return 'socket';
  if (stats.isFile()) return 'file';
  if (stats.isDirectory()) return 'directory';
  return 'other';
}
