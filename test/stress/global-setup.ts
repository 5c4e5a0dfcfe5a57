/**
 * Global setup of the stress run: a directory for the figures the test files record, and at the end
 * the summary table (printed, and written into the README's "Reliability figures" section on full runs).
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { repoRoot } from '../helpers.js';
import type { Figure } from './figures.js';
import { peerBundle } from './processes.js';
import { sizes } from './sizes.js';

interface Row {
  held: number;
  survived: number;
  rounds: number;
  inputs: number;
  lost: number;
  checks: number;
}

const START = '<!-- reliability-figures:start -->';
const END = '<!-- reliability-figures:end -->';

function summarise(figures: readonly Figure[]): Map<string, Row> {
  const rows = new Map<string, Row>();
  for (const f of figures) {
    const row = rows.get(f.transport) ?? { held: 0, survived: 0, rounds: 0, inputs: 0, lost: 0, checks: 0 };
    row.held += f.held ?? 0;
    row.survived += f.survived ?? 0;
    row.rounds += f.rounds ?? 0;
    row.inputs += f.inputs ?? 0;
    row.lost += f.lost ?? 0;
    row.checks += f.checks ?? 0;
    rows.set(f.transport, row);
  }
  return rows;
}

function table(rows: Map<string, Row>): string {
  const header = ['transport', 'load held', 'faults survived', 'inputs tried', 'security checks', 'messages lost'];
  const lines = [header, header.map((h) => '-'.repeat(h.length))];
  for (const [transport, r] of [...rows].sort(([a], [b]) => a.localeCompare(b))) {
    lines.push([
      transport,
      r.held.toLocaleString('en'),
      `${r.survived}/${r.rounds}`,
      r.inputs.toLocaleString('en'),
      String(r.checks),
      String(r.lost),
    ]);
  }
  return lines.map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

function writeReadme(text: string): void {
  const file = join(repoRoot, 'README.md');
  const readme = readFileSync(file, 'utf8');
  const section = `${START}\n${text}\n${END}`;
  const begin = readme.indexOf(START);
  const end = readme.indexOf(END);
  const next =
    begin >= 0 && end > begin
      ? `${readme.slice(0, begin)}${section}${readme.slice(end + END.length)}`
      : `${readme.trimEnd()}\n\n## Reliability figures\n\n${section}\n`;
  writeFileSync(file, next);
}

/**
 * Bundles `peer.ts` (with the library it imports) into one ES module, so that the many peer processes
 * start with plain `node`. esbuild comes with tsx; packages stay external and load from node_modules.
 */
async function bundlePeer(): Promise<void> {
  const { build } = await import('esbuild');
  // Built aside and renamed: a concurrent run's peers never see a half-written bundle.
  const temporary = `${peerBundle}.${process.pid}.tmp`;
  await build({
    entryPoints: [join(repoRoot, 'test', 'stress', 'peer.ts')],
    outfile: temporary,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    logLevel: 'error',
  });
  renameSync(temporary, peerBundle);
}

/** Figures of earlier full runs, kept beside the peer bundle (not committed). */
const earlierFile = join(repoRoot, 'test', 'stress', '.build', 'figures.json');

/** This run's figures, plus those of earlier full runs for (section, transport) pairs this run did not measure. */
function mergeWithEarlier(figures: readonly Figure[]): Figure[] {
  const measured = new Set(figures.map((f) => `${f.section} ${f.transport}`));
  const earlier = existsSync(earlierFile) ? (JSON.parse(readFileSync(earlierFile, 'utf8')) as Figure[]) : [];
  const merged = [...earlier.filter((f) => !measured.has(`${f.section} ${f.transport}`)), ...figures];
  writeFileSync(earlierFile, JSON.stringify(merged, null, 1));
  return merged;
}

/** Vitest global setup: provides `figuresDir`; the returned teardown prints and stores the figures. */
export default async function setup(project: TestProject): Promise<() => void> {
  await bundlePeer();
  const dir = mkdtempSync(join(tmpdir(), 'tipc-figures-'));
  project.provide('figuresDir', dir);
  return () => {
    const figures: Figure[] = [];
    for (const file of readdirSync(dir)) {
      for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
        if (line.trim() !== '') figures.push(JSON.parse(line) as Figure);
      }
    }
    rmSync(dir, { recursive: true, force: true });
    if (figures.length === 0) return;
    const full = process.env.STRESS_README === '1' || (!sizes.bounded && process.env.STRESS_README !== '0');
    // Full runs of parts of the suite add up: the README shows the latest full figures of every part.
    if (full) figures.splice(0, figures.length, ...mergeWithEarlier(figures));
    const rows = summarise(figures);
    const lost = [...rows.values()].reduce((sum, r) => sum + r.lost, 0);
    const notes = figures.filter((f) => f.note !== undefined).map((f) => `- ${f.section} ${f.transport}: ${f.note}`);
    const conditions =
      `${sizes.producers} producers x ${sizes.samples.toLocaleString('en')} samples, ` +
      `${sizes.faultRounds} kill rounds, ${sizes.cycles.toLocaleString('en')} open/close cycles per transport; ` +
      `${cpus().length} cores shared with other work, ${new Date().toISOString().slice(0, 10)}`;
    const summary = `${table(rows)}\n\nMessages lost in total: ${lost}. Sizes: ${conditions}.`;
    console.log(`\nReliability figures\n\n${summary}\n\n${notes.join('\n')}\n`);
    if (full) {
      writeReadme(`Measured by \`npm run test:stress\` (\`.ci/run\` runs it with bounded sizes).\n\n${summary}`);
    }
  };
}
