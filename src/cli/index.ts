/**
 * The `typed-ipc` command: subcommands over the library's public API (tail, send, record, replay, serve,
 * plot, ls, stat, rm, gen, bench). Exit codes: 0 success, 1 runtime error, 2 usage error; errors are one line on stderr.
 */
import { type Command, parseCommandArgs, UsageError } from './args.js';
import { bench } from './commands/bench.js';
import { gen } from './commands/gen.js';
import { plotCommand, serveCommand } from './commands/look.js';
import { ls } from './commands/ls.js';
import { recordCommand } from './commands/record.js';
import { replayCommand } from './commands/replay.js';
import { rm } from './commands/rm.js';
import { send } from './commands/send.js';
import { stat } from './commands/stat.js';
import { tail } from './commands/tail.js';
import { printError } from './output.js';

/** Every subcommand, in the order `--help` lists them. */
export const commands: readonly Command[] = [
  tail,
  send,
  recordCommand,
  replayCommand,
  serveCommand,
  plotCommand,
  ls,
  stat,
  rm,
  gen,
  bench,
];

/** Exit codes of the command. */
export const exitCodes = { ok: 0, runtime: 1, usage: 2 } as const;

function mainHelp(): string {
  const listed = commands.filter((c) => c.unavailable?.() === undefined);
  const width = Math.max(...listed.map((c) => c.name.length));
  return [
    'Usage: typed-ipc <command> [options]',
    '',
    'Typed, C-struct-layout messages over Linux IPC: message queues, shared-memory rings, sockets, FIFOs.',
    '',
    'Commands:',
    ...listed.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `typed-ipc <command> --help` for the options of one command.',
    'Exit codes: 0 success, 1 runtime error (a system call, a timeout, a mismatched object), 2 usage error.',
  ].join('\n');
}

/** Runs the command line `argv` (without node and script); resolves with the exit code. */
export async function run(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${mainHelp()}\n`);
    return exitCodes.ok;
  }
  if (name === '--version' || name === '-v') {
    const { createRequire } = await import('node:module');
    // By the package's own name: the same from src/ (a checkout) and dist/src/ (built or installed).
    const pkg = createRequire(import.meta.url)('typed-ipc/package.json') as { version: string };
    process.stdout.write(`${pkg.version}\n`);
    return exitCodes.ok;
  }
  const command = commands.find((c) => c.name === name);
  if (command === undefined) {
    const problem = name === undefined ? 'no command given' : `unknown command ${JSON.stringify(name)}`;
    process.stderr.write(`typed-ipc: ${problem}\n\n${mainHelp()}\n`);
    return exitCodes.usage;
  }
  // A reader that goes away (`typed-ipc tail ... | head`) is not an error.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(exitCodes.ok);
  });
  try {
    const args = parseCommandArgs(command, rest);
    if (args.help) {
      process.stdout.write(`${command.help}\n`);
      return exitCodes.ok;
    }
    return await command.run(args);
  } catch (error) {
    printError(command.name, error);
    return isUsageError(error) ? exitCodes.usage : exitCodes.runtime;
  }
}

// A malformed URL is a mistake on the command line, found before any object is touched.
function isUsageError(error: unknown): boolean {
  if (error instanceof UsageError) return true;
  return (error as { code?: unknown }).code === 'ERR_IPC_VALIDATION' && (error as { path?: unknown }).path === 'url';
}
