/**
 * The library a bench run measures: by default the package as it ships, compiled by tsc with
 * tsconfig.build.json into bench/build/lib (bench/built-library.mjs says why), or with `--source`
 * the TypeScript source through tsx, as the tests run it.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
/** Where the build goes: the repository's layout (tsconfig.build.json's rootDir), so dist/x is build/x. */
export const libraryBuild = join(root, 'bench', 'build', 'lib');

let built = false;

/** Compiles the package into `libraryBuild` (as `npm run build` does, without declarations or maps), once per process. */
export function buildLibrary(): string {
  if (built) return libraryBuild;
  mkdirSync(libraryBuild, { recursive: true });
  execFileSync(
    process.execPath,
    [
      join(root, 'node_modules', 'typescript', 'bin', 'tsc'),
      '-p',
      join(root, 'tsconfig.build.json'),
      '--outDir',
      libraryBuild,
      '--declaration',
      'false',
      '--declarationMap',
      'false',
      '--sourceMap',
      'false',
    ],
    { cwd: root, stdio: 'inherit' },
  );
  built = true;
  return libraryBuild;
}

/**
 * Builds the package and makes this process and every Node process spawned from it (through
 * NODE_OPTIONS) load the build wherever the bench imports src/. Call before any bench module loads:
 * a source module imported before stays the source one.
 */
export async function useBuiltLibrary(): Promise<void> {
  process.env.TYPED_IPC_BENCH_LIBRARY = buildLibrary();
  const preload = pathToFileURL(join(root, 'bench', 'built-library.mjs')).href;
  process.env.NODE_OPTIONS = [process.env.NODE_OPTIONS, `--import=${preload}`].filter(Boolean).join(' ');
  await import(preload);
}

/** NODE_OPTIONS without the `--import` of the preload whose file name is `file`. */
export function withoutPreload(options: string | undefined, file: string): string {
  return (options ?? '')
    .split(' ')
    .filter((option) => !(option.startsWith('--import=') && option.endsWith(`/${file}`)))
    .join(' ');
}
