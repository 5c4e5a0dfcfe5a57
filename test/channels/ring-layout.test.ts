/**
 * The ring layout is defined once: src/channels/ring/layout.ts. include/typed_ipc_ring.h declares the
 * same layout as structs (and checks its TIPC_RING_OFF_* constants against them with static asserts);
 * this test compiles a C program with `cc` that prints offsetof/sizeof of every field the TS descriptor
 * lists and every protocol constant, and compares them with the descriptor, both ways (a field in the C
 * struct that the descriptor lacks fails too).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fieldSize } from '../../src/channels/ring/layout.js';
import { ringLayout } from '../../src/channels/ring.js';
import { compileC, repoRoot } from '../helpers.js';

const header = readFileSync(join(repoRoot, 'include', 'typed_ipc_ring.h'), 'utf8');

/** The protocol constants the TS descriptor and the C header both define: [C macro, TS value]. */
const constants: readonly (readonly [string, number | bigint])[] = [
  ['TIPC_RING_MAGIC', ringLayout.MAGIC],
  ['TIPC_RING_VERSION', ringLayout.VERSION],
  ['TIPC_RING_OFF_REGISTRY', ringLayout.OFF_REGISTRY],
  ['TIPC_RING_HANDLES', ringLayout.HANDLES],
  ['TIPC_RING_ENTRY_SIZE', ringLayout.ENTRY_SIZE],
  ['TIPC_RING_FINGERPRINT_MAX', ringLayout.FINGERPRINT_MAX],
  ['TIPC_RING_SEQ_SKIP', ringLayout.SKIP >>> 0],
  ['TIPC_RING_MAX_CAPACITY', ringLayout.MAX_CAPACITY],
  ['TIPC_RING_MAX_MSG_SIZE', ringLayout.MAX_MSG_SIZE],
  ['TIPC_RING_SPIN', ringLayout.SPIN],
  ['TIPC_RING_RECOVERY_MS', ringLayout.RECOVERY_MS],
  ['TIPC_RING_PRODUCER_RECHECK_MS', ringLayout.PRODUCER_RECHECK_MS],
  ['TIPC_RING_CONSUMER_RECHECK_MS', ringLayout.CONSUMER_RECHECK_MS],
  ['TIPC_RING_OPEN_ATTEMPTS', ringLayout.OPEN_ATTEMPTS],
  ['tipc__seq_offset()', ringLayout.SEQ_OFFSET],
  ['tipc__data_offset(2)', ringLayout.dataOffsetFor(2)],
  ['tipc__data_offset(1000)', ringLayout.dataOffsetFor(1000)],
  ['tipc__data_offset(1u<<24)', ringLayout.dataOffsetFor(1 << 24)],
];

/** The C macro that holds a header field's offset (`OFF_SEQ` for `seq_offset`, ...). */
const offsetMacros: Record<string, string> = { seq_offset: 'TIPC_RING_OFF_SEQ', data_offset: 'TIPC_RING_OFF_DATA' };
const macroOf = (name: string, prefix: string): string => offsetMacros[name] ?? `${prefix}${name.toUpperCase()}`;

/** Lines `key value` for every field and constant, printed by a C program built from the descriptor. */
function cFigures(): Map<string, string> {
  const lines: string[] = [];
  const print = (key: string, expression: string): void => {
    lines.push(`  printf("%s %llu\\n", ${JSON.stringify(key)}, (unsigned long long)(${expression}));`);
  };
  for (const [struct, fields, prefix] of [
    ['tipc_ring_header', ringLayout.headerFields, 'TIPC_RING_OFF_'],
    ['tipc_ring_entry', ringLayout.entryFields, 'TIPC_RING_E_'],
  ] as const) {
    for (const field of fields) {
      print(`${struct}.${field.name}.offset`, `offsetof(${struct}, ${field.name})`);
      print(`${struct}.${field.name}.size`, `sizeof(((${struct} *)0)->${field.name})`);
      print(`${struct}.${field.name}.macro`, macroOf(field.name, prefix));
    }
    print(`${struct}.sizeof`, `sizeof(${struct})`);
  }
  for (const [macro] of constants) print(macro, macro);
  const source = ['#include "typed_ipc_ring.h"', 'int main(void) {', ...lines, '  return 0;', '}', ''].join('\n');
  const binary = compileC('ring_layout', [source]);
  const figures = new Map<string, string>();
  for (const line of execFileSync(binary, { encoding: 'utf8' }).trim().split('\n')) {
    const [key = '', value = ''] = line.split(' ');
    figures.set(key, value);
  }
  return figures;
}

/** The non-reserved field names of a struct in the C header, in order. */
function cStructFields(struct: string): string[] {
  const body = new RegExp(`typedef struct ${struct} \\{([^}]*)\\} ${struct};`).exec(header)?.[1];
  if (body === undefined) throw new Error(`include/typed_ipc_ring.h has no struct ${struct}`);
  const names = [...body.matchAll(/(\w+)(?:\[[^\]]*\])?;/g)].map((m) => m[1]!);
  return names.filter((name) => !name.startsWith('reserved_'));
}

describe('shm ring layout: include/typed_ipc_ring.h against src/channels/ring/layout.ts', () => {
  const figures = cFigures();

  it.each(ringLayout.headerFields.map((f) => ['tipc_ring_header', f] as const))(
    '%s.%o: same offset and size in C',
    (struct, field) => {
      expect(figures.get(`${struct}.${field.name}.offset`)).toBe(String(field.offset));
      expect(figures.get(`${struct}.${field.name}.macro`)).toBe(String(field.offset));
      expect(figures.get(`${struct}.${field.name}.size`)).toBe(String(fieldSize(field.type)));
    },
  );

  it.each(ringLayout.entryFields.map((f) => ['tipc_ring_entry', f] as const))(
    '%s.%o: same offset and size in C',
    (struct, field) => {
      expect(figures.get(`${struct}.${field.name}.offset`)).toBe(String(field.offset));
      expect(figures.get(`${struct}.${field.name}.macro`)).toBe(String(field.offset));
      expect(figures.get(`${struct}.${field.name}.size`)).toBe(String(fieldSize(field.type)));
    },
  );

  it('the C structs have exactly the descriptor’s fields, in its order, and fit their places', () => {
    expect(cStructFields('tipc_ring_header')).toEqual(ringLayout.headerFields.map((f) => f.name));
    expect(cStructFields('tipc_ring_entry')).toEqual(ringLayout.entryFields.map((f) => f.name));
    expect(Number(figures.get('tipc_ring_header.sizeof'))).toBeLessThanOrEqual(ringLayout.OFF_REGISTRY);
    expect(figures.get('tipc_ring_entry.sizeof')).toBe(String(ringLayout.ENTRY_SIZE));
  });

  it.each(constants)('%s is the same in C and Node', (macro, value) => {
    expect(figures.get(macro)).toBe(String(value));
  });

  it('fields do not overlap, and each 64-bit field is 8-byte aligned (one atomic access)', () => {
    for (const fields of [ringLayout.headerFields, ringLayout.entryFields]) {
      for (let i = 1; i < fields.length; i++) {
        const previous = fields[i - 1]!;
        expect(fields[i]!.offset).toBeGreaterThanOrEqual(previous.offset + fieldSize(previous.type));
      }
      for (const field of fields) if (field.type === 'u64') expect(field.offset % 8).toBe(0);
    }
  });
});
