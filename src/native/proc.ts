/** Kernel figures published as one integer per file under /proc/sys. */
import { readFileSync } from 'node:fs';

/** The integer in a /proc file, or undefined where it cannot be read (another kernel, a container). */
export function readProcInteger(path: string): number | undefined {
  try {
    const value = Number.parseInt(readFileSync(path, 'latin1'), 10);
    return Number.isFinite(value) ? value : undefined;
  } catch {
    return undefined;
  }
}
