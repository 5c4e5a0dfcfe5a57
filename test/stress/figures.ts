/**
 * Figures the stress tests measure. Each test file appends records to a file in the run's figures
 * directory (set up by `global-setup.ts`); at the end of the run they are summed into one table.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { inject } from 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Directory where test files append their figures (JSON lines). */
    figuresDir: string;
  }
}

/** One measured figure: which part of the suite, which transport, what was counted. */
export interface Figure {
  readonly section: 'load' | 'faults' | 'input' | 'resources' | 'security';
  readonly transport: string;
  /** Counts for the summary table (load held, faults survived, inputs tried, messages lost). */
  readonly held?: number;
  readonly survived?: number;
  readonly rounds?: number;
  readonly inputs?: number;
  readonly lost?: number;
  readonly checks?: number;
  /** The seed of fault rounds. */
  readonly seed?: number;
  /** A one-line human description printed under the table. */
  readonly note?: string;
}

/** Records one figure for the end-of-run table, and prints it now too. */
export function record(figure: Figure): void {
  const dir = inject('figuresDir');
  appendFileSync(join(dir, `${process.pid}.jsonl`), `${JSON.stringify(figure)}\n`);
  if (figure.note !== undefined) console.log(`[${figure.section}] ${figure.transport}: ${figure.note}`);
}
