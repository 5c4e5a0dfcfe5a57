/** `typed-ipc replay run.mcap <url>`: a recording's messages back into a channel. */
import { fromCHeader, type MessageCodec, parseUrl, recordedSchemas, replay } from '../../index.js';
import { type Command, integerOption, positionals, stringOption, UsageError } from '../args.js';
import { endpointOptionSpec, endpointOptionsOf, openSender } from '../endpoint.js';
import { onStopSignal } from '../output.js';
import { loadCodec } from '../schema.js';

const help = `Usage: typed-ipc replay <file.mcap> <url> [options]

Sends the messages of a recording (typed-ipc record) into <url>, in recorded order, with their
priorities and their recorded spacing (--rate 1), faster (--rate 2, 10, ...) or as fast as the channel
takes them (--rate max). The target's schema must have the fingerprint the recording was made with;
otherwise nothing is sent and the error names both.

Options:
  --schema <module>#<export>   the target's codec; by default the one the recording holds (its C header)
  --topic <topic>              which recorded channel to send (needed when the file holds several)
  --rate <1|2|...|max>         speed against the recording (default 1: the recorded spacing)
  --loop                       start over after the last message, until Ctrl-C or --count
  -n, --count <n>              stop after n messages sent
  --create                     create a queue, ring or FIFO that does not exist yet
  --capacity <n>               capacity of a created queue or ring
  -h, --help                   this help`;

/** The `replay` command. */
export const replayCommand: Command = {
  name: 'replay',
  summary: 'send a recording back into a channel: recorded spacing or --rate max, priorities kept',
  help,
  options: {
    schema: { type: 'string' },
    topic: { type: 'string' },
    rate: { type: 'string' },
    loop: { type: 'boolean' },
    count: { type: 'string', short: 'n' },
    ...endpointOptionSpec,
  },
  async run(args) {
    const [file, url] = positionals('replay', args, ['file.mcap', 'url']);
    parseUrl(url!);
    const rateText = stringOption(args, 'rate') ?? '1';
    const rate = rateText === 'max' ? 'max' : Number(rateText);
    if (rate !== 'max' && !(Number.isFinite(rate) && rate > 0)) {
      throw new UsageError(`--rate expects a positive number or max, got ${JSON.stringify(rateText)}`);
    }
    const count = integerOption(args, 'count', undefined, 1);
    const topic = stringOption(args, 'topic');
    const schema = stringOption(args, 'schema');
    const codec = schema === undefined ? await recordedCodec(file!, topic) : await loadCodec(schema);
    const target = await openSender(url!, codec, endpointOptionsOf(args));
    const controller = new AbortController();
    const stop = onStopSignal(() => controller.abort());
    try {
      const summary = await replay(file!, target, {
        rate,
        loop: args.values.loop === true,
        signal: controller.signal,
        ...(topic === undefined ? {} : { topic }),
        ...(count === undefined ? {} : { count }),
      });
      process.stderr.write(
        `replayed ${summary.messages} messages of ${summary.topic} into ${url} in ${(summary.elapsedMs / 1000).toFixed(1)} s${summary.passes > 1 ? ` (${summary.passes} passes)` : ''}${summary.complete ? '' : ' (the file was cut short: all it held was sent)'}\n`,
      );
      return 0;
    } catch (error) {
      if ((error as { code?: unknown }).code === 'ABORT_ERR') return 0;
      throw error;
    } finally {
      stop();
      await target.close();
    }
  },
};

/** The codec the recording was made with, from the C header in its metadata. */
async function recordedCodec(file: string, topic: string | undefined): Promise<MessageCodec<unknown>> {
  const schemas = await recordedSchemas(file);
  const chosen =
    topic === undefined
      ? schemas.length === 1
        ? schemas[0]
        : undefined
      : schemas.find((s) => s.channel.topic === topic);
  if (chosen === undefined) {
    const topics = schemas.map((s) => JSON.stringify(s.channel.topic)).join(', ') || 'none';
    throw new UsageError(
      topic === undefined
        ? `${file} holds several channels (${topics}): say which with --topic`
        : `${file} holds no channel ${JSON.stringify(topic)}; it holds ${topics}`,
    );
  }
  if (chosen.cHeader === undefined || chosen.channel.schema === undefined) {
    throw new UsageError(`${file}: ${chosen.channel.topic} holds no C header (a msgpack schema?): give --schema`);
  }
  const codec = (await fromCHeader(chosen.cHeader))[chosen.channel.schema];
  if (codec === undefined)
    throw new UsageError(`${file}: the recorded header has no ${chosen.channel.schema}: give --schema`);
  return codec as unknown as MessageCodec<unknown>;
}
