/**
 * `typed-ipc serve --foxglove <url...>` (a live Foxglove WebSocket server) and `typed-ipc plot` (fields
 * over time as SVG, from a recording or from live channels for a while).
 */
import { writeFile } from 'node:fs/promises';
import type { MessageCodec } from '../../codecs/index.js';
import { bind, type Channel, open, parseUrl, plotChannels, plotRecording, serveFoxglove } from '../../index.js';
import { type Command, integerOption, requiredOption, stringOption, UsageError } from '../args.js';
import { endpointKind, endpointOptionSpec, endpointOptionsOf } from '../endpoint.js';
import { onStopSignal } from '../output.js';
import { loadCodec } from '../schema.js';

/** Opens every URL to receive, with one --schema for all or one per URL. */
export async function openAll(
  command: string,
  urls: readonly string[],
  specs: readonly string[],
  args: Parameters<Command['run']>[0],
) {
  if (specs.length === 0)
    throw new UsageError(`--schema <module>#<export> is required; see typed-ipc ${command} --help`);
  if (specs.length !== 1 && specs.length !== urls.length) {
    throw new UsageError(`give --schema once for every URL or once per URL: ${specs.length} for ${urls.length} URLs`);
  }
  const codecs = await Promise.all(specs.map((spec) => loadCodec(spec)));
  const channels: Channel<unknown>[] = [];
  try {
    for (const [i, url] of urls.entries())
      channels.push(await receiver(url, codecs[specs.length === 1 ? 0 : i]!, args));
  } catch (error) {
    await Promise.all(channels.map((c) => c.close()));
    throw error;
  }
  return channels;
}

async function receiver(url: string, codec: MessageCodec<unknown>, args: Parameters<Command['run']>[0]) {
  const kind = endpointKind(url);
  if (kind === 'datagram') return bind(url, codec);
  if (kind === 'connection') {
    throw new UsageError(
      `${url}: listening sockets are not served or plotted yet; use a queue, ring, FIFO, datagram socket or NATS subject`,
    );
  }
  return open(url, codec, { ...endpointOptionsOf(args), access: 'receive' });
}

const serveHelp = `Usage: typed-ipc serve --foxglove <url...> --schema <module>#<export> [--port p] [--host h]

A live Foxglove WebSocket server: every <url> is a topic (its URL) with its JSON Schema, and every
message that arrives is sent as JSON to the Foxglove clients subscribed to it, so Foxglove Studio plots
samples as they come (Open connection -> Foxglove WebSocket -> ws://127.0.0.1:8765). The messages are
consumed from the channels, like tail. Ctrl-C stops.

Options:
  --foxglove                   the protocol to serve (the only one so far; required)
  --schema <module>#<export>   the codec; once for every URL, or once per URL in order
  --port <p>                   TCP port (default 8765, Foxglove's default; 0 lets the kernel choose)
  --host <address>             address to listen on (default 127.0.0.1: this machine only)
  --create, --capacity <n>     create a queue, ring or FIFO that does not exist yet
  -h, --help                   this help`;

/** The `serve` command. */
export const serveCommand: Command = {
  name: 'serve',
  summary: 'a live Foxglove WebSocket server publishing channels with their JSON Schema',
  help: serveHelp,
  options: {
    foxglove: { type: 'boolean' },
    schema: { type: 'string', multiple: true },
    port: { type: 'string' },
    host: { type: 'string' },
    ...endpointOptionSpec,
  },
  async run(args) {
    if (args.values.foxglove !== true)
      throw new UsageError('serve needs --foxglove (the protocol to serve); see typed-ipc serve --help');
    const urls = [...args.positionals];
    if (urls.length === 0) throw new UsageError('expected <url...>, got none; see typed-ipc serve --help');
    for (const url of urls) parseUrl(url);
    const port = integerOption(args, 'port', 8765, 0, 65535);
    const host = stringOption(args, 'host');
    const channels = await openAll('serve', urls, (args.values.schema as string[] | undefined) ?? [], args);
    try {
      const live = await serveFoxglove(channels, { port, ...(host === undefined ? {} : { host }) });
      const stop = onStopSignal(() => live.close());
      process.stderr.write(`serving ${urls.join(', ')} to Foxglove at ${live.url} (Ctrl-C stops)\n`);
      try {
        await live.done;
      } finally {
        stop();
      }
      process.stderr.write(`served ${live.messages()} messages\n`);
      return 0;
    } finally {
      await Promise.all(channels.map((c) => c.close()));
    }
  },
};

const plotHelp = `Usage: typed-ipc plot <file.mcap> --field <path> [--field <path>...] -o <plot.svg>
       typed-ipc plot <url...> --schema <module>#<export> --duration <s> --field <path> -o <plot.svg>

Draws fields of the messages over time as an SVG (Vega-Lite, rendered headless): from a recording
(typed-ipc record), or from live channels for --duration seconds. One panel per field, one line per
topic. Fields are paths into the message value (value, pos.x, readings[2]); priority works too.

Options:
  --field <path>               a field to draw (repeat for several)
  -o, --output <plot.svg>      where to write the SVG
  --topic <topic>              recordings: only this topic (repeat for several)
  --title <text>               a title above the plot
  --width <px>, --height <px>  the size of one panel (default 640 x 280, 160 per panel with several)
  --schema <module>#<export>   live: the codec; once for every URL, or once per URL
  --duration <s>               live: how long to receive before drawing
  -h, --help                   this help

64-bit integers are drawn as doubles; a line keeps at most 5000 evenly spaced points.`;

/** The `plot` command. */
export const plotCommand: Command = {
  name: 'plot',
  summary: 'draw fields over time as SVG, from a recording or live channels',
  help: plotHelp,
  options: {
    field: { type: 'string', multiple: true },
    output: { type: 'string', short: 'o' },
    topic: { type: 'string', multiple: true },
    title: { type: 'string' },
    width: { type: 'string' },
    height: { type: 'string' },
    schema: { type: 'string', multiple: true },
    duration: { type: 'string' },
    ...endpointOptionSpec,
  },
  async run(args) {
    const sources = [...args.positionals];
    if (sources.length === 0)
      throw new UsageError('expected <file.mcap> or <url...>, got none; see typed-ipc plot --help');
    const output = requiredOption('plot', args, 'output');
    const fields = (args.values.field as string[] | undefined) ?? [];
    if (fields.length === 0)
      throw new UsageError('--field <path> is required (e.g. --field value); see typed-ipc plot --help');
    const title = stringOption(args, 'title');
    const width = integerOption(args, 'width', undefined, 50, 10_000);
    const height = integerOption(args, 'height', undefined, 50, 10_000);
    const topics = args.values.topic as string[] | undefined;
    const options = {
      fields,
      ...(title === undefined ? {} : { title }),
      ...(width === undefined ? {} : { width }),
      ...(height === undefined ? {} : { height }),
      ...(topics === undefined ? {} : { topics }),
    };
    const live = sources.some((s) => /^[a-z][a-z0-9+]*:/.test(s));
    let svg: string;
    if (!live) {
      if (sources.length !== 1) throw new UsageError(`plot draws one recording at a time, got ${sources.length} files`);
      svg = await plotRecording(sources[0]!, options);
    } else {
      for (const url of sources) parseUrl(url);
      const seconds = Number(requiredOption('plot', args, 'duration'));
      if (!Number.isFinite(seconds) || seconds <= 0)
        throw new UsageError('--duration expects a positive number of seconds');
      const channels = await openAll('plot', sources, (args.values.schema as string[] | undefined) ?? [], args);
      const controller = new AbortController();
      const stop = onStopSignal(() => controller.abort());
      try {
        svg = await plotChannels(channels, { ...options, durationMs: seconds * 1000, signal: controller.signal });
      } finally {
        stop();
        await Promise.all(channels.map((c) => c.close()));
      }
    }
    await writeFile(output, svg);
    process.stderr.write(`wrote ${output}\n`);
    return 0;
  },
};
