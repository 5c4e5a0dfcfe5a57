/**
 * The benchmark report: the record every bench module returns, ratios against the baselines measured
 * in the same run, and the two renderings that `npm run bench` writes: bench/results.md and
 * bench/results.svg.
 */
import { cpus, loadavg, release } from 'node:os';

/** What a baseline row measures: a C program, Node's child_process IPC, hand-written DataView code... */
export type BaselineKind = 'c' | 'node-ipc' | 'dataview' | 'msgpackr' | 'koffi' | 'nats-client';

/** The baselines in the order the report's columns show them. */
export const baselineKinds: readonly BaselineKind[] = ['c', 'node-ipc', 'dataview', 'msgpackr', 'koffi', 'nats-client'];

/** The message sizes every transport is measured with (bytes): the sample, a medium and a page-sized message. */
export const messageSizes: readonly number[] = [24, 256, 4096];

/** One measurement, as a bench module's `run()` returns it. */
export interface BenchResult {
  /** The transport (`mq`, `unix+dgram`, `shm`, ...) or area (`codec`) measured. */
  readonly transport: string;
  /** Bytes per message. */
  readonly messageBytes: number;
  /** What ran, e.g. `node send/receive`, `node sendMany/receiveMany`, `c mq_send/mq_receive`. */
  readonly variant: string;
  /** Messages per second (one way, or encode+decode pairs for codecs). */
  readonly msgPerSec: number;
  /** Set when this row is a baseline: the other rows of the same transport and size are compared with it. */
  readonly baseline?: BaselineKind;
  /**
   * Set on a row that is neither typed-ipc nor a baseline, shown for reference only (e.g. a C loop
   * moving 64 KiB per call): it gets ratios but is never picked as a typed-ipc figure.
   */
  readonly reference?: boolean;
  /**
   * Set on a latency row (bench/latency.bench.ts): one-way percentiles in microseconds. `msgPerSec` is
   * then the one-way rate of the ping-pong; such rows are left out of the msg/s chart and the README summary.
   */
  readonly latency?: { readonly p50Us: number; readonly p99Us: number };
  /** Other figures worth printing beside it (latency percentiles, batch size). */
  readonly notes?: string;
}

/** The median of a list of figures (the mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Whether a row measures typed-ipc itself (not a baseline, not a reference row). */
export function isTypedIpc(result: BenchResult): boolean {
  return result.baseline === undefined && result.reference !== true;
}

/** A result with its ratios to every baseline of the same transport and message size. */
export interface RatedResult extends BenchResult {
  readonly ratios: Partial<Record<BaselineKind, number>>;
}

/** Under which conditions the figures were taken. */
export interface Conditions {
  readonly date: string;
  readonly node: string;
  readonly kernel: string;
  readonly cpus: string;
  /** 1-minute load average at the start and the end of the run. */
  readonly load: readonly [number, number];
  /** How many times each figure was measured (best kept), as the modules report it. */
  readonly note: string;
}

/** A complete run: results and conditions. */
export interface Report {
  readonly conditions: Conditions;
  readonly results: readonly RatedResult[];
  /** Modules that failed, with their one-line error; the other modules' results stand. */
  readonly failures: readonly { readonly module: string; readonly error: string }[];
}

/** Conditions of a run that started with `startLoad` (the 1-minute load average at its start). */
export function conditionsOf(startLoad: number, note: string): Conditions {
  const cores = cpus();
  return {
    date: new Date().toISOString(),
    node: process.version,
    kernel: `Linux ${release()}`,
    cpus: `${cores.length} x ${cores[0]?.model.trim() ?? 'unknown'}`,
    load: [startLoad, loadavg()[0]!],
    note,
  };
}

/** Adds to every row its ratios against the baselines measured for the same transport and size. */
export function rate(results: readonly BenchResult[]): RatedResult[] {
  return results.map((result) => {
    const ratios: Partial<Record<BaselineKind, number>> = {};
    for (const other of results) {
      if (other.baseline === undefined || other === result || other.msgPerSec <= 0) continue;
      if (other.transport !== result.transport || other.messageBytes !== result.messageBytes) continue;
      ratios[other.baseline] = result.msgPerSec / other.msgPerSec;
    }
    return { ...result, ratios };
  });
}

/** `1 234 567` style grouping for msg/s. */
export function formatRate(msgPerSec: number): string {
  return Math.round(msgPerSec).toLocaleString('en-US');
}

/** `1.23x`. */
export function formatRatio(ratio: number | undefined): string {
  return ratio === undefined ? '' : `${ratio.toFixed(2)}x`;
}

function formatBytes(bytes: number): string {
  return bytes >= 1024 && bytes % 1024 === 0 ? `${bytes / 1024} KiB` : `${bytes} B`;
}

/** Baseline kinds that occur in the results, in report order. */
function kindsIn(results: readonly RatedResult[]): BaselineKind[] {
  return baselineKinds.filter((kind) => results.some((r) => r.baseline === kind));
}

function byTransport(results: readonly RatedResult[]): Map<string, RatedResult[]> {
  const groups = new Map<string, RatedResult[]>();
  for (const result of results) {
    const group = groups.get(result.transport) ?? [];
    group.push(result);
    groups.set(result.transport, group);
  }
  return groups;
}

/** bench/results.md: one table per transport (sizes × variants, msg/s and ratios), then the conditions. */
export function renderMarkdown(report: Report): string {
  const { conditions: c } = report;
  const lines = [
    '# typed-ipc benchmark results',
    '',
    `Measured ${c.date} with Node ${c.node} on ${c.kernel}, ${c.cpus}; load average ${c.load[0].toFixed(2)} at the start, ${c.load[1].toFixed(2)} at the end. ${c.note}`,
    '',
    'Ratios compare a row with the baseline of the same transport and message size measured in the same run:',
    "`c` is a C program doing the same system calls, `node-ipc` is Node's child_process IPC (`process.send`),",
    '`dataview`, `msgpackr` and `koffi` are the codec baselines, `nats-client` is the NATS client itself. Higher is better.',
    '',
    '![msg/s per transport and message size](results.svg)',
    '',
  ];
  for (const [transport, rows] of byTransport(report.results)) {
    const kinds = kindsIn(rows);
    const row = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
    lines.push(`## ${transport}`, '');
    lines.push(row(['size', 'variant', 'msg/s', ...kinds.map((k) => `vs ${k}`), 'notes']));
    lines.push(row(['---:', '---', '---:', ...kinds.map(() => '---:'), '---']));
    const sorted = [...rows].sort(
      (a, b) => a.messageBytes - b.messageBytes || Number(a.baseline !== undefined) - Number(b.baseline !== undefined),
    );
    for (const r of sorted) {
      const ratios = kinds.map((k) => (r.baseline === k ? 'baseline' : formatRatio(r.ratios[k])));
      const variant =
        r.baseline !== undefined ? `*${r.variant}*` : r.reference ? `${r.variant} (reference)` : r.variant;
      lines.push(row([formatBytes(r.messageBytes), variant, formatRate(r.msgPerSec), ...ratios, r.notes ?? '']));
    }
    lines.push('');
  }
  if (report.failures.length > 0) {
    lines.push('## Modules that failed', '');
    for (const failure of report.failures) lines.push(`- ${failure.module}: ${failure.error}`);
    lines.push('');
  }
  return `${lines.join('\n')}\n`;
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

const palette = { node: '#2b6cb0', c: '#9c4221', other: '#718096', grid: '#e2e8f0', text: '#1a202c' };

/**
 * bench/results.svg: one panel per message size; in each, a horizontal bar per transport and variant
 * on a logarithmic msg/s axis (the transports span three orders of magnitude), Node rows in blue, C
 * baselines in rust, other baselines in grey, each bar labelled with its rate and its ratio to C.
 */
export function renderSvg(full: Report): string {
  const report = { ...full, results: full.results.filter((r) => r.latency === undefined) };
  const sizes = messageSizes.filter((size) => report.results.some((r) => r.messageBytes === size));
  const rowHeight = 18;
  const labelWidth = 300;
  const barWidth = 420;
  const width = labelWidth + barWidth + 170;
  const max = Math.max(10, ...report.results.map((r) => r.msgPerSec));
  const top = 10 ** Math.ceil(Math.log10(max));
  const bottom =
    10 **
    Math.max(0, Math.floor(Math.log10(Math.min(...report.results.map((r) => r.msgPerSec).filter((v) => v > 0), top))));
  const scale = (v: number) => (v <= bottom ? 0 : (Math.log10(v / bottom) / Math.log10(top / bottom)) * barWidth);
  const parts: string[] = [];
  let y = 40;
  parts.push(
    `<text x="10" y="24" font-size="16" font-weight="bold">typed-ipc: messages per second (log scale), ${escapeXml(report.conditions.date.slice(0, 10))}</text>`,
  );
  for (const size of sizes) {
    const rows = report.results
      .filter((r) => r.messageBytes === size)
      .sort((a, b) => a.transport.localeCompare(b.transport) || b.msgPerSec - a.msgPerSec);
    parts.push(`<text x="10" y="${y + 14}" font-size="14" font-weight="bold">${formatBytes(size)} messages</text>`);
    y += 24;
    const panelTop = y;
    for (let decade = bottom; decade <= top; decade *= 10) {
      const x = labelWidth + scale(decade);
      parts.push(
        `<line x1="${x}" y1="${panelTop}" x2="${x}" y2="${panelTop + rows.length * rowHeight}" stroke="${palette.grid}"/>`,
      );
      parts.push(
        `<text x="${x}" y="${panelTop + rows.length * rowHeight + 12}" font-size="10" text-anchor="middle" fill="${palette.other}">${decadeLabel(decade)}</text>`,
      );
    }
    for (const row of rows) {
      const color = isTypedIpc(row) ? palette.node : row.baseline === 'c' ? palette.c : palette.other;
      const label = `${row.transport} · ${row.variant}`;
      const ratio = isTypedIpc(row) && row.ratios.c !== undefined ? `  ${formatRatio(row.ratios.c)} of C` : '';
      parts.push(
        `<text x="${labelWidth - 6}" y="${y + 13}" font-size="11" text-anchor="end">${escapeXml(label)}</text>`,
      );
      parts.push(
        `<rect x="${labelWidth}" y="${y + 3}" width="${Math.max(1, scale(row.msgPerSec)).toFixed(1)}" height="${rowHeight - 6}" fill="${color}"/>`,
      );
      parts.push(
        `<text x="${labelWidth + scale(row.msgPerSec) + 4}" y="${y + 13}" font-size="10">${formatRate(row.msgPerSec)}${escapeXml(ratio)}</text>`,
      );
      y += rowHeight;
    }
    y += 28;
  }
  parts.push(
    `<text x="10" y="${y}" font-size="10" fill="${palette.other}">blue: typed-ipc from Node · rust: C baseline · grey: other baselines · ${escapeXml(report.conditions.cpus)}, load ${report.conditions.load[0].toFixed(1)}</text>`,
  );
  const height = y + 16;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" fill="${palette.text}">\n<rect width="100%" height="100%" fill="white"/>\n${parts.join('\n')}\n</svg>\n`;
}

function decadeLabel(value: number): string {
  if (value >= 1e6) return `${value / 1e6}M`;
  if (value >= 1e3) return `${value / 1e3}k`;
  return String(value);
}

/** The 1-minute load average now. */
export function loadNow(): number {
  return loadavg()[0]!;
}

/**
 * The README's summary: per transport and message size, the fastest typed-ipc row with its ratios to
 * the C and child_process IPC baselines of the same run; the full tables are in results.md.
 */
export function renderSummary(report: Report): string {
  const { conditions: c } = report;
  const lines = [
    `Latest full run: ${c.date.slice(0, 10)}, Node ${c.node}, ${c.cpus}, load average ${c.load[0].toFixed(1)}-${c.load[1].toFixed(1)} (a shared machine: the ratios, measured side by side in the same run, matter more than the rates).`,
    '',
    '| transport | size | fastest typed-ipc variant | msg/s | vs C | vs Node IPC |',
    '| --- | ---: | --- | ---: | ---: | ---: |',
  ];
  for (const [transport, rows] of byTransport(report.results.filter((r) => r.latency === undefined))) {
    if (!rows.some((r) => r.baseline === 'c' || r.baseline === 'node-ipc')) continue; // codecs: see results.md
    for (const size of messageSizes) {
      const best = rows
        .filter((r) => r.messageBytes === size && isTypedIpc(r))
        .sort((a, b) => b.msgPerSec - a.msgPerSec)[0];
      if (best === undefined) continue;
      lines.push(
        `| ${transport} | ${formatBytes(size)} | ${best.variant} | ${formatRate(best.msgPerSec)} | ${formatRatio(best.ratios.c) || '—'} | ${formatRatio(best.ratios['node-ipc']) || '—'} |`,
      );
    }
  }
  lines.push('', '![msg/s per transport and message size](bench/results.svg)');
  return lines.join('\n');
}

/** Replaces the text between `<!-- bench:start -->` and `<!-- bench:end -->` in `markdown`. */
export function withSummary(markdown: string, summary: string): string {
  const start = '<!-- bench:start -->';
  const end = '<!-- bench:end -->';
  const from = markdown.indexOf(start);
  const to = markdown.indexOf(end);
  if (from < 0 || to < from) return markdown;
  return `${markdown.slice(0, from + start.length)}\n${summary}\n${markdown.slice(to)}`;
}
