/**
 * The benchmark suite: every `bench/*.bench.ts` module's `run(context)` in turn, results rated
 * against the baselines measured in the same run. `npm run bench` and `typed-ipc bench` both use it.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { useBuiltLibrary } from './library.js';
import { preloadEverywhere } from './preload.js';
import { type BenchResult, conditionsOf, loadNow, messageSizes, type Report, rate } from './report.js';

/** What the suite hands to every bench module. */
export interface BenchContext {
  /** Message sizes to measure (bytes); a module measures those its transport can carry. */
  readonly sizes: readonly number[];
  /** Shorter measurements (fewer messages, fewer repetitions): a smoke run, not figures to quote. */
  readonly quick: boolean;
  /** Reports progress within the module: a fraction in [0, 1] and what runs now. */
  progress(fraction: number, label?: string): void;
}

/** A bench module: `export async function run(context)` returning its measurements. */
export interface BenchModule {
  run(context: BenchContext): Promise<readonly BenchResult[]>;
}

/** Options of `runSuite`. */
export interface SuiteOptions {
  /** Only modules whose file name contains one of these. */
  readonly filter?: readonly string[];
  readonly quick?: boolean;
  /**
   * Every Node process of the run (this one and the peers it spawns) first takes the live heap of a
   * modest application (bench/app-heap.mjs says why): figures that V8's small-heap heuristics do not decide.
   */
  readonly appHeap?: boolean;
  /**
   * Measure the TypeScript source through tsx rather than the package's tsc build (bench/library.ts):
   * quicker to iterate on, but its 4 KiB rows follow the source's module count (bench/built-library.mjs).
   */
  readonly source?: boolean;
  /** Measure this prebuilt library instead of building the checkout's (bench/library.ts, `useBuiltLibrary`). */
  readonly library?: string | undefined;
  readonly sizes?: readonly number[];
  /** Overall progress: modules done plus the running module's fraction, over the module count. */
  onProgress?(done: number, total: number, label: string): void;
}

const benchDir = dirname(fileURLToPath(import.meta.url));

/** The bench module files, in name order. */
export function benchModules(filter: readonly string[] = []): string[] {
  return readdirSync(benchDir)
    .filter((file) => file.endsWith('.bench.ts'))
    .filter((file) => filter.length === 0 || filter.some((f) => file.includes(f)))
    .sort();
}

/** Preloads bench/app-heap.mjs here and, through NODE_OPTIONS, into every Node process spawned from here. */
function takeAppHeap(): Promise<void> {
  return preloadEverywhere(join(benchDir, 'app-heap.mjs'));
}

/** Runs the modules one after the other (never in parallel: they would measure each other). */
export async function runSuite(options: SuiteOptions = {}): Promise<Report> {
  const files = benchModules(options.filter);
  // Before any bench module loads: what they import of src/ comes from the build from the start.
  if (options.source !== true) await useBuiltLibrary(options.library);
  if (options.appHeap === true) await takeAppHeap();
  const startLoad = loadNow();
  const results: BenchResult[] = [];
  const failures: { module: string; error: string }[] = [];
  for (const [index, file] of files.entries()) {
    const name = file.replace(/\.bench\.ts$/, '');
    const context: BenchContext = {
      sizes: options.sizes ?? messageSizes,
      quick: options.quick ?? false,
      progress: (fraction, label) =>
        options.onProgress?.(
          index + Math.min(1, Math.max(0, fraction)),
          files.length,
          label ? `${name}: ${label}` : name,
        ),
    };
    context.progress(0);
    try {
      const module = (await import(pathToFileURL(join(benchDir, file)).href)) as Partial<BenchModule>;
      if (typeof module.run !== 'function') throw new Error('exports no run(context) function');
      const measured = await module.run(context);
      if (!Array.isArray(measured)) throw new Error('run() did not return its results (BenchResult[])');
      results.push(...measured);
    } catch (error) {
      failures.push({ module: file, error: (error instanceof Error ? error.message : String(error)).split('\n')[0]! });
    }
    options.onProgress?.(index + 1, files.length, name);
  }
  const note = [
    options.quick
      ? 'Quick run (short measurements): not figures to quote.'
      : 'Each figure is the best of the repetitions a module makes.',
    options.source === true
      ? 'The library ran from its TypeScript source through tsx (--source).'
      : options.library !== undefined
        ? `The library ran from the build in ${options.library} (--library).`
        : 'The library ran as the package ships it, compiled by tsc (bench/build/lib).',
    ...(options.appHeap === true ? ['Every Node process held an application-sized heap (--app-heap).'] : []),
  ].join(' ');
  return { conditions: conditionsOf(startLoad, note), results: rate(results), failures };
}
