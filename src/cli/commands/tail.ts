/** `typed-ipc tail <url> --schema <module>#<export>`: prints decoded messages as they arrive. */
import type { FieldType, MessageCodec } from '../../codecs/index.js';
import { parseUrl } from '../../index.js';
import {
  type Command,
  choiceOption,
  integerOption,
  positionals,
  requiredOption,
  stringOption,
  UsageError,
} from '../args.js';
import {
  endpointKind,
  endpointOptionSpec,
  endpointOptionsOf,
  hasCode,
  openReceiver,
  type Received,
} from '../endpoint.js';
import { type BigintStyle, structFields, toJson } from '../json.js';
import { onStopSignal, printError, writeLine } from '../output.js';
import { rawCodecFor } from '../probe.js';
import { loadCodec } from '../schema.js';
import { type Column, LiveTable } from '../table.js';

const help = `Usage: typed-ipc tail <url> --schema <module>#<export> [options]
       typed-ipc tail <url> --raw [--size <bytes>] [options]

Prints messages from <url> as they arrive, decoded with the schema, or with --raw as they are:
their size, priority and bytes in hex (for an object a C program fills, with no schema at hand).

  mq:, shm:, fifo:, sysv:      opens the object and receives (consumes) its messages
  unix+dgram:, udp:            binds the address and receives datagrams (the sender is shown)
  unix+seqpacket:, unix+stream:, tcp:
                               listens; messages from every connection are shown with its label
  nats://host:port/subject     subscribes (wildcards * and > allowed; the subject is shown); with
                               ?stream=S&durable=D reads a JetStream durable consumer, acking each
                               message once shown (--create creates stream S, --capacity its max msgs)

Output: an aligned table on a terminal, NDJSON (one {"value":...,"priority":n,"from":...} per line)
when piped. 64-bit integers are JSON strings by default so every digit survives JSON.parse; bytes(n)
fields are hex strings; NaN and Infinity are the strings "NaN", "Infinity", "-Infinity".

Options:
  --schema <module>#<export>   the codec (a struct(...) type or msgpack codec) exported by a module
  --raw                        no schema: print each message's size, priority and hex bytes
                               (NDJSON: {"size":n,"priority":n,"hex":"...","from":...})
  --size <bytes>               with --raw: the message size, for objects that do not declare one
                               (FIFOs, sockets); queues and rings declare theirs
  -n, --count <n>              stop after n messages
  --drain                      stop (exit 0) once nothing is waiting: a queue or ring is empty, or,
                               with --timeout, when no message arrived for that long
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
    raw: { type: 'boolean' },
    size: { type: 'string' },
    count: { type: 'string', short: 'n' },
    drain: { type: 'boolean' },
    timeout: { type: 'string' },
    format: { type: 'string' },
    bigint: { type: 'string' },
    type: { type: 'string' },
    except: { type: 'boolean' },
    ...endpointOptionSpec,
  },
  async run(args) {
    const [url] = positionals('tail', args, ['url']);
    // A malformed URL is reported before anything else; `safeUrl` is the URL without credentials (nats://).
    const { scheme, url: safeUrl } = parseUrl(url!);
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
    const raw = args.values.raw === true;
    const size = integerOption(args, 'size', undefined, 1);
    const drain = args.values.drain === true;
    if (raw && stringOption(args, 'schema') !== undefined) throw new UsageError('give --raw or --schema, not both');
    if (size !== undefined && !raw) throw new UsageError('--size goes with --raw (a schema knows its size)');
    if (drain && timeoutMs === undefined && endpointKind(url!) !== 'named') {
      throw new UsageError(`--drain on ${safeUrl} needs --timeout <ms>: a socket holds nothing before tail binds it`);
    }
    const codec = raw ? await rawCodecFor(url!, size) : await loadCodec(requiredSchema(args));
    const receiver = await openReceiver(url!, codec, {
      ...endpointOptionsOf(args),
      ...(receiveType === undefined ? {} : { receiveType }),
      ...(except ? { except } : {}),
    });
    const stop = onStopSignal(() => receiver.close());
    const printer = raw
      ? rawPrinter(format, receiver.hasSender)
      : format === 'table'
        ? tablePrinter(codec, receiver.hasSender)
        : ndjsonPrinter(bigint);
    // Draining a queue or ring asks whether anything is waiting now (timeout 0) unless told how long to wait.
    const wait = drain ? (timeoutMs ?? 0) : timeoutMs;
    let shown = 0;
    try {
      while (count === undefined || shown < count) {
        let received: Received | undefined;
        try {
          received = await receiver.next(wait);
        } catch (error) {
          if (drain && hasCode(error, 'ERR_IPC_TIMEOUT')) break;
          throw error;
        }
        if (received === undefined) break;
        if (received.error !== undefined) {
          printError('tail', received.error, received.from);
          continue;
        }
        printer(received);
        // JetStream: acknowledged once shown, so what a stopped tail did not show goes to the next reader.
        await (received.message as { ack?: () => Promise<void> } | undefined)?.ack?.();
        shown += 1;
      }
    } finally {
      stop();
      await receiver.close();
    }
    return 0;
  },
};

function requiredSchema(args: Parameters<Command['run']>[0]): string {
  if (stringOption(args, 'schema') === undefined) {
    throw new UsageError(
      '--schema <module>#<export> is required, or --raw to see the bytes; see typed-ipc tail --help',
    );
  }
  return requiredOption('tail', args, 'schema');
}

/** Size, priority and hex bytes of each message: a table on a terminal, NDJSON otherwise. */
function rawPrinter(format: 'table' | 'ndjson', hasSender: boolean): (received: Received) => void {
  if (format === 'ndjson') {
    return ({ message, from }) => {
      const bytes = message!.value as Uint8Array;
      writeLine(JSON.stringify({ size: bytes.length, priority: message!.priority, hex: hex(bytes), from }));
    };
  }
  const columns: Column[] = [{ header: 'size', right: true }, { header: 'bytes' }];
  return livePrinter(columns, hasSender, (value) => {
    const bytes = value as Uint8Array;
    // Grouped in 4-byte words, as a hex dump reads next to a C struct's offsets.
    return [String(bytes.length), hex(bytes).replace(/(.{8})(?=.)/g, '$1 ')];
  });
}

/** A table printed as messages arrive: priority, the sender where there is one, then `cellsOf(value)`. */
function livePrinter(
  columns: readonly Column[],
  hasSender: boolean,
  cellsOf: (value: unknown) => string[],
): (received: Received) => void {
  const table = new LiveTable([
    { header: 'priority', right: true },
    ...(hasSender ? [{ header: 'from', width: 12 }] : []),
    ...columns,
  ]);
  let headerShown = false;
  return ({ message, from }) => {
    if (!headerShown) {
      writeLine(table.header());
      headerShown = true;
    }
    writeLine(table.row([String(message!.priority), ...(hasSender ? [from ?? ''] : []), ...cellsOf(message!.value)]));
  };
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

function ndjsonPrinter(bigint: BigintStyle): (received: Received) => void {
  return ({ message, from }) => writeLine(toJson({ value: message!.value, priority: message!.priority, from }, bigint));
}

function tablePrinter(codec: MessageCodec<unknown>, hasSender: boolean): (received: Received) => void {
  const fields = structFields(codec);
  if (fields === undefined) return livePrinter([{ header: 'value' }], hasSender, (value) => [cell(value)]);
  const columns = fields.map((field) => columnFor(field.name, field.type));
  return livePrinter(columns, hasSender, (value) =>
    fields.map((field) => cell((value as Record<string, unknown>)[field.name])),
  );
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
