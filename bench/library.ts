/**
 * The library a bench run measures: by default the package as it ships, compiled by tsc with
 * tsconfig.build.json into bench/build/lib (bench/built-library.mjs says why), or with `--source`
 * the TypeScript source through tsx, as the tests run it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { preloadEverywhere } from './preload.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
/** Where the build goes: the repository's layout (tsconfig.build.json's rootDir), so dist/x is build/x. */
export const libraryBuild = join(root, 'bench', 'build', 'lib');

const built = new Set<string>();

/**
 * Compiles the package into `outDir` (default `libraryBuild`; as `npm run build` does, without
 * declarations or maps), once per process and directory. `outDir` must lie inside the repository:
 * the build's imports resolve from there (node_modules, package.json's "type").
 */
export function buildLibrary(outDir = libraryBuild): string {
  if (built.has(outDir)) return outDir;
  mkdirSync(outDir, { recursive: true });
  execFileSync(
    process.execPath,
    [
      join(root, 'node_modules', 'typescript', 'bin', 'tsc'),
      '-p',
      join(root, 'tsconfig.build.json'),
      '--outDir',
      outDir,
      '--declaration',
      'false',
      '--declarationMap',
      'false',
      '--sourceMap',
      'false',
    ],
    { cwd: root, stdio: 'inherit' },
  );
  built.add(outDir);
  return outDir;
}

/**
 * Builds the package and makes this process and every Node process spawned from it (through
 * NODE_OPTIONS) load the build wherever the bench imports src/. Call before any bench module loads:
 * a source module imported before stays the source one.
 *
 * `prebuilt`: measure that build instead, for instance another version's, compiled in its checkout
 * with `tsc -p tsconfig.build.json --rootDir . --outDir <dir>`: one harness measuring both versions,
 * with the same rounds and statistics (an older checkout's own bench may count differently).
 */
export async function useBuiltLibrary(prebuilt?: string): Promise<void> {
  if (prebuilt !== undefined && !existsSync(join(prebuilt, 'src', 'index.js'))) {
    throw new Error(
      `--library=${prebuilt}: no src/index.js there; compile the checkout with tsc -p tsconfig.build.json --rootDir . --outDir ${prebuilt}`,
    );
  }
  process.env.TYPED_IPC_BENCH_LIBRARY = prebuilt === undefined ? buildLibrary() : resolve(prebuilt);
  await preloadEverywhere(join(root, 'bench', 'built-library.mjs'));
}

/**
 * The build this run measures: the one `useBuiltLibrary` set up (the checkout's or `--library`'s),
 * else (a `--source` run, or a module run alone) the checkout's, built now.
 */
export function measuredBuild(): string {
  return process.env.TYPED_IPC_BENCH_LIBRARY || buildLibrary();
}
