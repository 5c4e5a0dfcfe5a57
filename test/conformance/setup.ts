/** Per-test cleanup for the conformance specs: `defer` registers, afterEach runs everything. */
import { afterEach } from 'vitest';
import { Cleanup } from '../helpers.js';
import type { Defer } from './transports.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** Registers an action that runs after the current test, even when it fails. */
export const defer: Defer = (action) => cleanup.add(action);
