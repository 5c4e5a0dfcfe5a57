/**
 * Shared test helpers: unique object names, C programs compiled with the real `cc`, Node child
 * processes running TypeScript, and cleanup that runs even when a test fails.
 */
import { type ChildProcess, execFileSync, type SpawnOptions, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';
import type { MessageCodec } from '../src/codecs/codec.js';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const buildDir = join(repoRoot, 'test', 'c', 'build');

/**
 * The run's tag, set by test/global-setup.ts for every test process and its children: names carry it,
 * so the end-of-run leak check finds this run's objects among those of other runs on the machine.
 */
export const runTag = process.env.TIPC_RUN ?? 'r0';

let counter = 0;
/** A name no other test (or concurrent test file or run) uses: `tipc-<run>-<pid>-<n>-<tag>`. */
export function uniqueName(tag = 't'): string {
  counter += 1;
  return `tipc-${runTag}-${process.pid}-${counter}-${tag}`;
}

/**
 * Compiles C sources with `cc -std=c11 -O2 -Wall -Werror` (plus `include/` on the include path) and
 * returns the binary's path. Binaries are cached by a hash of sources, flags, the listed headers and
 * the shipped include/ headers.
 */
export function compileC(
  name: string,
  sources: readonly string[],
  extraFlags: readonly string[] = [],
  headers: readonly string[] = [],
): string {
  mkdirSync(buildDir, { recursive: true });
  const hash = createHash('sha256');
  // Local headers the sources include go into the cache key too, so that editing one rebuilds.
  for (const source of [...sources, ...headers]) hash.update(existsSync(source) ? readFileSync(source) : source);
  // The shipped headers are part of every program: a changed header must rebuild them.
  for (const header of readdirSync(join(repoRoot, 'include')).sort()) {
    hash.update(readFileSync(join(repoRoot, 'include', header)));
  }
  hash.update(extraFlags.join(' '));
  const output = join(buildDir, `${name}-${hash.digest('hex').slice(0, 12)}`);
  if (existsSync(output)) return output;
  const files = sources.map((source, i) => {
    if (existsSync(source)) return source;
    const file = join(buildDir, `${name}-${i}.c`);
    writeFileSync(file, source);
    return file;
  });
  const flags = ['-std=c11', '-O2', '-Wall', '-Werror', '-D_GNU_SOURCE', `-I${join(repoRoot, 'include')}`];
  execFileSync('cc', [...flags, ...extraFlags, '-o', `${output}.tmp`, ...files, '-lrt', '-lpthread'], {
    stdio: 'pipe',
  });
  execFileSync('mv', [`${output}.tmp`, output]);
  return output;
}

/**
 * Compiles and runs a C program that prints the unsigned value of each `[key, expression]` (after
 * `#include`s of `includes`: `<h>` system headers or `"h"` ones of include/), and returns key -> value as
 * printed. How the layout and ABI tests ask gcc what it makes of a struct, a macro or an expression.
 */
export function cFigures(
  name: string,
  includes: readonly string[],
  figures: readonly (readonly [key: string, expression: string])[],
): Map<string, string> {
  const source = [
    ...includes.map((h) => `#include ${h}`),
    '#include <stdio.h>',
    'int main(void) {',
    ...figures.map(
      ([key, expression]) => `  printf("%s %llu\\n", ${JSON.stringify(key)}, (unsigned long long)(${expression}));`,
    ),
    '  return 0;',
    '}',
    '',
  ].join('\n');
  const output = execFileSync(compileC(name, [source]), { encoding: 'utf8' })
    .trim()
    .split('\n');
  return new Map(output.map((line) => line.split(' ', 2) as [string, string]));
}

let shared: string | undefined;

/**
 * A directory every uid can enter and read (mode 0755, under the temporary directory), removed when
 * this process exits. A checkout may be private (cloned into a 0700 home): a program run as another
 * uid (65534) must start from here, with nothing it needs left behind in the checkout.
 */
export function sharedDir(): string {
  if (shared === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'tipc-shared-'));
    chmodSync(dir, 0o755);
    // A backstop only: vitest's fork workers may be ended without an 'exit' event, so test files that
    // use sharedDir() also call removeSharedDir() in afterAll (the suite's leak check holds them to it).
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
    shared = dir;
  }
  return shared;
}

/** Removes sharedDir() and what was copied into it (call in afterAll of a file that used it). */
export function removeSharedDir(): void {
  if (shared === undefined) return;
  rmSync(shared, { recursive: true, force: true });
  shared = undefined;
}

/** A copy of the program `file` (e.g. from compileC) in sharedDir(), which another uid can run. */
export function forOtherUsers(file: string): string {
  const copy = join(sharedDir(), basename(file));
  if (!existsSync(copy)) {
    copyFileSync(file, `${copy}.tmp`);
    chmodSync(`${copy}.tmp`, 0o755);
    execFileSync('mv', [`${copy}.tmp`, copy]);
  }
  return copy;
}

/**
 * The TypeScript program `script` bundled (esbuild) into one ES module in sharedDir(), with koffi (a
 * native module, not bundled) copied into a node_modules beside it: another uid runs it with plain
 * `node`, without tsx and without reading anything in the checkout.
 */
export function bundleForOtherUsers(script: string): string {
  const dir = sharedDir();
  const output = join(dir, `${basename(script).replace(/\.ts$/, '')}.mjs`);
  if (existsSync(output)) return output;
  const modules = join(dir, 'node_modules');
  if (!existsSync(join(modules, 'koffi'))) {
    // koffi finds its prebuilt binary in the platform package beside it (node_modules/@koromix/...).
    const platform = join('@koromix', `koffi-${process.platform}-${process.arch}`);
    for (const name of ['koffi', platform]) {
      cpSync(join(repoRoot, 'node_modules', name), join(modules, name), { recursive: true });
    }
  }
  buildSync({
    entryPoints: [script],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile: output,
    // The recording packages are imported lazily (record, replay, plot, serveFoxglove), never by these
    // programs; left out, as zstd's .wasm file cannot be bundled.
    external: ['koffi', '@mcap/*', '@foxglove/*', 'lz4js', 'ws', 'vega', 'vega-lite'],
    logLevel: 'error',
    // Bundled CommonJS dependencies call require(); an ES module has none of its own.
    banner: {
      js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
    },
  });
  return output;
}

/** Spawns `node --import tsx <script> ...args` (a TypeScript child process). */
export function spawnTs(script: string, args: readonly string[] = [], options: SpawnOptions = {}): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...options,
  });
}

/** Resolves with the exit code and collected output of a child; rejects if it does not end in time. */
export function finished(
  child: ChildProcess,
  timeoutMs = 60_000,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`child did not finish in ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr });
    });
  });
}

/**
 * A loopback TCP or UDP port nobody holds right now, chosen by the kernel (bind to port 0). For a
 * program that must be told its port up front (a child process); a socket made in the test itself
 * binds port 0 instead and reads its address.
 */
export async function freePort(kind: 'tcp' | 'udp' = 'tcp'): Promise<number> {
  if (kind === 'udp') {
    const { createSocket } = await import('node:dgram');
    const socket = createSocket('udp4');
    return await new Promise((resolvePort, reject) => {
      socket.once('error', reject);
      socket.bind(0, '127.0.0.1', () => {
        const { port } = socket.address();
        socket.close(() => resolvePort(port));
      });
    });
  }
  const { createServer } = await import('node:net');
  return await new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolvePort(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

/** Collects cleanup actions; `run()` performs all of them, ignoring individual failures. */
export class Cleanup {
  #actions: (() => unknown)[] = [];

  add(action: () => unknown): void {
    this.#actions.push(action);
  }

  async run(): Promise<void> {
    const actions = this.#actions.reverse();
    this.#actions = [];
    for (const action of actions) {
      try {
        await action();
      } catch {
        // Best effort: the object may already be gone.
      }
    }
  }
}

/**
 * For a child that checks that its unref'd handles let it exit: on beforeExit prints `drained` and runs
 * `release`. The unref'd channels hold nothing alive, so the release (removing what the child made)
 * gets a handle of its own until it is done; else the process would exit first and leave objects behind.
 */
export function onDrained(release: () => unknown): void {
  let drained = false;
  process.on('beforeExit', () => {
    if (drained) return;
    drained = true;
    console.log('drained');
    const keep = setInterval(() => undefined, 1000);
    void Promise.resolve()
      .then(release)
      .finally(() => clearInterval(keep));
  });
}

/**
 * A codec of raw bytes of exactly `size` bytes with its own fingerprint: a foreign writer, or a sender of
 * records of the wrong size.
 */
export function rawCodec(size: number): MessageCodec<Uint8Array> {
  return {
    name: `raw${size}`,
    fixedSize: true,
    size,
    fingerprint: `raw${size}`,
    validate: (value) => value as Uint8Array,
    encode: (value) => value.slice(),
    encodeInto: (value, target, offset = 0) => {
      target.set(value, offset);
      return value.length;
    },
    decode: (bytes, offset) => (offset === undefined ? bytes.slice() : bytes.slice(offset, offset + size)),
  };
}
