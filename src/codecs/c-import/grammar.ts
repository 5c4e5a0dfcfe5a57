/**
 * The C parser: tree-sitter's C grammar compiled to WebAssembly (package `tree-sitter-c`), run by
 * `web-tree-sitter`. Loaded once, on first use, so that importing typed-ipc costs nothing for it.
 */
import { createRequire } from 'node:module';
import type { Parser } from 'web-tree-sitter';

export type { Node, Tree } from 'web-tree-sitter';

let parser: Promise<Parser> | undefined;

async function load(): Promise<Parser> {
  const { Language, Parser } = await import('web-tree-sitter');
  await Parser.init();
  const wasm = createRequire(import.meta.url).resolve('tree-sitter-c/tree-sitter-c.wasm');
  const instance = new Parser();
  instance.setLanguage(await Language.load(wasm));
  return instance;
}

/** The C parser, loaded on first call. Its trees live in WebAssembly memory: free each with `tree.delete()`. */
export function loadParser(): Promise<Parser> {
  parser ??= load();
  return parser;
}
