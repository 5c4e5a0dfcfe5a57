/**
 * `--cpp`: the system's C preprocessor (`cc -E`) runs first, so that real headers (system ones
 * included) read exactly as the compiler reads them. Its line markers (`# 42 "file.h" 1`) are
 * turned into a map back to the original files and lines, then blanked, so every error still
 * names the header line the user wrote.
 */
import { spawnSync } from 'node:child_process';
import { SchemaError } from '../../errors.js';

/** Preprocessed text and where each of its lines came from. */
export interface Preprocessed {
  readonly text: string;
  /** For each output line (0-based): the original file and 1-based line. */
  readonly origin: readonly (readonly [file: string, line: number])[];
}

/** Runs `cc -E` on `source` (named `file` in markers), with include paths and defines. */
export function preprocess(
  source: string,
  file: string,
  includePaths: readonly string[],
  defines: Readonly<Record<string, string>>,
  compiler = 'cc',
): Preprocessed {
  const args = ['-E', '-x', 'c', '-std=gnu11'];
  for (const dir of includePaths) args.push(`-I${dir}`);
  for (const [name, value] of Object.entries(defines)) args.push(`-D${name}=${value}`);
  // The source goes in on stdin; -iquote lets its own `#include "x.h"` find headers beside the file.
  const slash = file.lastIndexOf('/');
  if (slash >= 0) args.push('-iquote', file.slice(0, slash) || '/');
  args.push('-');
  const result = spawnSync(compiler, args, { input: source, encoding: 'utf8', maxBuffer: 512 * 1024 * 1024 });
  if (result.error !== undefined) {
    throw new SchemaError(
      `fromCHeader: cpp: running ${compiler} -E failed (${result.error.message}); install a C compiler or leave cpp off`,
    );
  }
  if (result.status !== 0) {
    const message = result.stderr.replaceAll('<stdin>', file).trim().split('\n').slice(0, 6).join('\n');
    throw new SchemaError(`fromCHeader: ${compiler} -E failed on ${file}:\n${message}`);
  }
  return mapLines(result.stdout, file);
}

/** Splits cc -E output into text without markers and the origin of every line. */
export function mapLines(output: string, file: string): Preprocessed {
  const lines = output.split('\n');
  const origin: [string, number][] = [];
  let current = file;
  let line = 1;
  for (let i = 0; i < lines.length; i++) {
    const marker = /^# (\d+) "((?:[^"\\]|\\.)*)"/.exec(lines[i]!);
    if (marker !== null) {
      line = Number(marker[1]);
      current = marker[2] === '<stdin>' ? file : JSON.parse(`"${marker[2]}"`);
      lines[i] = '';
      origin.push([current, line]);
      continue;
    }
    origin.push([current, line]);
    line++;
  }
  return { text: lines.join('\n'), origin };
}
