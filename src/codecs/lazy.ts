/**
 * Loads an optional dependency (zod, TypeBox, msgpackr) synchronously on first use, so that
 * `import 'typed-ipc'` does not pay for libraries most programs never touch (zod and TypeBox cost
 * about 50-60 ms and 14 MB of RSS each).
 *
 * The ES module entry is resolved as `import` would resolve it and loaded with `require()`, which
 * on Node >= 20.19 loads ES modules synchronously into the same module map: the schemas `.zod` and
 * `.typebox` build are then made by the very zod and TypeBox instance the program's own `import`
 * gets (TypeBox's TypeRegistry, where our float and char kinds live, is per instance). Where that
 * is not possible (older Node), the package's CommonJS build is loaded instead.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const loaded = new Map<string, unknown>();

/** The module `specifier`, loaded on the first call. */
export function load<T>(specifier: string): T {
  let module = loaded.get(specifier);
  if (module === undefined) {
    try {
      module = require(fileURLToPath(import.meta.resolve(specifier)));
    } catch (error) {
      if ((error as { code?: string }).code !== 'ERR_REQUIRE_ESM') throw error;
      module = require(specifier);
    }
    loaded.set(specifier, module);
  }
  return module as T;
}
