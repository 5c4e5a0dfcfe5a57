/**
 * Runs every `bench/*.bench.ts` module's exported `run()` in turn (or only those named on the
 * command line: `npm run bench -- codecs`).
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
const files = readdirSync(here)
  .filter((file) => file.endsWith('.bench.ts'))
  .filter((file) => only.length === 0 || only.some((name) => file.startsWith(name)))
  .sort();

for (const file of files) {
  const module = (await import(pathToFileURL(join(here, file)).href)) as { run?: () => Promise<void> | void };
  if (typeof module.run !== 'function') throw new Error(`${file} exports no run()`);
  console.log(`\n## ${file}\n`);
  await module.run();
}
