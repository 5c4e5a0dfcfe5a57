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

/** Prints `typed-ipc <command>: <error>` (with where it came from) on stderr. */
export function printError(command: string, error: unknown, from?: string): void {
  const where = from === undefined ? '' : ` (from ${from})`;
  process.stderr.write(`typed-ipc ${command}: ${errorLine(error)}${where}\n`);
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
