/**
 * `npm run bench`: runs every bench module, prints a summary and writes bench/results.md and
 * bench/results.svg (and, after a full run, the summary in README.md). Arguments: module name filters (e.g. `npm run bench -- mq ring`), `--quick`,
 * `--app-heap` (every Node process holds an application-sized heap: bench/app-heap.mjs), `--source`
 * (the library from its TypeScript source through tsx, not the package's tsc build: bench/library.ts),
 * `--library=<dir>` (another build of the package, e.g. an older version's, measured by this harness).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatRate, formatRatio, renderMarkdown, renderSummary, renderSvg, withSummary } from './report.js';
import { runSuite } from './suite.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const appHeap = args.includes('--app-heap');
const source = args.includes('--source');
const library = args.find((arg) => arg.startsWith('--library='))?.slice('--library='.length);
const filter = args.filter((arg) => !arg.startsWith('--'));
const report = await runSuite({
  filter,
  quick,
  appHeap,
  source,
  library,
  onProgress: (done, total, label) => process.stderr.write(`[${done.toFixed(1)}/${total}] ${label}\n`),
});
for (const r of report.results) {
  const ratios = Object.entries(r.ratios).map(([kind, ratio]) => `${formatRatio(ratio)} vs ${kind}`);
  console.log(
    `${r.transport.padEnd(16)} ${String(r.messageBytes).padStart(5)} B  ${r.variant.padEnd(36)} ${formatRate(r.msgPerSec).padStart(12)} msg/s  ${ratios.join(', ')}`,
  );
}
for (const f of report.failures) console.error(`FAILED ${f.module}: ${f.error}`);
const dir = dirname(fileURLToPath(import.meta.url));
writeFileSync(join(dir, 'results.md'), renderMarkdown(report));
writeFileSync(join(dir, 'results.svg'), renderSvg(report));
console.log(`wrote ${join(dir, 'results.md')} and results.svg`);
// Only a full run speaks for every transport: a filtered or quick run leaves the README as it is.
if (filter.length === 0 && !quick && !appHeap && !source && library === undefined && report.failures.length === 0) {
  const readme = join(dir, '..', 'README.md');
  writeFileSync(readme, withSummary(readFileSync(readme, 'utf8'), renderSummary(report)));
  console.log('updated the summary in README.md');
}
process.exitCode = report.failures.length > 0 ? 1 : 0;
