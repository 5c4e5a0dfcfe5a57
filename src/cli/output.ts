/** Writing to stdout and stderr: lines, one-line error reports, and stopping on Ctrl-C. */

/** Writes one line to stdout. */
export function writeLine(text: string): void {
  process.stdout.write(`${text}\n`);
}

/** One line describing an error: its message (the first line only), never a stack trace. */
export function errorLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0]!;
}

// The commands that have --create (the library's `create: true`).
const creating = new Set(['tail', 'send']);

/**
 * The library's hints name API options (`create: true`); on the command line the user types flags,
 * or has none to type. Each rule rewrites one hint for the command at hand.
 */
const cliHints: readonly ((line: string, command: string, syscall: unknown) => string)[] = [
  (line, _command, syscall) =>
    syscall === 'connect'
      ? line.replace(
          /(ENOENT \([^)]*\)); .*$/,
          '$1; nobody listens at this path: start the listening side first (typed-ipc tail <url> listens)',
        )
      : line,
  (line, command, syscall) =>
    command === 'rm' && typeof syscall === 'string' && syscall.endsWith('unlink')
      ? line.replace(/(ENOENT \([^)]*\)); .*$/, '$1; nothing of this name to remove (-f ignores missing objects)')
      : line,
  (line, command) =>
    line.replace(
      'pass `create: true`, or start the side that creates it first',
      creating.has(command)
        ? 'add --create, or start the side that creates it first'
        : 'start the side that creates it first (typed-ipc ls lists what exists)',
    ),
  (line, command) =>
    line.replace(
      '(made by mkfifo or `create: true`)',
      creating.has(command) ? '(made by mkfifo or --create)' : '(made by mkfifo)',
    ),
  (line) =>
    line
      .replace(
        'open it with the schema it was created for, or unlink it',
        'give --schema the schema it was created for, or remove it (typed-ipc rm <url>)',
      )
      .replace('open it without `exclusive`, or unlink it first', 'remove it first'),
];

/** The one-line error as the command line shows it: hints name what a user of `command` can type. */
export function cliErrorLine(command: string, error: unknown): string {
  const syscall = (error as { syscall?: unknown } | null)?.syscall;
  return cliHints.reduce((line, rule) => rule(line, command, syscall), errorLine(error));
}

/** Prints `typed-ipc <command>: <error>` (with where it came from) on stderr. */
export function printError(command: string, error: unknown, from?: string): void {
  const where = from === undefined ? '' : ` (from ${from})`;
  process.stderr.write(`typed-ipc ${command}: ${cliErrorLine(command, error)}${where}\n`);
}

/** Runs `stop` on the first SIGINT or SIGTERM; returns a function that removes the handlers. */
export function onStopSignal(stop: () => unknown): () => void {
  const handler = (): void => {
    remove();
    void stop();
  };
  const remove = (): void => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
  return remove;
}
