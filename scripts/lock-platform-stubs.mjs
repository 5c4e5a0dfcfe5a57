#!/usr/bin/env node
/**
 * The registry this project installs from lacks some platform builds of optional native packages
 * (e.g. @biomejs/cli-darwin-x64). `npm install` then leaves them out of package-lock.json, and
 * `npm ci` refuses the lock file as out of sync. This adds an entry for each missing optional
 * platform package, with its os/cpu (and libc) so npm skips it on every other platform.
 * Run after any `npm install` that changes the lock file: `node scripts/lock-platform-stubs.mjs`.
 */
import { readFileSync, writeFileSync } from 'node:fs';

const file = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(file, 'utf8'));
const platform =
  /-(android|darwin|linux|win32|freebsd|openbsd|netbsd|sunos|aix)-(arm64|x64|arm|ia32|riscv64|loong64|ppc64|s390x)(-musl|-gnu|-msvc)?$/;
const added = [];
for (const meta of Object.values(lock.packages)) {
  for (const [dep, version] of Object.entries(meta.optionalDependencies ?? {})) {
    const key = `node_modules/${dep}`;
    if (key in lock.packages) continue;
    const match = platform.exec(dep);
    if (match === null) continue;
    const entry = { version, cpu: [match[2]], os: [match[1]], optional: true };
    if (meta.dev) entry.dev = true;
    if (match[3] === '-musl') entry.libc = ['musl'];
    if (match[3] === '-gnu') entry.libc = ['glibc'];
    lock.packages[key] = entry;
    added.push(dep);
  }
}
writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
console.log(
  added.length ? `added lock entries for ${added.join(', ')}` : 'package-lock.json needs no platform entries',
);
