/**
 * The README's examples are true to the code: every TypeScript block typechecks against the sources,
 * every block marked `ts` (not `ts check`) runs to completion, and the C block compiles with `cc`
 * against the header that cHeader generates.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Sample } from '../schemas/sample.js';
import { cHeader, unlink } from '../src/index.js';
import { Cleanup, compileC, finished, freePort, repoRoot, spawnTs, uniqueName } from './helpers.js';

interface Block {
  readonly language: string;
  readonly info: string;
  readonly code: string;
  readonly line: number;
}

function blocks(markdown: string): Block[] {
  const found: Block[] = [];
  const pattern = /^```(\S*)([^\n]*)\n([\s\S]*?)^```$/gm;
  for (let match = pattern.exec(markdown); match !== null; match = pattern.exec(markdown)) {
    const line = markdown.slice(0, match.index).split('\n').length;
    found.push({ language: match[1]!, info: match[2]!.trim(), code: match[3]!, line });
  }
  return found;
}

const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
const typescript = blocks(readme).filter((b) => b.language === 'ts');
const dir = join(repoRoot, '.readme-blocks');

/**
 * The names the examples use, made unique to this run (a user's example names one fixed object; a
 * test run must not meet another run's): queue and ring names, paths under /tmp, the UDP port.
 */
const prefix = uniqueName('readme');
const udpPort = await freePort('udp');

// Imports as a user writes them, pointed at this checkout; names as above.
function localise(code: string): string {
  return code
    .replaceAll("from 'typed-ipc'", "from '../src/index.js'")
    .replaceAll("from 'typed-ipc/schemas'", "from '../schemas/index.js'")
    .replaceAll("from './schemas/", "from '../schemas/")
    .replace(/\b(mq|shm|shm\+pubsub):\/readme-/g, `$1:/${prefix}-`)
    .replace(/'\/tmp\//g, `'${tmpdir()}/${prefix}-`)
    .replace(/:\/\/(127\.0\.0\.1|\[::1\]):47901\b/g, `://$1:${udpPort}`);
}

/** The objects a block names (after `localise`), each with how to remove it. */
function objectsOf(code: string): (() => unknown)[] {
  const removals: (() => unknown)[] = [];
  for (const [url] of code.matchAll(
    /\b(?:mq|shm(?:\+pubsub)?|fifo|unix\+dgram|unix\+seqpacket|unix\+stream):[^'"`\s]+/g,
  )) {
    if (url.startsWith('mq:') || url.startsWith('shm')) removals.push(() => unlink(url).catch(() => undefined));
    else removals.push(() => rmSync(url.slice(url.indexOf(':') + 1), { force: true }));
  }
  for (const [path] of code.matchAll(new RegExp(`'(${tmpdir()}/${prefix}-[^']+)'`, 'g'))) {
    removals.push(() => rmSync(path.slice(1, -1), { force: true }));
  }
  return removals;
}

function fileOf(block: Block): string {
  return join(dir, `readme-line-${block.line}.ts`);
}

rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
for (const block of typescript) writeFileSync(fileOf(block), localise(block.code));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cleanup = new Cleanup();
afterEach(() => cleanup.run());

describe('README examples', () => {
  it('has TypeScript examples for the schemas and every transport', () => {
    expect(typescript.length).toBeGreaterThanOrEqual(10);
    for (const url of ['mq:/', 'shm:/', 'unix+dgram:/', 'unix+seqpacket:/', 'fifo:/', 'udp://']) {
      expect(
        typescript.some((b) => b.code.includes(url)),
        url,
      ).toBe(true);
    }
  });

  it('typechecks every TypeScript block against the sources', () => {
    const config = join(dir, 'tsconfig.json');
    writeFileSync(
      config,
      JSON.stringify({
        extends: '../tsconfig.json',
        include: ['./*.ts'],
        compilerOptions: { noEmit: true, noUnusedLocals: false },
      }),
    );
    let output = '';
    try {
      execFileSync(process.execPath, [join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', config], {
        encoding: 'utf8',
      });
    } catch (error) {
      output = String((error as { stdout?: string }).stdout);
    }
    expect(output).toBe('');
  });

  it.each(typescript.filter((b) => b.info !== 'check').map((b) => [b.line, b] as const))(
    'runs the block at line %i',
    async (_line, block) => {
      // An example unlinks what it made at its end; one that fails halfway leaves it: removed here.
      for (const remove of objectsOf(localise(block.code))) cleanup.add(remove);
      const { code, stderr } = await finished(spawnTs(fileOf(block)), 60_000);
      expect(stderr).toBe('');
      expect(code).toBe(0);
    },
  );

  it('compiles the C block against the generated header', () => {
    const c = blocks(readme).filter((b) => b.language === 'c');
    expect(c).toHaveLength(1);
    const include = join(dir, 'include');
    mkdirSync(include, { recursive: true });
    writeFileSync(join(include, 'sample.h'), cHeader(Sample));
    expect(() => compileC('readme-c-block', [c[0]!.code], [`-I${include}`])).not.toThrow();
  });
});
