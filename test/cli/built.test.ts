/** The command as it ships: compiled by `tsc` (as `npm run build` does) and run with plain `node`. */
import { execFileSync, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { finished, repoRoot, uniqueName } from '../helpers.js';
import { expectSendAndTail } from './run.js';

const outDir = join(repoRoot, '.cli-build', String(process.pid));
const main = join(outDir, 'src', 'cli', 'main.js');

function runBuilt(args: readonly string[]) {
  return finished(spawn(process.execPath, [main, ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] }));
}

// A whole tsc build: about 10 s on an idle machine, past 3 minutes at a load of 20 on 2 cores. The
// bound only keeps a stuck compiler from holding the run forever.
beforeAll(() => {
  execFileSync(
    process.execPath,
    [join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', outDir],
    {
      cwd: repoRoot,
    },
  );
}, 600_000);
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

describe('the built typed-ipc command', () => {
  it('runs without tsx in the process, loading a TypeScript schema through tsx on demand', async () => {
    await expectSendAndTail(runBuilt, `mq:/${uniqueName('built')}`, 'schemas/sample.ts#Sample');
  });

  it('keeps the exit codes and the one-line errors', async () => {
    const usage = await runBuilt(['tail', 'mq:/x', '--schema', 'schemas/sample.ts#Nope']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/^typed-ipc tail: --schema: schemas\/sample\.ts has no export "Nope" .*\n$/);
    const runtime = await runBuilt(['stat', `mq:/${uniqueName('missing')}`]);
    expect(runtime.code).toBe(1);
    expect(runtime.stderr).toMatch(/^typed-ipc stat: mq_open \/tipc-\S+: ENOENT [^\n]*\n$/);
  });
});
