import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers.js';

const script = join(repoRoot, 'scripts', 'check-imports.mjs');
const trees: string[] = [];
afterEach(() => {
  for (const tree of trees.splice(0)) rmSync(tree, { recursive: true, force: true });
});

/** Runs the rule on a tree of the given files (path → text). */
function check(files: Record<string, string>) {
  const tree = mkdtempSync(join(tmpdir(), 'tipc-imports-'));
  trees.push(tree);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(tree, path)), { recursive: true });
    writeFileSync(join(tree, path), text);
  }
  return spawnSync(process.execPath, [script, tree], { encoding: 'utf8' });
}

describe('import boundaries', () => {
  it('this repository keeps them', () => {
    expect(execFileSync(process.execPath, [script], { encoding: 'utf8' })).toMatch(/import boundaries: ok/);
  });

  it.each([
    ['src/cli/a.ts', "import { libc } from '../native/index.js';", /src\/native is reached only from src\/channels/],
    ['src/cli/a.ts', "import type { X } from '../codecs/types.js';", /the CLI uses the public API only/],
    ['src/codecs/a.ts', "import { open } from '../channels/index.js';", /a lower layer reaching up/],
    ['src/native/a.ts', "export { x } from '../channels/mq.js';", /a lower layer reaching up/],
    [
      'bench/a.ts',
      "import { FdChannel } from '../src/channels/channel.js';",
      /bench\/ uses the public API or src\/internal.ts/,
    ],
    ['examples/a.ts', "import { libc } from '../src/internal.js';", /src\/internal.ts is for bench\/ only/],
    ['examples/b.ts', "import { FdChannel } from '../src/channels/channel.js';", /examples\/ uses the public API/],
    ['src/channels/a.ts', "import { libc } from '../internal.js';", /src\/internal.ts is for bench\/ only/],
  ])('%s: %s fails', (path, line, rule) => {
    const result = check({ [path]: `${line}\n` });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(rule);
    expect(result.stderr).toContain(`${path}:1:`);
  });

  it.each([
    ['src/channels/a.ts', "import { libc } from '../native/index.js';"],
    ['src/cli/a.ts', "import { open } from '../index.js';"],
    ['bench/a.ts', "import { libc } from '../src/internal.js';"],
    ['bench/a.ts', "import { struct } from '../src/codecs/index.js';"],
  ])('%s: %s passes', (path, line) => {
    const result = check({ [path]: `${line}\n` });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });
});
