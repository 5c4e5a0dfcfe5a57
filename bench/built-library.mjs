/**
 * Preloaded (`node --import`) into every Node process of a bench run: the library the bench and its
 * peers import (`../src/index.js`, `src/internal.js`, the test fixtures' imports of src/) is the tsc
 * build of the package in TYPED_IPC_BENCH_LIBRARY (bench/library.ts makes it), not the TypeScript
 * source through tsx. The harness and the peers stay TypeScript.
 *
 * Why: that build is what the package ships and what an application runs. Through tsx every source
 * module costs about twice the old-generation heap of its compiled form (~22 KB against ~12 KB,
 * whatever it holds), so a bench process's heap, and with it which side of V8's ~8 MB
 * incremental-marking line a 4 KiB receiver lands on (bench/app-heap.mjs), followed how many files
 * src/ is split into rather than what the code does per message.
 */
import { register } from 'node:module';
import { pathToFileURL } from 'node:url';

const build = process.env.TYPED_IPC_BENCH_LIBRARY;
if (build === undefined || build === '') {
  throw new Error('bench/built-library.mjs: TYPED_IPC_BENCH_LIBRARY (the build directory) is not set');
}
const asDirectory = (url) => (url.endsWith('/') ? url : `${url}/`);
register('./built-library-hooks.mjs', import.meta.url, {
  data: {
    sourceRoot: new URL('../', import.meta.url).href,
    buildRoot: asDirectory(pathToFileURL(build).href),
  },
});
