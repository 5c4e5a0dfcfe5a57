/**
 * The published declarations: src/native is internal (docs/architecture.md), so no .d.ts reachable
 * from the package's entry points may import it, or a user's editor would offer FdWatch and friends
 * and a refactor of the native layer would break their builds. The declarations are emitted here
 * as `npm run build` emits them (tsconfig.build.json), in memory, and walked from each entry.
 */
import { dirname, join, posix, relative } from 'node:path';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers.js';

/** Emitted .d.ts text by repo-relative path (e.g. `src/index.d.ts`). */
const declarations = new Map<string, string>();

beforeAll(() => {
  const configPath = join(repoRoot, 'tsconfig.build.json');
  const config = ts.getParsedCommandLineOfConfigFile(
    configPath,
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    },
  );
  if (config === undefined) throw new Error('tsconfig.build.json could not be read');
  const outDir = config.options.outDir ?? join(repoRoot, 'dist');
  const options = { ...config.options, declaration: true, emitDeclarationOnly: true, declarationMap: false };
  const program = ts.createProgram(config.fileNames, options);
  const result = program.emit(undefined, (file, text) => {
    if (file.endsWith('.d.ts')) declarations.set(relative(outDir, file).split('\\').join('/'), text);
  });
  if (result.emitSkipped) throw new Error('declaration emit was skipped');
}, 300_000);

/** Relative module specifiers a declaration file imports or re-exports (including `import('...')` types). */
function importsOf(text: string): string[] {
  const found: string[] = [];
  for (const match of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"](\.[^'"]+)['"]/gm)) {
    found.push(match[1]!);
  }
  return found;
}

/** Every declaration file reachable from `entry`, each with the chain of files that leads to it. */
function reachable(entry: string): Map<string, string[]> {
  const seen = new Map<string, string[]>([[entry, [entry]]]);
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.shift()!;
    const text = declarations.get(file);
    if (text === undefined) continue;
    for (const specifier of importsOf(text)) {
      const target = posix.normalize(posix.join(dirname(file), specifier)).replace(/\.js$/, '.d.ts');
      if (seen.has(target)) continue;
      seen.set(target, [...seen.get(file)!, target]);
      queue.push(target);
    }
  }
  return seen;
}

describe('published declarations', () => {
  it('emits the native layer and the channel base (so the walk below has something to find)', () => {
    expect(declarations.get('src/native/poll.d.ts')).toContain('export declare class FdWatch');
    // The base of every exported channel class is reached from the main entry.
    expect([...reachable('src/index.d.ts').keys()]).toContain('src/channels/channel.d.ts');
  });

  it.each(['src/index.d.ts', 'schemas/index.d.ts'])('reach no src/native type from %s', (entry) => {
    expect(declarations.has(entry)).toBe(true);
    const leaks = [...reachable(entry).entries()]
      .filter(([file]) => file.startsWith('src/native/'))
      .map(([, chain]) => chain.join(' -> '));
    expect(leaks).toEqual([]);
  });

  it('name no native class in a reachable declaration', () => {
    const native = ['FdWatch', 'libc', 'sockets', 'mqueue', 'sysvmsg'];
    const mentions: string[] = [];
    for (const file of reachable('src/index.d.ts').keys()) {
      const text = declarations.get(file) ?? '';
      for (const name of native)
        if (new RegExp(`:\\s*${name}\\b|<${name}\\b`).test(text)) mentions.push(`${file}: ${name}`);
    }
    expect(mentions).toEqual([]);
  });
});
