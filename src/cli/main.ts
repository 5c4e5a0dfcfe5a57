#!/usr/bin/env node
/** The `typed-ipc` command: runs `run(process.argv.slice(2))` and exits with its code. */
import { run } from './index.js';

process.exitCode = await run(process.argv.slice(2));
