/**
 * What a fresh Node process loads: `loadedBy(body)` runs `body` after `import 'typed-ipc'` (the
 * source entry, through tsx) in a new process whose module resolution a resolve hook watches, and
 * returns the specifiers it resolved and the URLs they resolved to. For the checks that the package
 * loads its optional parts on first use only (test/codecs/lazy-deps.test.ts,
 * test/channels/deferred-transports.test.ts); `m` is the package in `body`.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect } from 'vitest';
import { repoRoot } from './helpers.js';

const hooks = `export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  process._rawDebug('resolved ' + specifier + ' ' + resolved.url);
  return resolved;
}
`;

/** What one process resolved: the specifiers as written, and the URLs of the modules. */
export interface Loaded {
  readonly specifiers: readonly string[];
  readonly urls: readonly string[];
}

/** Runs `body` after importing typed-ipc (as `m`) in a fresh process; what it resolved from the import on. */
export function loadedBy(body: string): Loaded {
  const dir = mkdtempSync(join(tmpdir(), 'typed-ipc-load-'));
  try {
    const hooksFile = join(dir, 'hooks.mjs');
    writeFileSync(hooksFile, hooks);
    const register = join(dir, 'register.mjs');
    writeFileSync(
      register,
      `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooksFile).href)});\n`,
    );
    const entry = pathToFileURL(join(repoRoot, 'src', 'index.ts')).href;
    const script = `process._rawDebug('importing');\nconst m = await import(${JSON.stringify(entry)});\nprocess._rawDebug('imported');\n${body}`;
    const result = spawnSync(
      process.execPath,
      ['--import', 'tsx', '--import', register, '--input-type=module', '-e', script],
      { encoding: 'utf8', cwd: repoRoot },
    );
    expect(result.status, result.stderr).toBe(0);
    const lines = result.stderr.split('\n');
    // From the import on: tsx's own start-up is not the package's doing.
    const from = lines.indexOf('importing');
    expect(from, result.stderr).toBeGreaterThanOrEqual(0);
    expect(lines).toContain('imported');
    const resolved = lines
      .slice(from)
      .filter((line) => line.startsWith('resolved '))
      .map((line) => line.slice('resolved '.length).split(' '));
    return { specifiers: resolved.map(([s]) => s as string), urls: resolved.map(([, u]) => u as string) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
