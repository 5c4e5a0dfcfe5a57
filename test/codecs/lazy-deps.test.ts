/**
 * `import 'typed-ipc'` loads neither zod, TypeBox nor msgpackr: they load on first use of `.zod`,
 * `.typebox` or `msgpack()`; nor the recording packages (MCAP, compression, Foxglove, ws, Vega), which
 * load on first use of record, replay, serveFoxglove or plot. Checked in a fresh Node process whose module resolution is watched
 * by a resolve hook (which also shows the watching works: touching `.zod` does resolve zod).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'typed-ipc-lazy-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const hooks = join(dir, 'hooks.mjs');
writeFileSync(
  hooks,
  `export async function resolve(specifier, context, next) {
  if (/^(zod|@sinclair\\/typebox|msgpackr|@mcap\\/core|@mcap\\/nodejs|@foxglove\\/ws-protocol|@foxglove\\/wasm-zstd|lz4js|ws|vega|vega-lite)(\\/|$)/.test(specifier)) process._rawDebug('resolved ' + specifier);
  return next(specifier, context);
}
`,
);
const register = join(dir, 'register.mjs');
writeFileSync(
  register,
  `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`,
);
const entry = pathToFileURL(join(import.meta.dirname, '../../src/index.ts')).href;

/** The optional dependencies a fresh process resolved while running `body` after importing typed-ipc. */
function resolvedBy(body: string): string[] {
  const script = `const m = await import(${JSON.stringify(entry)});\nprocess._rawDebug('imported');\n${body}`;
  const result = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--import', register, '--input-type=module', '-e', script],
    {
      encoding: 'utf8',
    },
  );
  expect(result.status, result.stderr).toBe(0);
  const lines = result.stderr.split('\n');
  expect(lines).toContain('imported');
  return lines.filter((line) => line.startsWith('resolved ')).map((line) => line.slice('resolved '.length));
}

describe('optional dependencies load on first use', () => {
  it('importing typed-ipc and using struct codecs loads none of them', () => {
    expect(
      resolvedBy("const S = m.struct('s', { a: m.u16 }); S.decode(S.encode({ a: 1 })); S.validate({ a: 2 });"),
    ).toEqual([]);
  });

  it('.zod loads zod, .typebox loads TypeBox', () => {
    expect(resolvedBy("m.struct('s', { a: m.u16 }).zod;")).toContain('zod');
    expect(resolvedBy("m.struct('s', { a: m.u16 }).typebox;")).toContain('@sinclair/typebox');
  });
});
