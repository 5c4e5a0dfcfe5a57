/**
 * Plots of recorded or live samples: fields over time drawn by Vega-Lite (compiled to Vega, rendered to
 * SVG headless, no canvas). Vega loads on first use, never with `import 'typed-ipc'`.
 */
import type { Channel } from '../channels/index.js';
import { toJson } from '../codecs/index.js';
import { ValidationError } from '../errors.js';
import { type Envelope, envelopeOf, readRecording } from './reader.js';

/** Options of `plotRecording` and `plotChannels`. */
export interface PlotOptions {
  /** Fields of the messages to draw, as paths into the value (`value`, `pos.x`, `readings[2]`); `priority` too. */
  readonly fields: readonly string[];
  /** Only these topics (default: every topic holding the fields). */
  readonly topics?: readonly string[];
  readonly title?: string;
  /** Pixels of one panel (one panel per field). */
  readonly width?: number;
  readonly height?: number;
  /** Points kept per line (evenly spaced over the messages; default 5000), so a long recording stays a small SVG. */
  readonly maxPoints?: number;
}

/** One point: seconds since the first message, the topic, the field and its value. */
interface Point {
  readonly t: number;
  readonly topic: string;
  readonly field: string;
  readonly y: number | null;
}

/** `plotRecording` of the package (record/index.ts documents it), loaded on its first call. */
export async function plotRecording(path: string, options: PlotOptions): Promise<string> {
  checkOptions(options);
  const collect = collector(options);
  for await (const message of readRecording(path)) {
    if (options.topics !== undefined && !options.topics.includes(message.channel.topic)) continue;
    collect(message.channel.topic, Number(message.logTime) / 1e9, envelopeOf(path, message));
  }
  return render(collect.points(), options);
}

/** `plotChannels` of the package (record/index.ts documents it), loaded on its first call. */
export async function plotChannels(
  channels: readonly Channel<unknown>[],
  options: PlotOptions & { readonly durationMs: number; readonly signal?: AbortSignal },
): Promise<string> {
  checkOptions(options);
  const collect = collector(options);
  const stop = AbortSignal.any([AbortSignal.timeout(options.durationMs), ...(options.signal ? [options.signal] : [])]);
  await Promise.all(
    channels.map(async (channel) => {
      while (!stop.aborted) {
        try {
          const batch = await channel.receiveMany(1024, { signal: stop });
          const t = performance.now() / 1000;
          for (const m of batch) {
            const value = JSON.parse(toJson(m.value));
            collect(channel.url, t, { value, priority: m.priority });
          }
        } catch (error) {
          const code = (error as { code?: unknown }).code;
          if (code === 'ABORT_ERR' || code === 'ERR_IPC_CLOSED') return;
          if (code !== 'ERR_IPC_DECODE') throw error;
        }
      }
    }),
  );
  return render(collect.points(), options);
}

function checkOptions(options: PlotOptions): void {
  if (options.fields.length === 0) throw new ValidationError('fields', 'at least one field to plot', 'none');
  for (const field of options.fields) parsePath(field);
}

/** Splits `a.b[2].c` into keys; refuses what is not such a path. */
function parsePath(field: string): (string | number)[] {
  if (!/^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*|\[\d+\])*$/.test(field)) {
    throw new ValidationError('fields', 'a field path such as value, pos.x or readings[2]', JSON.stringify(field));
  }
  return [...field.matchAll(/([A-Za-z_$][\w$]*)|\[(\d+)\]/g)].map((m) => (m[1] !== undefined ? m[1] : Number(m[2])));
}

function collector(options: PlotOptions) {
  const paths = options.fields.map((field) => ({ field, keys: parsePath(field) }));
  const points: Point[] = [];
  let start: number | undefined;
  const add = (topic: string, seconds: number, envelope: Envelope): void => {
    start ??= seconds;
    for (const { field, keys } of paths) {
      let at: unknown = envelope.value;
      for (const key of keys)
        at = at === null || typeof at !== 'object' ? undefined : (at as Record<string | number, unknown>)[key];
      if (at === undefined && field === 'priority') at = envelope.priority;
      if (at === undefined) continue; // this topic has no such field
      points.push({ t: seconds - start, topic, field, y: numberOf(at, field, topic) });
    }
  };
  add.points = (): Point[] => {
    if (points.length === 0) {
      throw new ValidationError('fields', 'fields the messages hold', options.fields.join(', '), {
        message: `fields: no message holds ${options.fields.join(', ')}; give fields of the schema (e.g. --field value)`,
      });
    }
    return thin(points, options.maxPoints ?? 5000);
  };
  return add;
}

function numberOf(value: unknown, field: string, topic: string): number | null {
  if (typeof value === 'number') return value;
  if (typeof value === 'boolean') return value ? 1 : 0;
  // 64-bit integers are strings in recordings; a plot is drawn in doubles, which is what this costs.
  if (typeof value === 'string' && /^-?\d+$/.test(value)) return Number(value);
  if (value === 'NaN' || value === 'Infinity' || value === '-Infinity') return null;
  throw new ValidationError(`fields.${field}`, 'a number, bool or 64-bit integer field', JSON.stringify(value), {
    message: `${field} of ${topic} holds ${JSON.stringify(value)}, which is not a number: plot draws numeric fields`,
  });
}

/** Keeps at most `max` evenly spaced points of each line (topic and field). */
function thin(points: readonly Point[], max: number): Point[] {
  const lines = new Map<string, Point[]>();
  for (const p of points) {
    const key = `${p.topic}\u0000${p.field}`;
    const line = lines.get(key);
    if (line === undefined) lines.set(key, [p]);
    else line.push(p);
  }
  const kept: Point[] = [];
  for (const line of lines.values()) {
    if (line.length <= max) kept.push(...line);
    else for (let i = 0; i < max; i++) kept.push(line[Math.floor((i * (line.length - 1)) / (max - 1))]!);
  }
  return kept;
}

async function render(points: readonly Point[], options: PlotOptions): Promise<string> {
  const [vega, vegaLite] = await Promise.all([import('vega'), import('vega-lite')]);
  const fields = [...new Set(points.map((p) => p.field))];
  const few = points.length <= 200;
  const layer = {
    mark: { type: 'line', point: few, interpolate: 'linear' },
    encoding: {
      x: { field: 't', type: 'quantitative', title: 'seconds since the first message' },
      y: { field: 'y', type: 'quantitative', title: fields.length === 1 ? fields[0] : null },
      color: { field: 'topic', type: 'nominal', title: 'topic', legend: { labelLimit: 0 } },
    },
    width: options.width ?? 640,
    height: options.height ?? (fields.length === 1 ? 280 : 160),
  };
  const spec =
    fields.length === 1
      ? { ...layer, data: { values: points } }
      : {
          data: { values: points },
          facet: { row: { field: 'field', type: 'nominal', title: null } },
          spec: layer,
          resolve: { scale: { y: 'independent' } },
        };
  const compiled = vegaLite.compile({
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    ...(options.title === undefined ? {} : { title: options.title }),
    background: 'white',
    ...spec,
  } as Parameters<typeof vegaLite.compile>[0]);
  const view = new vega.View(vega.parse(compiled.spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
