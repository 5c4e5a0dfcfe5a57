/**
 * `fromCHeader`: schemas from C struct declarations. The parser (tree-sitter's C grammar as
 * WebAssembly) is imported on first call, so `import 'typed-ipc'` does not load it.
 */
import type { CSchemas, FromCHeaderOptions } from './read.js';

export type { CSchemas, FromCHeaderOptions } from './read.js';

/** Reads the structs of a C header (source text) into schemas keyed by struct tag and typedef name. */
export async function fromCHeader(source: string, options: FromCHeaderOptions = {}): Promise<CSchemas> {
  const { readCHeader } = await import('./read.js');
  return readCHeader(source, options);
}
