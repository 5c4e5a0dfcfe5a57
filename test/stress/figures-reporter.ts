/**
 * Vitest reporter of the stress run: sums the figures the test files recorded into one table and
 * prints it. Only a run that can stand behind it writes it into the README's "Reliability figures":
 * every stress file ran, every test passed (none skipped), every size at its full value, and the
 * working tree is the commit the table names. Nothing of earlier runs is merged in.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import type { Reporter, TestModule, TestRunEndReason } from 'vitest/node';
import { repoRoot } from '../helpers.js';
import type { Figure } from './figures.js';
import { figuresVariable } from './global-setup.js';
import { sizes } from './sizes.js';

/** One transport's line of the table; `undefined` where that part of the suite measured nothing. */
interface Row {
  held?: number | undefined;
  survived?: number | undefined;
  rounds?: number | undefined;
  inputs?: number | undefined;
  checks?: number | undefined;
  lost?: number | undefined;
}

const START = '<!-- reliability-figures:start -->';
const END = '<!-- reliability-figures:end -->';

const add = (a: number | undefined, b: number | undefined) => (b === undefined ? a : (a ?? 0) + b);

function summarise(figures: readonly Figure[]): Map<string, Row> {
  const rows = new Map<string, Row>();
  for (const f of figures) {
    const row = rows.get(f.transport) ?? {};
    row.held = add(row.held, f.held);
    row.survived = add(row.survived, f.survived);
    row.rounds = add(row.rounds, f.rounds);
    row.inputs = add(row.inputs, f.inputs);
    row.checks = add(row.checks, f.checks);
    row.lost = add(row.lost, f.lost);
    rows.set(f.transport, row);
  }
  return rows;
}

/** A cell: the figure, or a dash where nothing was measured (never a 0 that was not counted). */
const cell = (n: number | undefined) => (n === undefined ? '–' : n.toLocaleString('en'));

function table(rows: Map<string, Row>): string {
  const header = ['transport', 'load held', 'faults survived', 'inputs tried', 'security checks', 'messages lost'];
  const lines = [header, header.map((h) => '-'.repeat(h.length))];
  for (const [transport, r] of [...rows].sort(([a], [b]) => a.localeCompare(b))) {
    const faults = r.rounds === undefined ? '–' : `${r.survived ?? 0}/${r.rounds}`;
    lines.push([transport, cell(r.held), faults, cell(r.inputs), cell(r.checks), cell(r.lost)]);
  }
  return lines.map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

function writeReadme(text: string): void {
  const file = join(repoRoot, 'README.md');
  const readme = readFileSync(file, 'utf8');
  const begin = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (begin < 0 || end < begin) throw new Error(`README.md has no ${START} ... ${END} section`);
  writeFileSync(file, `${readme.slice(0, begin)}${START}\n${text}\n${END}${readme.slice(end + END.length)}`);
}

function git(...args: string[]): string {
  return execFileSync('git', args, { cwd: repoRoot, encoding: 'utf8' }).trim();
}

/** Why this run may not write the README (undefined: it may). */
function unfit(modules: readonly TestModule[], reason: TestRunEndReason): string | undefined {
  if (process.env.STRESS_README === '0') return 'STRESS_README=0';
  if (reason !== 'passed') return `the run ${reason}`;
  if (!sizes.full) return 'not every size was at its full value';
  const files = readdirSync(join(repoRoot, 'test', 'stress')).filter((f) => f.endsWith('.test.ts'));
  if (modules.length !== files.length) return `${modules.length} of ${files.length} stress files ran`;
  for (const module of modules) {
    if (module.state() !== 'passed') return `${module.moduleId} ${module.state()}`;
    for (const test of module.children.allTests()) {
      const state = test.result().state;
      if (state !== 'passed') return `"${test.fullName}" ${state}`;
    }
  }
  // Figures belong to a commit: uncommitted changes (but the table itself) would make them nobody's.
  const dirty = git('status', '--porcelain', '--', '.', ':!README.md');
  if (dirty !== '') return `the working tree has uncommitted changes:\n${dirty}`;
  return undefined;
}

/** The reporter (listed in vitest.stress.config.ts). */
export default class FiguresReporter implements Reporter {
  onTestRunEnd(modules: readonly TestModule[], _errors: unknown, reason: TestRunEndReason): void {
    const dir = process.env[figuresVariable];
    if (dir === undefined || !existsSync(dir)) return;
    const figures: Figure[] = [];
    for (const file of readdirSync(dir)) {
      for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
        if (line.trim() !== '') figures.push(JSON.parse(line) as Figure);
      }
    }
    if (figures.length === 0) return;
    const rows = summarise(figures);
    const lost = [...rows.values()].reduce((sum, r) => sum + (r.lost ?? 0), 0);
    const notes = figures.filter((f) => f.note !== undefined).map((f) => `- ${f.section} ${f.transport}: ${f.note}`);
    const seeds = [...new Set(figures.flatMap((f) => (f.seed === undefined ? [] : [f.seed])))];
    const commit = git('rev-parse', '--short=12', 'HEAD');
    const date = new Date().toISOString().slice(0, 16).replace('T', ' ');
    const conditions =
      `${sizes.producers} producers x ${sizes.samples.toLocaleString('en')} samples, ` +
      `${sizes.faultRounds} kill rounds per transport (seed ${seeds.join(', ') || '–'}), ` +
      `${sizes.cycles.toLocaleString('en')} open/close cycles per transport, ` +
      `${sizes.garbage.toLocaleString('en')} garbage messages per transport; ` +
      `${cpus().length} cores shared with other work`;
    const summary =
      `${table(rows)}\n\nMessages lost in total: ${lost.toLocaleString('en')} ` +
      `(– : that part of the suite does not cover the transport). Sizes: ${conditions}.`;
    console.log(`\nReliability figures (commit ${commit}, ${date} UTC)\n\n${summary}\n\n${notes.join('\n')}\n`);
    const why = unfit(modules, reason);
    if (why !== undefined) {
      console.log(`README reliability figures not written: ${why}\n`);
      return;
    }
    writeReadme(
      `Measured by one full-size \`npm run test:stress\` run in which every test passed, on commit \`${commit}\`, ` +
        `${date} UTC (\`.ci/run\` runs the suite with bounded sizes and leaves this table alone).\n\n${summary}`,
    );
    console.log('README reliability figures written.\n');
  }
}
