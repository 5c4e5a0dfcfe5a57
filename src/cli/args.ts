/**
 * Command-line parsing on top of `util.parseArgs`: each command declares its options and help text,
 * and every mistake on the command line becomes a UsageError (exit code 2).
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { IpcError } from '../index.js';

/** The command line is wrong (unknown option, missing argument, bad value): exit code 2. */
export class UsageError extends IpcError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_IPC_USAGE', message, options);
  }
}

/** Options of one command, in `util.parseArgs` form. */
export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

/** Parsed option values: strings and booleans as declared. */
export type OptionValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

/** What a command receives after parsing. */
export interface ParsedArgs {
  readonly values: OptionValues;
  readonly positionals: readonly string[];
}

/** One subcommand of `typed-ipc`. */
export interface Command {
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** Full help text, printed by `--help`. */
  readonly help: string;
  readonly options: OptionSpec;
  /** Why the command cannot run in this installation (it is then left out of `--help`), or undefined. */
  unavailable?(): string | undefined;
  /** Runs the command; resolves with the exit code. Throws UsageError or runtime errors. */
  run(args: ParsedArgs): Promise<number>;
}

/** Parses `argv` for `command`; `--help` is always accepted. */
export function parseCommandArgs(command: Command, argv: readonly string[]): ParsedArgs & { help: boolean } {
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      options: { ...command.options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
    return { values: values as OptionValues, positionals, help: values.help === true };
  } catch (error) {
    // parseArgs messages end with a hint about `--` that does not apply here; keep the first sentence.
    const message = error instanceof Error ? error.message.split('. ')[0]!.replace(/\.$/, '') : String(error);
    throw new UsageError(`${message}; see typed-ipc ${command.name} --help`);
  }
}

/** The string value of an option, or undefined. */
export function stringOption(args: ParsedArgs, name: string): string | undefined {
  const value = args.values[name];
  return typeof value === 'string' ? value : undefined;
}

/** The string value of a required option. */
export function requiredOption(command: string, args: ParsedArgs, name: string): string {
  const value = stringOption(args, name);
  if (value === undefined) throw new UsageError(`--${name} is required; see typed-ipc ${command} --help`);
  return value;
}

/** An integer option within [min, max], or `fallback` when absent. */
export function integerOption<F extends number | undefined>(
  args: ParsedArgs,
  name: string,
  fallback: F,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): number | F {
  const text = stringOption(args, name);
  if (text === undefined) return fallback;
  const value = /^-?\d+$/.test(text.trim()) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in [${min}, ${max}]`;
    throw new UsageError(`--${name} expects an integer ${range}, got ${JSON.stringify(text)}`);
  }
  return value;
}

/** One of a fixed set of values for an option, or `fallback` when absent. */
export function choiceOption<const C extends string>(
  args: ParsedArgs,
  name: string,
  choices: readonly C[],
  fallback: C,
): C {
  const text = stringOption(args, name);
  if (text === undefined) return fallback;
  if (!(choices as readonly string[]).includes(text)) {
    throw new UsageError(`--${name} expects one of ${choices.join(', ')}, got ${JSON.stringify(text)}`);
  }
  return text as C;
}

/** Exactly `count` positional arguments, named in `names` for the message. */
export function positionals(command: string, args: ParsedArgs, names: readonly string[]): string[] {
  if (args.positionals.length !== names.length) {
    const expected = names.map((n) => `<${n}>`).join(' ');
    const got = args.positionals.length === 0 ? 'none' : args.positionals.map((p) => JSON.stringify(p)).join(' ');
    throw new UsageError(`expected ${expected}, got ${got}; see typed-ipc ${command} --help`);
  }
  return [...args.positionals];
}
