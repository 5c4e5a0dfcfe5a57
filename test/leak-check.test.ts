/**
 * The control of the end-of-run leak check (test/global-setup.ts): a run whose only test passes but
 * leaves a queue, a ring and a file behind exits non-zero, lists them, and removes them.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { unlink } from '../src/index.js';
import { Cleanup, finished, repoRoot, uniqueName } from './helpers.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

describe('leak check', () => {
  it('fails a run that leaves objects behind, names them and removes them', async () => {
    const json = join(tmpdir(), `${uniqueName('leakfixture')}.json`);
    const report = json.replace(/\.json$/, '.leaks.txt');
    cleanup.add(() => rmSync(json, { force: true }));
    cleanup.add(() => rmSync(report, { force: true }));
    const vitest = join(repoRoot, 'node_modules', 'vitest', 'vitest.mjs');
    const child = spawn(process.execPath, [vitest, 'run', '-c', 'test/fixtures/leak/vitest.config.ts'], {
      cwd: repoRoot,
      env: { ...process.env, LEAK_FIXTURE_JSON: json },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const run = await finished(child, 120_000);
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toMatch(/leak check: the tests left 3 object\(s\) behind/);
    const leaks = readFileSync(report, 'utf8').trim().split('\n');
    const queue = leaks.find((l) => /^\/dev\/mqueue\/tipc-r[0-9a-f]+-\d+-\d+-left$/.test(l));
    const ring = leaks.find((l) => /^\/dev\/shm\/tipc-r[0-9a-f]+-\d+-\d+-left$/.test(l));
    const file = leaks.find((l) => l.endsWith('/left.txt'));
    expect(
      [queue, ring, file].every((l) => l !== undefined),
      leaks.join('\n'),
    ).toBe(true);
    // Removed by the check: nothing of the control run stays on the machine.
    expect(existsSync(ring!)).toBe(false);
    expect(existsSync(file!)).toBe(false);
    await expect(unlink(`mq:/${queue!.slice('/dev/mqueue/'.length)}`)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
