#!/usr/bin/env node
/**
 * The import-boundary rule (part of `npm run check`): which layer may import which. Fails with one line
 * per offending import, naming the rule and what to import instead. The layers and why are in
 * docs/architecture.md.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// The tree to check: this repository, or the directory given as the first argument (for the rule's own test).
const root = resolve(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..'));

/** What the published package exposes: src/index.ts and the layer entry points it re-exports wholesale. */
const PUBLIC = new Set(['src/index.ts', 'src/errors.ts', 'src/codecs/index.ts', 'src/channels/index.ts']);
/** The one documented internal entry for benches (raw syscalls for the same-syscall baselines). */
const BENCH_INTERNAL = 'src/internal.ts';

/**
 * Documented exceptions, importer -> target: the TypeScript schema writer of `gen ts` is loaded lazily by
 * that one command (it is a code generator, not library API, and stays out of everyone else's startup).
 */
const EXCEPTIONS = new Set(['src/cli/commands/gen.ts -> src/codecs/c-import/typescript.ts']);

/** Layers below a layer may not reach up: codecs and native know nothing of channels or the CLI. */
const BELOW = {
  'src/native/': ['src/channels/', 'src/codecs/', 'src/cli/'],
  'src/codecs/': ['src/channels/', 'src/native/', 'src/cli/'],
  'src/channels/': ['src/cli/'],
};

/** The rule an import from `from` (repo-relative) of `to` breaks, or undefined. */
function broken(from, to) {
  if (!to.startsWith('src/') || EXCEPTIONS.has(`${from} -> ${to}`)) return undefined;
  for (const [layer, above] of Object.entries(BELOW)) {
    if (from.startsWith(layer) && above.some((a) => to.startsWith(a))) {
      return `${layer} must not import ${to} (a lower layer reaching up)`;
    }
  }
  if (to.startsWith('src/native/') && !from.startsWith('src/native/') && !from.startsWith('src/channels/')) {
    if (from !== BENCH_INTERNAL) return 'src/native is reached only from src/channels (or through src/internal.ts)';
  }
  if (to === BENCH_INTERNAL && !from.startsWith('bench/')) return `${BENCH_INTERNAL} is for bench/ only`;
  if (from.startsWith('src/cli/') && !to.startsWith('src/cli/') && !PUBLIC.has(to)) {
    return `the CLI uses the public API only (${[...PUBLIC].join(', ')})`;
  }
  if (from.startsWith('bench/') || from.startsWith('examples/')) {
    const allowed = PUBLIC.has(to) || (from.startsWith('bench/') && to === BENCH_INTERNAL);
    if (!allowed)
      return `${from.split('/')[0]}/ uses the public API${from.startsWith('bench/') ? ` or ${BENCH_INTERNAL}` : ''}`;
  }
  return undefined;
}

function* files(dir) {
  if (!existsSync(join(root, dir))) return;
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
    const path = posix.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules' && entry.name !== 'build') yield* files(path);
    } else if (/\.(ts|mts|js|mjs)$/.test(entry.name) && !entry.name.endsWith('.d.ts')) {
      yield path;
    }
  }
}

const importPattern = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/gm;
const failures = [];
for (const dir of ['src', 'bench', 'examples']) {
  for (const file of files(dir)) {
    const text = readFileSync(join(root, file), 'utf8');
    for (const match of text.matchAll(importPattern)) {
      const specifier = match[1];
      if (!specifier.startsWith('.')) continue;
      const target = relative(root, resolve(root, dirname(file), specifier))
        .split('\\')
        .join('/')
        .replace(/\.js$/, '.ts');
      const rule = broken(file, target);
      if (rule !== undefined) {
        const line = text.slice(0, match.index).split('\n').length;
        failures.push(`${file}:${line}: imports ${specifier}: ${rule}`);
      }
    }
  }
}
if (failures.length > 0) {
  console.error(`import boundaries: ${failures.length} import(s) cross a layer boundary\n${failures.join('\n')}`);
  process.exit(1);
}
console.log('import boundaries: ok');
