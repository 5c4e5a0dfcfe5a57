/** `typed-ipc send <url> --schema <module>#<export> --json '{...}'`: sends messages from the command line. */
import { IpcError, parseUrl } from '../../index.js';
import { type Command, integerOption, positionals, requiredOption, stringOption, UsageError } from '../args.js';
import { endpointOptionSpec, endpointOptionsOf, hasCode, openSender } from '../endpoint.js';
import { fromJson } from '../json.js';
import { errorLine } from '../output.js';
import { loadCodec } from '../schema.js';

const help = `Usage: typed-ipc send <url> --schema <module>#<export> --json '<value>' [options]

Validates the JSON value against the schema, encodes it and sends it to <url>: mq:, shm: and fifo:
objects are opened for sending, socket URLs are connected to, nats:// URLs publish (with
?stream=S, to JetStream: each send waits for the stream's ack).

JSON spellings: 64-bit integers as JSON strings ("18446744073709551615") or as numbers up to 2^53;
bytes(n) fields as hex strings or arrays of byte values; "NaN", "Infinity", "-Infinity" for floats;
enums by member name. With --json -, one value per line is read from standard input (NDJSON; lines
printed by \`typed-ipc tail\` are accepted too: their "value" and "priority" are used).

Options:
  --schema <module>#<export>   the codec (a struct(...) type or msgpack codec) exported by a module
  --json <value|->             the message as JSON, or - for NDJSON on standard input
  --priority <n>               message priority (mq: 0 .. sysconf(_SC_MQ_PRIO_MAX)-1; others: 0)
  --repeat <n>                 send the value n times (default 1)
  --timeout <ms>               fail (exit 1) when the channel stays full for this long, saying how
                               many messages were sent before
  --create                     create a queue, ring or FIFO that does not exist yet
  --capacity <n>               capacity of a created queue or ring
  -h, --help                   this help

Nothing is sent when the value does not fit the schema or the transport refuses the priority
(shm:, sockets and FIFOs carry none) (exit 2).`;

/** The `send` command. */
export const send: Command = {
  name: 'send',
  summary: 'validate, encode and send messages given as JSON',
  help,
  options: {
    schema: { type: 'string' },
    json: { type: 'string' },
    priority: { type: 'string' },
    repeat: { type: 'string' },
    timeout: { type: 'string' },
    ...endpointOptionSpec,
  },
  async run(args) {
    const [url] = positionals('send', args, ['url']);
    parseUrl(url!); // a malformed URL is reported before anything else
    const json = requiredOption('send', args, 'json');
    const priority = integerOption(args, 'priority', undefined, 0);
    const repeat = integerOption(args, 'repeat', 1, 1);
    const timeoutMs = integerOption(args, 'timeout', undefined, 1);
    const codec = await loadCodec(requiredOption('send', args, 'schema'));
    // Every value is validated before the channel is opened: a bad one sends nothing.
    const messages = json === '-' ? await stdinMessages(codec, priority) : [{ value: fromJson(json, codec), priority }];
    if (stringOption(args, 'json') === '-' && messages.length === 0) {
      throw new UsageError('--json - read no values from standard input');
    }
    const channel = await openSender(url!, codec, endpointOptionsOf(args));
    const total = repeat * messages.length;
    let sent = 0;
    try {
      for (let i = 0; i < repeat; i += 1) {
        for (const { value, priority: p } of messages) {
          await channel.send(value, {
            ...(p === undefined ? {} : { priority: p }),
            ...(timeoutMs === undefined ? {} : { timeoutMs }),
          });
          sent += 1;
        }
      }
    } catch (error) {
      throw sendFailure(error, sent, total);
    } finally {
      await channel.close();
    }
    return 0;
  },
};

/**
 * What a failed send reports: a priority the transport refuses, before anything was sent, is a
 * mistake on the command line (exit 2); after some messages went out, how many did is said first.
 */
function sendFailure(error: unknown, sent: number, total: number): unknown {
  const refused = hasCode(error, 'ERR_IPC_UNSUPPORTED') || hasCode(error, 'ERR_IPC_VALIDATION');
  const priority = refused && /priorit/.test(error.message);
  if (priority && sent === 0) return new UsageError(`--priority: ${errorLine(error)}`);
  if (total <= 1) return error;
  // The cause's class and code stay visible (`cause`, `code`); the message says how far the send got.
  const code = error instanceof IpcError ? error.code : 'ERR_IPC_SEND';
  return new IpcError(code, `sent ${sent} of ${total} messages, then: ${errorLine(error)}`, { cause: error });
}

async function stdinMessages(
  codec: Parameters<typeof fromJson>[1],
  priority: number | undefined,
): Promise<{ value: unknown; priority: number | undefined }[]> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const lines = Buffer.concat(chunks).toString('utf8').split('\n');
  const messages: { value: unknown; priority: number | undefined }[] = [];
  lines.forEach((line, i) => {
    if (line.trim().length === 0) return;
    const what = `standard input line ${i + 1}`;
    const record = tailRecord(line);
    if (record === undefined) messages.push({ value: fromJson(line, codec, what), priority });
    else messages.push({ value: fromJson(record.value, codec, what), priority: priority ?? record.priority });
  });
  return messages;
}

/** A line printed by `tail` ({"value":...,"priority":n,"from":...}), with its value's JSON text; else undefined. */
function tailRecord(line: string): { value: string; priority: number } | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return undefined; // fromJson reports the syntax error
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const keys = Object.keys(parsed);
  const { value, priority } = parsed as { value?: unknown; priority?: unknown };
  const isRecord =
    keys.includes('value') &&
    typeof priority === 'number' &&
    keys.every((k) => ['value', 'priority', 'from'].includes(k));
  // Re-serialised: tail writes 64-bit integers as strings, which survive JSON.parse exactly.
  return isRecord ? { value: JSON.stringify(value), priority } : undefined;
}
