/** `npm run docs` (TypeDoc) is warning-free, and every public entry point has an example and says what it throws. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers.js';

const out = mkdtempSync(join(tmpdir(), 'tipc-docs-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('the API reference', () => {
  it('builds without a warning (typedoc.json treats warnings as errors)', () => {
    const typedoc = join(repoRoot, 'node_modules', 'typedoc', 'bin', 'typedoc');
    const output = execFileSync(process.execPath, [typedoc, '--out', out], { cwd: repoRoot, encoding: 'utf8' });
    expect(output).not.toMatch(/warning/i);
    const entryPoints = ['open', 'connect', 'bind', 'listen', 'unlink', 'parseUrl', 'struct', 'cHeader', 'msgpack'];
    for (const name of [...entryPoints, 'spawnWithChannel', 'spawnNodeWithChannel', 'inheritedChannel']) {
      const page = readFileSync(join(out, 'functions', `${name}.html`), 'utf8');
      expect(page, name).toContain('Example');
      expect(page, name).toContain('Throws');
    }
    // [Symbol.asyncDispose] once per interface (lib.esnext and @types/node both declare AsyncDisposable).
    for (const name of ['Channel', 'Listener', 'DatagramChannel']) {
      const page = readFileSync(join(out, 'interfaces', `${name}.html`), 'utf8');
      expect(page.match(/id="asyncdispose"/g), name).toHaveLength(1);
      expect(page, name).not.toContain('id="asyncdispose-2"');
    }
  }, 180_000);
});
