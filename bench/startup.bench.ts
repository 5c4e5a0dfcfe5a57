/**
 * Start-up cost of `import 'typed-ipc'`: time to import the built package and the resident memory it
 * adds, in fresh Node processes, against a bare Node process importing an empty module (the same
 * ES-module machinery, nothing else). Rows for a first touch of `.zod` and `.typebox` show what
 * loading those libraries on demand costs. The bar: import <= 100 ms and <= +15 MB RSS.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { measuredBuild } from './library.js';
import { withoutPreload } from './preload.js';
import { type BenchResult, median } from './report.js';
import type { BenchContext } from './suite.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
/** The bare baseline's module: in the bench's own build directory, not in a `--library` build. */
const empty = join(root, 'bench', 'build', 'empty.js');
/** package.json's `main` (under dist/) in `build`: the same tsconfig.build.json, so the same layout. */
const entryIn = (build: string): string =>
  join(
    build,
    relative('dist', (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { main: string }).main),
  );

/** What each child process imports and touches; it prints `{ ms, rss }` after the work. */
const scenarios: Record<string, string> = {
  'bare node (empty module)': 'await import(empty);',
  "import 'typed-ipc'": 'await import(entry);',
  "import 'typed-ipc', then .zod": "const m = await import(entry); m.struct('s', { a: m.u16 }).zod;",
  "import 'typed-ipc', then .typebox": "const m = await import(entry); m.struct('s', { a: m.u16 }).typebox;",
};

interface Sample {
  /** Wall-clock milliseconds of the work. */
  readonly ms: number;
  /** CPU milliseconds (user + system) of the work: what the import costs, whatever else runs. */
  readonly cpu: number;
  /** Resident set size after the work, bytes. */
  readonly rss: number;
}

/** Runs `body` in a fresh process, where `entry` is the built package's entry URL and `empty` the baseline's. */
function child(body: string, entry: string): Sample {
  const script = [
    `const entry = ${JSON.stringify(pathToFileURL(entry).href)};`,
    `const empty = ${JSON.stringify(pathToFileURL(empty).href)};`,
    'const c0 = process.cpuUsage();',
    'const t0 = performance.now();',
    body,
    'const ms = performance.now() - t0;',
    'const c = process.cpuUsage(c0);',
    'console.log(JSON.stringify({ ms, cpu: (c.user + c.system) / 1000, rss: process.memoryUsage().rss }));',
  ].join('\n');
  // The child imports the build itself: without the bench's redirect of src/ (a module hooks thread of its own).
  const env = { ...process.env, NODE_OPTIONS: withoutPreload(process.env.NODE_OPTIONS, 'built-library.mjs') };
  const stdout = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: root,
    encoding: 'utf8',
    env,
  });
  return JSON.parse(stdout.trim().split('\n').pop()!) as Sample;
}

/** Measures fresh processes importing the build the run measures (bench/library.ts, `measuredBuild`). */
export async function run(context?: Partial<BenchContext>): Promise<BenchResult[]> {
  const quick = context?.quick ?? false;
  const rounds = Number(process.env.BENCH_ROUNDS ?? (quick ? 5 : 15));
  context?.progress?.(0, 'build');
  const entry = entryIn(measuredBuild());
  mkdirSync(dirname(empty), { recursive: true });
  writeFileSync(empty, 'export {};\n');
  const names = Object.keys(scenarios);
  const samples = new Map(names.map((name) => [name, [] as Sample[]]));
  for (let round = 0; round < rounds; round++) {
    context?.progress?.(round / rounds, `round ${round + 1}/${rounds}`);
    // Interleaved: a busy moment of the machine hits every scenario alike.
    for (const name of names) {
      samples.get(name)!.push(child(scenarios[name]!, entry));
    }
  }
  const figures = (name: string) => {
    const s = samples.get(name)!;
    return {
      ms: median(s.map((x) => x.ms)),
      cpu: median(s.map((x) => x.cpu)),
      rss: median(s.map((x) => x.rss)) / 1048576,
    };
  };
  const bare = figures(names[0]!);
  const results: BenchResult[] = names.map((name) => {
    const f = figures(name);
    const mb = f.rss - bare.rss;
    const over = name === names[0] ? 'the baseline' : `${mb >= 0 ? '+' : ''}${mb.toFixed(1)} MB over bare node`;
    return {
      transport: 'startup',
      messageBytes: 0,
      variant: name,
      // The report's rate column: imports per second of one process (1000 / median wall ms).
      msgPerSec: 1000 / f.ms,
      reference: true,
      notes: `${f.ms.toFixed(1)} ms wall, ${f.cpu.toFixed(1)} ms CPU, RSS ${f.rss.toFixed(1)} MB (${over}); medians of ${rounds} fresh processes`,
    };
  });
  const ours = figures("import 'typed-ipc'");
  const mb = ours.rss - bare.rss;
  // Wall time on a shared machine is mostly waiting for a core; CPU time is what the import costs.
  console.log(
    `${ours.cpu <= 100 ? 'PASS' : 'FAIL'} startup: import 'typed-ipc' ${ours.cpu.toFixed(1)} ms CPU, ${ours.ms.toFixed(1)} ms wall at load ${loadavg()[0]!.toFixed(1)} (target <= 100 ms)`,
  );
  console.log(
    `${mb <= 15 ? 'PASS' : 'FAIL'} startup: import 'typed-ipc' +${mb.toFixed(1)} MB RSS over bare node (target <= +15 MB)`,
  );
  return results;
}
