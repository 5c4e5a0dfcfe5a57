/**
 * The pub/sub layout is defined once: src/channels/pubsub/layout.ts. include/typed_ipc_pubsub.h
 * declares the same layout as structs (with static asserts on its TIPC_PS_OFF_* constants); this test
 * compiles a C program that prints offsetof/sizeof of every field the descriptor lists and every
 * protocol constant, and compares them with the descriptor both ways, and checks the offsets table of
 * docs/pubsub.md against the descriptor.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pubsubLayout as L } from '../../src/channels/pubsub/index.js';
import { compileC, repoRoot } from '../helpers.js';

const header = readFileSync(join(repoRoot, 'include', 'typed_ipc_pubsub.h'), 'utf8');

const constants: readonly (readonly [string, number | bigint])[] = [
  ['TIPC_PS_MAGIC', L.MAGIC],
  ['TIPC_PS_VERSION', L.VERSION],
  ['TIPC_PS_BLOCK', L.POLICY_BLOCK],
  ['TIPC_PS_OVERWRITE', L.POLICY_OVERWRITE],
  ['TIPC_PS_REGISTRY_OFFSET', L.REGISTRY_OFFSET],
  ['TIPC_PS_ENTRY_SIZE', L.ENTRY_SIZE],
  ['TIPC_PS_E_CLAIM_POS_IS_POS', L.E_CLAIM_POS],
  ['TIPC_PS_FINGERPRINT_MAX', L.FINGERPRINT_MAX],
  ['TIPC_PS_MAX_SUBSCRIBERS', L.MAX_SUBSCRIBERS],
  ['TIPC_PS_MAX_PUBLISHERS', L.MAX_PUBLISHERS],
  ['TIPC_PS_MAX_MASK_WORDS', L.MAX_MASK_WORDS],
  ['TIPC_PS_MAX_SLOTS', L.MAX_SLOTS],
  ['TIPC_PS_MAX_MSG_SIZE', L.MAX_MSG_SIZE],
  ['TIPC_PS_WRITING', L.WRITING],
  ['TIPC_PS_PUBLISHED', L.PUBLISHED],
  ['TIPC_PS_SKIPPED', L.SKIPPED],
  ['TIPC_PS_SPIN', L.SPIN],
  ['TIPC_PS_RECOVERY_MS', L.RECOVERY_MS],
  ['TIPC_PS_IDLE_RECHECK_MS', L.IDLE_RECHECK_MS],
  ['TIPC_PS_OPEN_ATTEMPTS', L.OPEN_ATTEMPTS],
  ['tipc__ps_seq_offset(16,8)', L.seqOffsetFor(16, 8)],
  ['tipc__ps_data_offset(16,8,2)', L.dataOffsetFor(16, 8, 2)],
  ['tipc__ps_data_offset(1024,64,1u<<24)', L.dataOffsetFor(1024, 64, 1 << 24)],
  ['tipc__ps_word(5,TIPC_PS_PUBLISHED)', L.slotWord(5, L.PUBLISHED) >>> 0],
  ['tipc__ps_word((uint64_t)3-8,TIPC_PS_SKIPPED)', L.slotWord(3 - 8, L.SKIPPED) >>> 0],
  ['tipc__ps_word(0x1234567890ULL,TIPC_PS_WRITING)', L.slotWord(0x1234567890 >>> 0, L.WRITING) >>> 0],
];

const offsetMacros: Record<string, string> = { seq_offset: 'TIPC_PS_OFF_SEQ', data_offset: 'TIPC_PS_OFF_DATA' };
const macroOf = (name: string, prefix: string): string => offsetMacros[name] ?? `${prefix}${name.toUpperCase()}`;

function cFigures(): Map<string, string> {
  const lines: string[] = [];
  const print = (key: string, expression: string): void => {
    lines.push(`  printf("%s %llu\\n", ${JSON.stringify(key)}, (unsigned long long)(${expression}));`);
  };
  for (const [struct, fields, prefix] of [
    ['tipc_ps_header', L.headerFields, 'TIPC_PS_OFF_'],
    ['tipc_ps_entry', L.entryFields, 'TIPC_PS_E_'],
  ] as const) {
    for (const field of fields) {
      print(`${struct}.${field.name}.offset`, `offsetof(${struct}, ${field.name})`);
      print(`${struct}.${field.name}.size`, `sizeof(((${struct} *)0)->${field.name})`);
      print(`${struct}.${field.name}.macro`, macroOf(field.name, prefix));
    }
    print(`${struct}.sizeof`, `sizeof(${struct})`);
  }
  for (const [macro] of constants) print(macro, macro === 'TIPC_PS_E_CLAIM_POS_IS_POS' ? 'TIPC_PS_E_POS' : macro);
  const source = ['#include "typed_ipc_pubsub.h"', 'int main(void) {', ...lines, '  return 0;', '}', ''].join('\n');
  const figures = new Map<string, string>();
  for (const line of execFileSync(compileC('pubsub_layout', [source]), { encoding: 'utf8' })
    .trim()
    .split('\n')) {
    const [key = '', value = ''] = line.split(' ');
    figures.set(key, value);
  }
  return figures;
}

function cStructFields(struct: string): string[] {
  const body = new RegExp(`typedef struct ${struct} \\{([^}]*)\\} ${struct};`).exec(header)?.[1];
  if (body === undefined) throw new Error(`include/typed_ipc_pubsub.h has no struct ${struct}`);
  const code = body.replace(/\/\*[\s\S]*?\*\//g, '');
  return [...code.matchAll(/(\w+)(?:\[[^\]]*\])?;/g)].map((m) => m[1]!).filter((n) => !n.startsWith('reserved_'));
}

/** The rows `| offset | type | field |` of a table in docs/pubsub.md under `heading`. */
function docTable(heading: string): { offset: number; type: string; name: string }[] {
  const doc = readFileSync(join(repoRoot, 'docs', 'pubsub.md'), 'utf8');
  const start = doc.indexOf(heading);
  if (start < 0) throw new Error(`docs/pubsub.md has no ${heading}`);
  const rows: { offset: number; type: string; name: string }[] = [];
  for (const line of doc.slice(start).split('\n').slice(1)) {
    if (rows.length > 0 && !line.startsWith('|')) break;
    const cells = line.split('|').map((c) => c.trim());
    if (cells.length < 4 || !/^\d+$/.test(cells[1]!)) continue;
    rows.push({ offset: Number(cells[1]), type: cells[2]!, name: cells[3]!.replace(/`/g, '') });
  }
  return rows;
}

describe('shm+pubsub layout: include/typed_ipc_pubsub.h and docs/pubsub.md against src/channels/pubsub/layout.ts', () => {
  const figures = cFigures();
  const fields = [
    ...L.headerFields.map((f) => ['tipc_ps_header', f] as const),
    ...L.entryFields.map((f) => ['tipc_ps_entry', f] as const),
  ];

  it.each(fields)('%s.%o: same offset and size in C', (struct, field) => {
    expect(figures.get(`${struct}.${field.name}.offset`)).toBe(String(field.offset));
    expect(figures.get(`${struct}.${field.name}.macro`)).toBe(String(field.offset));
    expect(figures.get(`${struct}.${field.name}.size`)).toBe(String(L.fieldSize(field.type)));
  });

  it('the C structs have exactly the descriptor’s fields, in order, and fit their places', () => {
    expect(cStructFields('tipc_ps_header')).toEqual(L.headerFields.map((f) => f.name));
    expect(cStructFields('tipc_ps_entry')).toEqual(L.entryFields.map((f) => f.name));
    expect(Number(figures.get('tipc_ps_header.sizeof'))).toBeLessThanOrEqual(L.REGISTRY_OFFSET);
    expect(figures.get('tipc_ps_entry.sizeof')).toBe(String(L.ENTRY_SIZE));
  });

  it.each(constants)('%s is the same in C and Node', (macro, value) => {
    expect(figures.get(macro)).toBe(String(value));
  });

  it('the offsets tables of docs/pubsub.md are the descriptor’s', () => {
    const header = docTable('### Header');
    expect(header.map((r) => [r.offset, r.type, r.name])).toEqual(
      L.headerFields.map((f) => [f.offset, f.type, f.name]),
    );
    const entry = docTable('### Registry entry');
    expect(entry.map((r) => [r.offset, r.type, r.name])).toEqual(L.entryFields.map((f) => [f.offset, f.type, f.name]));
  });

  it('fields do not overlap, and each 64-bit field is 8-byte aligned (one atomic access)', () => {
    for (const list of [L.headerFields, L.entryFields]) {
      for (let i = 1; i < list.length; i++) {
        expect(list[i]!.offset).toBeGreaterThanOrEqual(list[i - 1]!.offset + L.fieldSize(list[i - 1]!.type));
      }
      for (const field of list) if (field.type === 'u64') expect(field.offset % 8).toBe(0);
    }
  });
});
