/**
 * The ring layout is defined once: src/channels/ring/layout.ts. include/typed_ipc_ring.h declares the
 * same layout as structs (and checks its TIPC_RING_OFF_* constants against them with static asserts);
 * this test is layout-check.ts's check (every field's offset and size, every protocol constant, both
 * ways) with the ring's tables.
 */
import { describe } from 'vitest';
import { ringLayout } from '../../src/channels/ring.js';
import { checkLayout } from './layout-check.js';

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

describe('shm ring layout: include/typed_ipc_ring.h against src/channels/ring/layout.ts', () => {
  checkLayout({
    header: 'typed_ipc_ring.h',
    structs: [
      {
        name: 'tipc_ring_header',
        fields: ringLayout.headerFields,
        macroPrefix: 'TIPC_RING_OFF_',
        maxSize: ringLayout.OFF_REGISTRY,
      },
      {
        name: 'tipc_ring_entry',
        fields: ringLayout.entryFields,
        macroPrefix: 'TIPC_RING_E_',
        maxSize: ringLayout.ENTRY_SIZE,
        exactSize: ringLayout.ENTRY_SIZE,
      },
    ],
    offsetMacros: { seq_offset: 'TIPC_RING_OFF_SEQ', data_offset: 'TIPC_RING_OFF_DATA' },
    constants,
  });
});
