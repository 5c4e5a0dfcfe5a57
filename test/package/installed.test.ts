/**
 * The package as a user gets it: `npm pack` installed into a fresh app, then run with plain `node`
 * and no C compiler on PATH: the README examples that use the shipped schemas, the command on
 * `typed-ipc/schemas`, LICENSE, and source maps whose sources ship beside them.
 */
import { execFileSync, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectSendAndTail } from '../cli/run.js';
import { finished, repoRoot, uniqueName } from '../helpers.js';

const work = mkdtempSync(join(tmpdir(), 'tipc-pkg-'));
const app = join(work, 'app');
const installed = join(app, 'node_modules', 'typed-ipc');
// A PATH holding node and nothing else: no cc, no tsx, no npm.
const bare = join(work, 'bin');
afterAll(() => rmSync(work, { recursive: true, force: true }));

beforeAll(() => {
  // prepack builds dist/ first, so the tarball holds what `npm run build` writes now.
  const packed = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--pack-destination', work], { cwd: repoRoot, encoding: 'utf8' }),
  ) as { filename: string }[];
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  execFileSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', join(work, packed[0]!.filename)], {
    cwd: app,
    stdio: 'pipe',
  });
  mkdirSync(bare);
  symlinkSync(process.execPath, join(bare, 'node'));
}, 300_000);

/** Runs `node <args>` in the app with the bare PATH. */
function node(args: readonly string[]) {
  return finished(spawn('node', [...args], { cwd: app, env: { PATH: bare }, stdio: ['ignore', 'pipe', 'pipe'] }));
}

/** The command as npm installed it (node_modules/.bin/typed-ipc), with the bare PATH. */
function cli(args: readonly string[]) {
  const bin = join(app, 'node_modules', '.bin', 'typed-ipc');
  return finished(spawn(bin, [...args], { cwd: app, env: { PATH: bare }, stdio: ['ignore', 'pipe', 'pipe'] }));
}

function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((f) => join(dir, f));
}

/** The README's TypeScript blocks that import the shipped schemas, type-stripped to JavaScript. */
function readmeBlocksUsingSchemas(): { line: number; code: string; check: boolean }[] {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const found: { line: number; code: string; check: boolean }[] = [];
  const pattern = /^```ts([^\n]*)\n([\s\S]*?)^```$/gm;
  for (let m = pattern.exec(readme); m !== null; m = pattern.exec(readme)) {
    if (!m[2]!.includes("from 'typed-ipc/schemas'")) continue;
    const js = ts.transpileModule(m[2]!, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
    }).outputText;
    found.push({ line: readme.slice(0, m.index).split('\n').length, code: js, check: m[1]!.trim() === 'check' });
  }
  return found;
}

describe('the installed package', () => {
  it('ships LICENSE, compiled schemas, and the sources every source map names', () => {
    expect(readFileSync(join(installed, 'LICENSE'), 'utf8')).toMatch(/^MIT License/);
    expect(JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')).license).toBe('MIT');
    expect(existsSync(join(installed, 'dist', 'schemas', 'index.js'))).toBe(true);
    const maps = files(join(installed, 'dist')).filter((f) => f.endsWith('.map'));
    expect(maps.length).toBeGreaterThan(10);
    const missing = maps.flatMap((map) => {
      const { sources } = JSON.parse(readFileSync(map, 'utf8')) as { sources: string[] };
      return sources.map((s) => resolve(dirname(map), s)).filter((s) => !existsSync(s));
    });
    expect(missing).toEqual([]);
  });

  it('runs the README examples that use typed-ipc/schemas with plain node and no compiler', async () => {
    const blocks = readmeBlocksUsingSchemas();
    const runnable = blocks.filter((b) => !b.check);
    expect(runnable.length).toBeGreaterThanOrEqual(1);
    for (const block of runnable) {
      const file = join(app, `readme-${block.line}.mjs`);
      writeFileSync(file, block.code);
      const run = await node([file]);
      expect({ line: block.line, ...run }).toMatchObject({ line: block.line, code: 0, stderr: '' });
    }
    // The C header example writes /tmp/schemas.h: the shipped schemas' header, from the package.
    expect(readFileSync('/tmp/schemas.h', 'utf8')).toContain('struct sensor_frame {');
  });

  it('runs the README child-process pair (parent and worker) from the package', async () => {
    const [parent, worker] = readmeBlocksUsingSchemas().filter((b) => b.code.includes('Channel('));
    expect(parent?.code).toContain('spawnNodeWithChannel');
    expect(worker?.code).toContain('inheritedChannel');
    writeFileSync(join(app, 'worker.js'), worker!.code);
    writeFileSync(join(app, 'parent.mjs'), parent!.code);
    const run = await node(['parent.mjs']);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toMatch(/^\{ channel: 1, timestamp: \d+n, value: 42 \}\n$/);
  });

  it('typed-ipc gen, send and tail work on typed-ipc/schemas; bench is not offered', async () => {
    const header = await cli(['gen', 'c', 'typed-ipc/schemas#Sample']);
    expect(header).toMatchObject({ code: 0, stderr: '' });
    expect(header.stdout).toContain('struct sample {');
    await expectSendAndTail(cli, `mq:/${uniqueName('pkg')}`, 'typed-ipc/schemas#Sample');
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^ {2}gen +\S/m);
    expect(help.stdout).not.toMatch(/^ {2}bench /m);
    const bench = await cli(['bench']);
    expect(bench.code).toBe(2);
    expect(bench.stderr).toBe(
      'typed-ipc bench: the benchmark suite is not part of the installed package; clone the repository and run npm ci && npm run bench\n',
    );
  });
});
