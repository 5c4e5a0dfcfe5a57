/** `typed-ipc record <url...> --schema <module>#<export> -o run.mcap`: channels into an MCAP file. */
import { compressions, parseUrl, type RecordProgress, record } from '../../index.js';
import { type Command, choiceOption, integerOption, requiredOption, UsageError } from '../args.js';
import { endpointOptionSpec } from '../endpoint.js';
import { onStopSignal } from '../output.js';
import { openAll } from './look.js';

const help = `Usage: typed-ipc record <url...> --schema <module>#<export> -o <file.mcap> [options]

Records every message of each <url> into one MCAP file, each URL its own MCAP channel (topic = the URL),
until --count, --duration, Ctrl-C (SIGINT) or SIGTERM, or the end of every channel. The file is valid
however it ends: Ctrl-C finishes it.

  mq:, shm:, fifo:, sysv:      opens the object and receives (consumes) its messages
  unix+dgram:, udp:            binds the address and records datagrams with their sender
  nats://host:port/subject     subscribes

The file stands alone: messages are JSON ({"value":{...},"priority":n,"from":"..."}; 64-bit integers are
JSON strings, so no digit is lost) with an embedded JSON Schema, so Foxglove Studio and the mcap tools
open and plot it; the typed-ipc schema (C header, size, fingerprint) is in its metadata, and
typed-ipc replay checks a target against it. Log time = receive time.

Options:
  --schema <module>#<export>   the codec; once for every URL, or once per URL in order
  -o, --output <file.mcap>     the file to write (mode 0600); an existing file is refused without --force
  --force                      replace an existing file
  -n, --count <n>              stop after n messages (over every URL); the rest stay in the channels
  --duration <s>               stop after s seconds (decimals allowed)
  --compression <zstd|lz4|none>
                               chunk compression (default zstd; both are pure wasm/JavaScript)
  --chunk-size <bytes>         uncompressed bytes per chunk (default 1048576)
  --quiet                      no progress line on stderr
  --create                     create a queue, ring or FIFO that does not exist yet
  --capacity <n>               capacity of a created queue or ring
  -h, --help                   this help

Progress: one line on stderr (messages, bytes, rate), rewritten in place on a terminal, every 10 s
otherwise; the summary at the end. A full disk stops the recording with an error (exit 1) and leaves
the file a readable recording of what was written before.`;

/** The `record` command. */
export const recordCommand: Command = {
  name: 'record',
  summary: 'record channels into an MCAP file (JSON + JSON Schema: opens in Foxglove)',
  help,
  options: {
    schema: { type: 'string', multiple: true },
    output: { type: 'string', short: 'o' },
    force: { type: 'boolean' },
    count: { type: 'string', short: 'n' },
    duration: { type: 'string' },
    compression: { type: 'string' },
    'chunk-size': { type: 'string' },
    quiet: { type: 'boolean' },
    ...endpointOptionSpec,
  },
  async run(args) {
    const urls = [...args.positionals];
    if (urls.length === 0) throw new UsageError('expected <url...>, got none; see typed-ipc record --help');
    for (const url of urls) parseUrl(url); // a malformed URL is reported before anything is opened
    const path = requiredOption('record', args, 'output');
    const count = integerOption(args, 'count', undefined, 1);
    const durationMs = secondsOption(args.values.duration);
    const compression = choiceOption(args, 'compression', compressions, 'zstd');
    const chunkSize = integerOption(args, 'chunk-size', undefined, 1024);
    const channels = await openAll('record', urls, (args.values.schema as string[] | undefined) ?? [], args);
    const controller = new AbortController();
    const stop = onStopSignal(() => controller.abort());
    try {
      const show = progressLine(args.values.quiet === true);
      const summary = await record(channels, {
        path,
        overwrite: args.values.force === true,
        compression,
        signal: controller.signal,
        ...(show === undefined ? {} : { onProgress: show }),
        progressIntervalMs: process.stderr.isTTY ? 1000 : 10_000,
        ...(count === undefined ? {} : { count }),
        ...(durationMs === undefined ? {} : { durationMs }),
        ...(chunkSize === undefined ? {} : { chunkSize }),
      });
      const why = { count: 'count reached', duration: 'duration over', signal: 'stopped', end: 'channels ended' };
      if (args.values.quiet !== true) {
        process.stderr.write(
          `${process.stderr.isTTY ? '\r\x1b[K' : ''}recorded ${summary.messages} messages (${summary.channels.map((c) => `${c.messages} from ${c.topic}`).join(', ')}) into ${path}: ${mb(summary.fileBytes)} in ${(summary.elapsedMs / 1000).toFixed(1)} s (${why[summary.stoppedBy]})${summary.decodeErrors > 0 ? `; ${summary.decodeErrors} undecodable messages skipped` : ''}\n`,
        );
      }
      return 0;
    } finally {
      stop();
      await Promise.all(channels.map((c) => c.close()));
    }
  },
};

function secondsOption(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (typeof value !== 'string' || !Number.isFinite(seconds) || seconds <= 0) {
    throw new UsageError(`--duration expects a positive number of seconds, got ${JSON.stringify(value)}`);
  }
  return seconds * 1000;
}

function mb(bytes: number): string {
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${(bytes / 1e3).toFixed(1)} kB`;
}

/** The progress reporter: rewritten in place on a terminal, a line each time otherwise; nothing if quiet. */
function progressLine(quiet: boolean): ((progress: RecordProgress) => void) | undefined {
  if (quiet) return undefined;
  return (p) => {
    const line = `${p.messages} messages, ${mb(p.messageBytes)} of JSON, ${mb(p.fileBytes)} in the file, ${Math.round(p.rate)} msg/s`;
    process.stderr.write(process.stderr.isTTY ? `\r\x1b[K${line}` : `${line}\n`);
  };
}
