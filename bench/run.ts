/** Runs every `bench/*.bench.ts` module's exported `run()` in turn (`npm run bench [name...]` picks some). */
import { readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2);
const modules = readdirSync(here)
  .filter((file) => file.endsWith('.bench.ts'))
  .filter((file) => wanted.length === 0 || wanted.some((name) => file.startsWith(name)))
  .sort();

for (const file of modules) {
  console.log(`== ${file}`);
  const module = (await import(pathToFileURL(`${here}/${file}`).href)) as { run?: () => Promise<void> };
  if (typeof module.run !== 'function') throw new Error(`${file} exports no run()`);
  await module.run();
}
