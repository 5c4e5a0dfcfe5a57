/**
 * Global setup of the stress run: the peer bundle, and a directory for the figures the test files
 * record (read at the end by `figures-reporter.ts`, which prints the table and, on a full passing
 * run, writes it into the README).
 */
import { mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { repoRoot } from '../helpers.js';
import { cliBundle, peerBundle } from './processes.js';

/**
 * Bundles `peer.ts` and the CLI (each with the library it imports) into one ES module apiece, so that
 * the many peer processes and `typed-ipc ls` calls start with plain `node`: through tsx each costs
 * about a second of CPU, which a loaded machine turns into many. esbuild comes with tsx; packages
 * stay external and load from node_modules.
 */
async function bundle(entry: string, outfile: string): Promise<void> {
  const { build } = await import('esbuild');
  // Built aside and renamed: a concurrent run's peers never see a half-written bundle.
  const temporary = `${outfile}.${process.pid}.tmp`;
  await build({
    entryPoints: [entry],
    outfile: temporary,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    logLevel: 'error',
  });
  renameSync(temporary, outfile);
}

/** The environment variable that tells the figures reporter (same process) where the figures are. */
export const figuresVariable = 'TIPC_STRESS_FIGURES';

/** Vitest global setup: provides `figuresDir`; the teardown removes it (the reporter has read it by then). */
export default async function setup(project: TestProject): Promise<() => void> {
  await bundle(join(repoRoot, 'test', 'stress', 'peer.ts'), peerBundle);
  await bundle(join(repoRoot, 'src', 'cli', 'main.ts'), cliBundle);
  // One random fault seed for the whole run: every file (and the reporter) sees the same one.
  process.env.STRESS_RANDOM_SEED ??= String(Date.now() % 1_000_000);
  const dir = mkdtempSync(join(tmpdir(), 'tipc-figures-'));
  process.env[figuresVariable] = dir;
  project.provide('figuresDir', dir);
  return () => rmSync(dir, { recursive: true, force: true });
}
