/** `typed-ipc tail <url> --schema <module>#<export>`: prints decoded messages as they arrive. */
import type { MessageCodec } from '../../codecs/codec.js';
import type { FieldType } from '../../codecs/index.js';
import { parseUrl } from '../../index.js';
import { type Command, choiceOption, integerOption, positionals, requiredOption, UsageError } from '../args.js';
import { endpointOptionSpec, endpointOptionsOf, openReceiver, type Received } from '../endpoint.js';
import { type BigintStyle, structFields, toJson } from '../json.js';
import { onStopSignal, printError, writeLine } from '../output.js';
import { loadCodec } from '../schema.js';
import { type Column, LiveTable } from '../table.js';

const help = `Usage: typed-ipc tail <url> --schema <module>#<export> [options]

Prints messages from <url> as they arrive, decoded with the schema.

  mq:, shm:, fifo:, sysv:      opens the object and receives (consumes) its messages
  unix+dgram:, udp:            binds the address and receives datagrams (the sender is shown)
  unix+seqpacket:, unix+stream:, tcp:
                               listens; messages from every connection are shown with its label

Output: an aligned table on a terminal, NDJSON (one {"value":...,"priority":n,"from":...} per line)
when piped. 64-bit integers are JSON strings by default so every digit survives JSON.parse; bytes(n)
fields are hex strings; NaN and Infinity are the strings "NaN", "Infinity", "-Infinity".

Options:
  --schema <module>#<export>   the codec (a struct(...) type or msgpack codec) exported by a module
  -n, --count <n>              stop after n messages
  --timeout <ms>               fail (exit 1) when no message arrives for this long
  --format <table|ndjson>      override the choice made from whether stdout is a terminal
  --bigint <string|number>     64-bit integers as JSON strings (default) or bare JSON numbers
  --create                     create a queue, ring or FIFO that does not exist yet
  --capacity <n>               capacity of a created queue or ring
  --type <n>                   sysv: only messages of type n; --type=-n: the lowest type <= n first (msgtyp)
  --except                     sysv: with --type n > 0, every type but n (MSG_EXCEPT)
  -h, --help                   this help

Decode failures (a foreign writer, a wrong schema) are reported on stderr and tailing goes on.
Ctrl-C stops (exit 0).`;

/** The `tail` command. */
export const tail: Command = {
  name: 'tail',
  summary: 'print decoded messages as they arrive (table on a terminal, NDJSON when piped)',
  help,
  options: {
    schema: { type: 'string' },
    count: { type: 'string', short: 'n' },
    timeout: { type: 'string' },
    format: { type: 'string' },
    bigint: { type: 'string' },
    type: { type: 'string' },
    except: { type: 'boolean' },
    ...endpointOptionSpec,
  },
  async run(args) {
    const [url] = positionals('tail', args, ['url']);
    const { scheme } = parseUrl(url!); // a malformed URL is reported before anything else
    const receiveType = integerOption(args, 'type', undefined, -Number.MAX_SAFE_INTEGER);
    const except = args.values.except === true;
    if ((receiveType !== undefined || except) && scheme !== 'sysv') {
      throw new UsageError(
        `--type and --except select System V message types: they apply to sysv: URLs, not ${scheme}:`,
      );
    }
    const count = integerOption(args, 'count', undefined, 1);
    const timeoutMs = integerOption(args, 'timeout', undefined, 1);
    const format = choiceOption(args, 'format', ['table', 'ndjson'], process.stdout.isTTY ? 'table' : 'ndjson');
    const bigint = choiceOption(args, 'bigint', ['string', 'number'], 'string');
    const codec = await loadCodec(requiredOption('tail', args, 'schema'));
    const receiver = await openReceiver(url!, codec, {
      ...endpointOptionsOf(args),
      ...(receiveType === undefined ? {} : { receiveType }),
      ...(except ? { except } : {}),
    });
    const stop = onStopSignal(() => receiver.close());
    const printer = format === 'table' ? tablePrinter(codec, receiver.hasSender) : ndjsonPrinter(bigint);
    let shown = 0;
    try {
      while (count === undefined || shown < count) {
        const received = await receiver.next(timeoutMs);
        if (received === undefined) break;
        if (received.error !== undefined) {
          printError('tail', received.error, received.from);
          continue;
        }
        printer(received);
        shown += 1;
      }
    } finally {
      stop();
      await receiver.close();
    }
    return 0;
  },
};

function ndjsonPrinter(bigint: BigintStyle): (received: Received) => void {
  return ({ message, from }) => writeLine(toJson({ value: message!.value, priority: message!.priority, from }, bigint));
}

function tablePrinter(codec: MessageCodec<unknown>, hasSender: boolean): (received: Received) => void {
  const fields = structFields(codec);
  const columns: Column[] = [{ header: 'priority', right: true }];
  if (hasSender) columns.push({ header: 'from', width: 12 });
  if (fields === undefined) columns.push({ header: 'value' });
  else for (const field of fields) columns.push(columnFor(field.name, field.type));
  const table = new LiveTable(columns);
  let headerShown = false;
  return ({ message, from }) => {
    if (!headerShown) {
      writeLine(table.header());
      headerShown = true;
    }
    const cells = [String(message!.priority)];
    if (hasSender) cells.push(from ?? '');
    if (fields === undefined) cells.push(cell(message!.value));
    else {
      const value = message!.value as Record<string, unknown>;
      for (const field of fields) cells.push(cell(value[field.name]));
    }
    writeLine(table.row(cells));
  };
}

function columnFor(header: string, type: FieldType): Column {
  switch (type.kind) {
    case 'int':
      return {
        header,
        right: true,
        width: Math.max(String(type.min).length, String(type.max).length),
      };
    case 'float':
      return { header, right: true, width: 12 };
    case 'bool':
      return { header, width: 5 };
    case 'char':
      return { header, width: Math.min(type.length, 24) };
    case 'enum':
      return { header, width: Math.max(...[...type.values.keys()].map((name) => name.length)) };
    case 'aligned':
      return columnFor(header, type.inner);
    default:
      return { header };
  }
}

function cell(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  return toJson(value, 'number');
}
