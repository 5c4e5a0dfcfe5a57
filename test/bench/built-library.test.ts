/**
 * The bench measures the package's tsc build (bench/library.ts, bench/built-library.mjs): a process
 * started with the preload, as every bench peer is, loads src/ from the build wherever it imports
 * it, a test fixture's import of src/ included; without it, the source.
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildLibrary } from '../../bench/library.js';
import { withoutPreload } from '../../bench/preload.js';
import { repoRoot } from '../helpers.js';

const preload = pathToFileURL(join(repoRoot, 'bench', 'built-library.mjs')).href;
// A build of its own: `typed-ipc bench` in test/cli builds bench/build/lib meanwhile, and a file
// rewritten under a process reading it would fail that test.
const library = join(repoRoot, 'bench', 'build', `test-lib-${process.pid}`);

/** The file of the frame that threw a SchemaError from the codecs, imported two ways in one process. */
const script = `
const where = (run) => { try { run(); } catch (e) { return /\\((.*?):\\d+:\\d+\\)/.exec(e.stack.split('\\n')[1])[1]; } };
const m = await import(${JSON.stringify(pathToFileURL(join(repoRoot, 'src', 'index.ts')).href)});
const fixture = await import(${JSON.stringify(pathToFileURL(join(repoRoot, 'test', 'channels', 'sample.ts')).href)});
console.log(JSON.stringify({
  entry: where(() => m.struct('s', { a: 'nope' })),
  // The fixture's codec and the entry's struct are one module instance: a sample's layout is the library's.
  same: Object.getPrototypeOf(fixture.Sample) === Object.getPrototypeOf(m.struct('t', { a: m.u16 })),
}));
`;

function run(nodeOptions: string): { entry: string; same: boolean } {
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: repoRoot,
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: nodeOptions, TYPED_IPC_BENCH_LIBRARY: library },
  });
  expect(result.status, result.stderr).toBe(0);
  return JSON.parse(result.stdout.trim().split('\n').pop()!) as { entry: string; same: boolean };
}

describe('the library a bench run measures', () => {
  beforeAll(() => {
    buildLibrary(library);
  }, 180_000);
  afterAll(() => rmSync(library, { recursive: true, force: true }));

  it('is the build wherever a process started with the preload imports src/', () => {
    const loaded = run(`--import=${preload}`);
    expect(loaded.entry).toMatch(new RegExp(`^file://${library}/src/codecs/[a-z-]+\\.js$`));
    expect(loaded.same).toBe(true);
  });

  it('is the source without it (--source)', () => {
    const loaded = run('');
    expect(loaded.entry).toMatch(new RegExp(`^${join(repoRoot, 'src', 'codecs')}/[a-z-]+\\.ts$`));
    expect(loaded.same).toBe(true);
  });

  it('leaves the bench preload out of what the startup bench spawns, and the rest in', () => {
    expect(withoutPreload(`--max-old-space-size=64 --import=${preload}`, 'built-library.mjs')).toBe(
      '--max-old-space-size=64',
    );
    expect(withoutPreload(undefined, 'built-library.mjs')).toBe('');
  });
});
