/**
 * Global setup of every test run (`npm test` and the stress suite): gives the run a tag and a private
 * temporary directory, and at the end fails the run when anything the tests made is left behind.
 *
 * Several runs share this machine at once, so the check looks only at this run's objects: names made
 * by `uniqueName` carry the run's tag (`TIPC_RUN`), and `os.tmpdir()` of every test process and its
 * children points into the run's own directory (`TMPDIR`), where anything left is this run's.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import type { TestProject } from 'vitest/node';
import { header as pubsubHeader } from '../src/channels/pubsub/layout.js';
import { header as ringHeader } from '../src/channels/ring/layout.js';
import { repoRoot } from './helpers.js';

/**
 * Written beside the run's JSON report when the check finds leaks (`.vitest-results.leaks.txt`), one
 * object a line; `.ci/run` counts each as a failure.
 */
function leakReport(project: TestProject): string {
  const output = project.config.outputFile;
  const json = typeof output === 'string' ? output : (output?.json ?? '.vitest-results.json');
  return resolve(repoRoot, json.replace(/\.json$/, '.leaks.txt'));
}

/** Directories tools make under TMPDIR for themselves (tsx's compile cache), not objects of the tests. */
const toolDirs = /^(tsx-\d+|node-compile-cache|v8-compile-cache-\d+)$/;

/** Entries of `dir` whose name carries the run's tag. */
function tagged(dir: string, tag: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => name.includes(tag))
    .map((name) => join(dir, name));
}

/** Everything under the run's temporary directory but the tools' own caches (and the mqueue mount). */
function leftInTemp(dir: string, skip: string): string[] {
  if (!existsSync(dir)) return [];
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (path === skip || toolDirs.test(entry.name)) continue;
    // A directory the harness shares between files (the stress suite's socket directory) is fine empty.
    if (entry.isDirectory() && readdirSync(path).length === 0 && entry.name === 'tipc-stress') continue;
    found.push(path);
  }
  return found;
}

/**
 * Message queues with the run's tag. The mqueue filesystem is not mounted on every machine
 * (/dev/mqueue); then it is mounted for the moment of the check in the run's own directory.
 */
function taggedQueues(tag: string, scratch: string): { queues: string[]; note?: string } {
  if (isMqueue('/dev/mqueue')) {
    const queues = tagged('/dev/mqueue', tag);
    for (const queue of queues) rmSync(queue, { force: true });
    return { queues };
  }
  mkdirSync(scratch, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'mqueue', 'none', scratch], { stdio: 'pipe' });
  } catch (error) {
    return { queues: [], note: `message queues not checked: cannot mount mqueue (${String(error).split('\n')[0]})` };
  }
  try {
    const queues = tagged(scratch, tag);
    // Removed through the mount, as `rm` on /dev/mqueue would.
    for (const queue of queues) rmSync(queue, { force: true });
    return { queues: queues.map((q) => join('/dev/mqueue', q.slice(scratch.length + 1))) };
  } finally {
    execFileSync('umount', [scratch], { stdio: 'pipe' });
  }
}

/**
 * Doorbell directories (`/dev/shm/.tipc-bells.<id>`) made during the run whose segment is gone: a ring
 * or pub/sub segment names its directory by a random 64-bit id in its header, never by the run's tag,
 * so a directory is this run's leak when it is new and no segment left in /dev/shm holds its id.
 */
function orphanedBells(before: ReadonlySet<string>): string[] {
  const bells = bellDirectories().filter((path) => !before.has(path));
  if (bells.length === 0) return [];
  const named = new Set(
    readdirSync('/dev/shm', { withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => bellsOf(join('/dev/shm', entry.name))),
  );
  return bells.filter((path) => !named.has(path));
}

// Rings and pub/sub segments keep their doorbell id at the same offset.
const BELL_ID_OFFSET = ringHeader.ring_id;
if (pubsubHeader.bell_id !== BELL_ID_OFFSET)
  throw new Error('the ring and pub/sub layouts keep their doorbell id apart');

/** The doorbell directory a ring's or pub/sub segment's header names, if any. */
function bellsOf(segment: string): string | undefined {
  try {
    const fd = openSync(segment, 'r');
    try {
      const header = Buffer.alloc(BELL_ID_OFFSET + 8);
      if (readSync(fd, header, 0, header.length, 0) < header.length) return undefined;
      const id = header.readBigUInt64LE(BELL_ID_OFFSET).toString(16).padStart(16, '0');
      const path = join('/dev/shm', `.tipc-bells.${id}`);
      return existsSync(path) ? path : undefined;
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined;
  }
}

function bellDirectories(): string[] {
  if (!existsSync('/dev/shm')) return [];
  return readdirSync('/dev/shm')
    .filter((name) => name.startsWith('.tipc-bells.'))
    .map((name) => join('/dev/shm', name));
}

/** Whether an mqueue filesystem is mounted at `dir`. */
function isMqueue(dir: string): boolean {
  const mounts = readFileSync('/proc/self/mounts', 'utf8');
  return mounts.split('\n').some((line) => line.split(' ')[1] === dir && line.split(' ')[2] === 'mqueue');
}

/** Vitest global setup: sets `TIPC_RUN` and `TMPDIR` for the run; the teardown is the leak check. */
export default function setup(project: TestProject): () => void {
  const tag = `r${randomBytes(4).toString('hex')}`;
  const base = process.env.TMPDIR ?? '/tmp';
  const temp = mkdtempSync(join(base, `tipc-${tag}-`));
  // As /tmp itself: peers running as another uid (65534) reach and make files in it.
  chmodSync(temp, 0o1777);
  // tsx keeps its compile cache in TMPDIR: the run shares the machine's, or every child of every run
  // would compile its TypeScript afresh.
  const cache = `tsx-${process.getuid?.() ?? 0}`;
  mkdirSync(join(base, cache), { recursive: true, mode: 0o700 });
  symlinkSync(join(base, cache), join(temp, cache));
  process.env.TIPC_RUN = tag;
  process.env.TMPDIR = temp;
  const report = leakReport(project);
  rmSync(report, { force: true });
  const bellsBefore = new Set(bellDirectories());
  return () => {
    process.env.TMPDIR = base;
    const scratch = join(temp, '.mqueue');
    const { queues, note } = taggedQueues(tag, scratch);
    const leaks = [
      ...queues,
      ...tagged('/dev/shm', tag),
      ...orphanedBells(bellsBefore),
      ...tagged(base, tag).filter((path) => path !== temp),
      ...leftInTemp(temp, scratch),
    ];
    if (note !== undefined) console.warn(`leak check: ${note}`);
    // Removed after the report, so that a leaky run does not eat the machine's queues and memory; a
    // leaked segment's doorbell directory goes with it (it is part of the same leak).
    for (const path of leaks) {
      if (path.startsWith('/dev/mqueue/')) continue;
      const bells = path.startsWith('/dev/shm/') ? bellsOf(path) : undefined;
      rmSync(path, { recursive: true, force: true });
      if (bells !== undefined) rmSync(bells, { recursive: true, force: true });
    }
    rmSync(temp, { recursive: true, force: true });
    if (leaks.length === 0) return;
    writeFileSync(report, `${leaks.join('\n')}\n`);
    // Vitest only logs an error thrown here and exits 0; the exit code is what CI and users look at.
    process.exitCode = 1;
    console.error(
      `leak check: the tests left ${leaks.length} object(s) behind (removed now; register cleanup before ` +
        `creating):\n${leaks.join('\n')}`,
    );
  };
}
