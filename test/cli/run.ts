/** Runs the real `typed-ipc` command (src/cli/main.ts through tsx) in a child process. */
import { expect } from 'vitest';
import { finished, spawnTs } from '../helpers.js';

/** Exit code and output of one run. */
export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `typed-ipc ...args`; `input` is written to its standard input. The timeout is a guard against a hang. */
export async function runCli(
  args: readonly string[],
  options: { env?: Record<string, string>; input?: string; timeoutMs?: number } = {},
): Promise<CliRun> {
  const child = spawnTs('src/cli/main.ts', args, {
    env: { ...process.env, ...options.env },
    stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  if (options.input !== undefined) child.stdin!.end(options.input);
  const { code, stdout, stderr } = await finished(child, options.timeoutMs ?? 120_000);
  return { code, stdout, stderr };
}

/** Asserts the shape of a CLI error: exactly one line on stderr, no stack trace. */
export function oneLineError(run: CliRun): string {
  const lines = run.stderr.trimEnd().split('\n');
  if (lines.length !== 1 || /^\s+at /m.test(run.stderr)) {
    throw new Error(`expected a one-line error, got:\n${run.stderr}`);
  }
  return lines[0]!;
}

/**
 * Sends one sample to a new queue with `send --create` and reads it back with `tail --count 1`,
 * through `run` (the command as built, installed or from source); removes the queue. Asserts both
 * exit 0 without a word on stderr and that tail prints what was sent.
 */
export async function expectSendAndTail(
  run: (args: readonly string[]) => Promise<CliRun>,
  url: string,
  schema: string,
): Promise<void> {
  const json = '{"channel":5,"timestamp":"6","value":7}';
  try {
    const sent = await run(['send', url, '--create', '--schema', schema, '--json', json]);
    expect(sent).toMatchObject({ code: 0, stderr: '' });
    const tail = await run(['tail', url, '--schema', schema, '--count', '1']);
    expect(tail).toMatchObject({ code: 0, stderr: '', stdout: `{"value":${json},"priority":0}\n` });
  } finally {
    await run(['rm', '-f', url]);
  }
}
