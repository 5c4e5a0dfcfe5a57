/**
 * The one internal entry outside the library's layers: raw libc bindings for the benches'
 * same-syscall baselines (a loop of the very syscalls a channel makes, without the channel). Not
 * part of the published API (package.json does not export it); the import-boundary rule
 * (scripts/check-imports.mjs) lets only bench/ import it.
 */
export { libc } from './native/index.js';
