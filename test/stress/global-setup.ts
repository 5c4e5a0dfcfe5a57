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
import { peerBundle } from './processes.js';

/**
 * Bundles `peer.ts` (with the library it imports) into one ES module, so that the many peer processes
 * start with plain `node`. esbuild comes with tsx; packages stay external and load from node_modules.
 */
async function bundlePeer(): Promise<void> {
  const { build } = await import('esbuild');
  // Built aside and renamed: a concurrent run's peers never see a half-written bundle.
  const temporary = `${peerBundle}.${process.pid}.tmp`;
  await build({
    entryPoints: [join(repoRoot, 'test', 'stress', 'peer.ts')],
    outfile: temporary,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    logLevel: 'error',
  });
  renameSync(temporary, peerBundle);
}

/** The environment variable that tells the figures reporter (same process) where the figures are. */
export const figuresVariable = 'TIPC_STRESS_FIGURES';

/** Vitest global setup: provides `figuresDir`; the teardown removes it (the reporter has read it by then). */
export default async function setup(project: TestProject): Promise<() => void> {
  await bundlePeer();
  // One random fault seed for the whole run: every file (and the reporter) sees the same one.
  process.env.STRESS_RANDOM_SEED ??= String(Date.now() % 1_000_000);
  const dir = mkdtempSync(join(tmpdir(), 'tipc-figures-'));
  process.env[figuresVariable] = dir;
  project.provide('figuresDir', dir);
  return () => rmSync(dir, { recursive: true, force: true });
}
