/** `typed-ipc bench`: the benchmark suite of the repository (bench/), with a progress bar on stderr. */
import { existsSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { type Command, UsageError } from '../args.js';
import { writeLine } from '../output.js';
import { importModule } from '../schema.js';
import { type Column, renderTable } from '../table.js';

const help = `Usage: typed-ipc bench [--only <name>]... [--quick] [--source] [--write] [--json]

Runs the benchmark suite (every bench/*.bench.ts module of a typed-ipc checkout, one after the other)
with a progress bar on stderr, then prints msg/s per transport and message size with the ratios
against the baselines measured in the same run (C programs, Node's child_process IPC).
The suite lives in the repository, not in the published package: run it from a checkout
(it compiles its C baselines with cc and runs its TypeScript peers with tsx).

Options:
  --only <name>   only modules whose file name contains <name> (repeatable), e.g. --only mq
  --quick         short measurements: a smoke run, not figures to quote
  --source        measure the TypeScript source through tsx instead of the package's tsc build
  --write         also write bench/results.md and bench/results.svg (as npm run bench does)
  --json          the rated results as JSON instead of a table
  -h, --help      this help

Benchmarks take minutes and load every core; run them on an otherwise idle machine.`;

interface Suite {
  runSuite(options: {
    filter?: readonly string[];
    quick?: boolean;
    source?: boolean;
    onProgress?(done: number, total: number, label: string): void;
  }): Promise<SuiteReport>;
}

interface SuiteReport {
  readonly results: readonly {
    transport: string;
    messageBytes: number;
    variant: string;
    msgPerSec: number;
    baseline?: string;
    ratios: Partial<Record<string, number>>;
  }[];
  readonly failures: readonly { module: string; error: string }[];
}

interface ReportModule {
  renderMarkdown(report: SuiteReport): string;
  renderSvg(report: SuiteReport): string;
  formatRate(msgPerSec: number): string;
  formatRatio(ratio: number | undefined): string;
}

// Found by the package's own name: src/cli (a checkout) and dist/src/cli (built) sit at different depths.
const benchDir = join(dirname(createRequire(import.meta.url).resolve('typed-ipc/package.json')), 'bench');

/** Why `bench` cannot run here (an installed package ships no suite), or undefined in a checkout. */
export function benchUnavailable(): string | undefined {
  if (existsSync(join(benchDir, 'suite.ts'))) return undefined;
  return 'the benchmark suite is not part of the installed package; clone the repository and run npm ci && npm run bench';
}

/** The `bench` command. */
export const bench: Command = {
  name: 'bench',
  summary: 'run the benchmark suite (msg/s and ratios against C and Node baselines), with a progress bar',
  help,
  unavailable: benchUnavailable,
  options: {
    only: { type: 'string', multiple: true },
    quick: { type: 'boolean' },
    source: { type: 'boolean' },
    write: { type: 'boolean' },
    json: { type: 'boolean' },
  },
  async run(args) {
    if (args.positionals.length > 0) throw new UsageError(`takes no arguments, got ${args.positionals.join(' ')}`);
    const unavailable = benchUnavailable();
    if (unavailable !== undefined) throw new UsageError(unavailable);
    const suite = (await importModule(join(benchDir, 'suite.ts'), 'bench')) as unknown as Suite;
    const report = (await importModule(join(benchDir, 'report.ts'), 'bench')) as unknown as ReportModule;
    const only = args.values.only;
    const bar = new ProgressBar();
    // Bench modules narrate with console.log; stdout is for the results, so their lines go to stderr.
    const log = console.log;
    console.log = (...items: unknown[]) => {
      bar.clear();
      console.error(...items);
    };
    let result: SuiteReport;
    try {
      result = await suite.runSuite({
        filter: Array.isArray(only) ? only.map(String) : [],
        quick: args.values.quick === true,
        source: args.values.source === true,
        onProgress: (done, total, label) => bar.update(done, total, label),
      });
    } finally {
      console.log = log;
      bar.finish();
    }
    if (args.values.json === true) {
      writeLine(JSON.stringify(result.results));
    } else {
      writeLine(benchTable(result.results, report, process.stdout.columns ?? 120));
    }
    if (args.values.write === true) {
      writeFileSync(join(benchDir, 'results.md'), report.renderMarkdown(result));
      writeFileSync(join(benchDir, 'results.svg'), report.renderSvg(result));
      process.stderr.write(`wrote ${join(benchDir, 'results.md')} and results.svg\n`);
    }
    for (const failure of result.failures)
      process.stderr.write(`typed-ipc bench: ${failure.module} failed: ${failure.error}\n`);
    return result.failures.length > 0 ? 1 : 0;
  },
};

/**
 * The rated results as a table no wider than `width` (120 when not a terminal): one ratio column per
 * baseline kind present, a baseline row marked `base` in its own column, long variant names cut.
 */
export function benchTable(results: SuiteReport['results'], report: ReportModule, width: number): string {
  const kinds = [...new Set(results.flatMap((r) => [...Object.keys(r.ratios), ...(r.baseline ? [r.baseline] : [])]))];
  const rows = results.map((r) => [
    r.transport,
    String(r.messageBytes),
    r.variant,
    report.formatRate(r.msgPerSec),
    ...kinds.map((kind) => (r.baseline === kind ? 'base' : report.formatRatio(r.ratios[kind]))),
  ]);
  const columns: Column[] = [
    { header: 'TRANSPORT' },
    { header: 'BYTES', right: true },
    { header: 'VARIANT', shrink: true },
    { header: 'MSG/S', right: true },
    ...kinds.map((kind) => ({ header: `VS ${kind.toUpperCase()}`, right: true })),
  ];
  return renderTable(columns, rows, Math.min(width, 120));
}

/** A progress bar redrawn in place on a terminal; one line per module otherwise (logs, CI). */
class ProgressBar {
  readonly #tty = process.stderr.isTTY === true;
  #lastLabel = '';

  update(done: number, total: number, label: string): void {
    const fraction = total === 0 ? 1 : done / total;
    if (this.#tty) {
      const width = 30;
      const filled = Math.round(fraction * width);
      const text = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${Math.round(fraction * 100)
        .toString()
        .padStart(3)}% ${label}`;
      process.stderr.write(`\r\x1b[K${text.slice(0, (process.stderr.columns ?? 80) - 1)}`);
    } else if (label !== this.#lastLabel) {
      process.stderr.write(`[${Math.round(fraction * 100)}%] ${label}\n`);
    }
    this.#lastLabel = label;
  }

  /** Clears the bar's line so that other output starts at the left margin. */
  clear(): void {
    if (this.#tty) process.stderr.write('\r\x1b[K');
  }

  finish(): void {
    this.clear();
  }
}
