/**
 * The pub/sub layout is defined once: src/channels/pubsub/layout.ts. include/typed_ipc_pubsub.h
 * declares the same layout as structs (with static asserts on its TIPC_PS_OFF_* constants); this test
 * is layout-check.ts's check with pub/sub's tables, and checks the offsets tables of docs/pubsub.md
 * against the descriptor.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pubsubLayout as L } from '../../src/channels/pubsub/index.js';
import { repoRoot } from '../helpers.js';
import { checkLayout } from './layout-check.js';

const constants: readonly (readonly [string, number | bigint])[] = [
  ['TIPC_PS_MAGIC', L.MAGIC],
  ['TIPC_PS_VERSION', L.VERSION],
  ['TIPC_PS_BLOCK', L.POLICY_BLOCK],
  ['TIPC_PS_OVERWRITE', L.POLICY_OVERWRITE],
  ['TIPC_PS_REGISTRY_OFFSET', L.REGISTRY_OFFSET],
  ['TIPC_PS_ENTRY_SIZE', L.ENTRY_SIZE],
  ['TIPC_PS_E_CLAIM_POS_IS_POS', L.entry.pos],
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
  checkLayout({
    header: 'typed_ipc_pubsub.h',
    structs: [
      { name: 'tipc_ps_header', fields: L.headerFields, macroPrefix: 'TIPC_PS_OFF_', maxSize: L.REGISTRY_OFFSET },
      {
        name: 'tipc_ps_entry',
        fields: L.entryFields,
        macroPrefix: 'TIPC_PS_E_',
        maxSize: L.ENTRY_SIZE,
        exactSize: L.ENTRY_SIZE,
      },
    ],
    offsetMacros: { seq_offset: 'TIPC_PS_OFF_SEQ', data_offset: 'TIPC_PS_OFF_DATA' },
    constants,
    // A publisher entry's claim_pos is a subscriber entry's cursor: one field `pos` in C.
    constantExpressions: { TIPC_PS_E_CLAIM_POS_IS_POS: 'TIPC_PS_E_POS' },
  });

  it('the offsets tables of docs/pubsub.md are the descriptor’s', () => {
    const header = docTable('### Header');
    expect(header.map((r) => [r.offset, r.type, r.name])).toEqual(
      L.headerFields.map((f) => [f.offset, f.type, f.name]),
    );
    const entry = docTable('### Registry entry');
    expect(entry.map((r) => [r.offset, r.type, r.name])).toEqual(L.entryFields.map((f) => [f.offset, f.type, f.name]));
  });
});
