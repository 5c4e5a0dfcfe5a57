/**
 * `typed-ipc gen ts`: a real header in, a TypeScript schema file out that imports, type-checks as
 * plain API calls and carries the same layouts (fingerprints) as fromCHeader; usage mistakes exit 2,
 * what a schema cannot carry exits 1 with the header's file:line:column.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fromCHeader } from '../../src/index.js';
import { repoRoot } from '../helpers.js';
import { oneLineError, runCli } from './run.js';

const dir = mkdtempSync(join(tmpdir(), 'tipc-gen-ts-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const api = join(repoRoot, 'src', 'index.ts');

describe('gen ts', () => {
  it('writes schemas of a project header (#define, -D, #include "...") that load with the same layout', async () => {
    writeFileSync(join(dir, 'common.h'), '#define NAME_LEN 8\n');
    const header = join(dir, 'frame.h');
    writeFileSync(
      header,
      [
        '#include <stdint.h>',
        '#include "common.h"',
        'enum kind { KIND_A = 1, KIND_B = 2 };',
        'typedef struct frame {',
        '  uint8_t version : 4, flags : 4;',
        '  enum kind kind;',
        '  char name[NAME_LEN];',
        '  union { float f; uint32_t u; } value;',
        '  uint16_t samples[COUNT];',
        '} frame_t;',
        '',
      ].join('\n'),
    );
    const out = join(dir, 'frame.ts');
    const run = await runCli(['gen', 'ts', header, '-D', 'COUNT=3', '--from', api, '-o', out]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const text = readFileSync(out, 'utf8');
    expect(text).toContain("export const frame_value = union('frame_value', { f: f32, u: u32 });");
    expect(text).toContain('version: bits(u8, 4),');
    expect(text).toContain('kind: enumOf(u32, { KIND_A: 1, KIND_B: 2 }),');
    expect(text).toContain('export const frame_t = frame;');
    const loaded = (await import(out)) as Record<string, { fingerprint: string; size: number }>;
    const direct = await fromCHeader(readFileSync(header, 'utf8'), { file: header, defines: { COUNT: 3 } });
    expect(loaded.frame!.fingerprint).toBe(direct.frame!.fingerprint);
    expect(loaded.frame_t).toBe(loaded.frame);
    expect(loaded.frame!.size).toBe(28);
  });

  it('reads system headers after --cpp, picking structs with --struct', async () => {
    const run = await runCli(['gen', 'ts', '/usr/include/netinet/tcp.h', '--cpp', '--struct', 'tcphdr', '--from', api]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("export const tcphdr = struct('tcphdr', { anon0: tcphdr_anon0 });");
    expect(run.stdout).toMatch(/th_off: bits\(u8, 4\)/);
  });

  it('exits 1 naming file:line:column for what a schema cannot carry, 2 for usage mistakes', async () => {
    const header = join(dir, 'bad.h');
    writeFileSync(header, 'struct node {\n  int value;\n  struct node *next;\n};\n');
    const bad = await runCli(['gen', 'ts', header]);
    expect(bad.code).toBe(1);
    expect(oneLineError(bad)).toBe(
      `typed-ipc gen: ${header}:3:15: struct node: field next: is a pointer; an address means nothing in another process, so a schema cannot carry it (send an index or an offset instead)`,
    );
    const none = await runCli(['gen', 'ts']);
    expect(none.code).toBe(2);
    expect(oneLineError(none)).toMatch(/expected gen ts <header\.h> \(one header\), got 0/);
    const missing = await runCli(['gen', 'ts', join(dir, 'nope.h')]);
    expect(missing.code).toBe(2);
    const define = await runCli(['gen', 'ts', header, '-D', '1bad']);
    expect(define.code).toBe(2);
    expect(oneLineError(define)).toMatch(/-D expects NAME or NAME=value, got "1bad"/);
  });
});
