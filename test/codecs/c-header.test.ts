/**
 * cHeader: the header for the example schemas compiles with `cc -std=c11 -Wall -Werror`, its
 * `_Static_assert`s are live (a wrong number fails the build), and a C program written against it
 * exchanges messages with TypeScript in both directions, using the enum constants and fingerprints.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NetworkHeader, Sample, SensorFrame } from '../../schemas/index.js';
import { cHeader, SchemaError, struct, u8 } from '../../src/index.js';
import { compileC, repoRoot } from '../helpers.js';

const buildDir = join(repoRoot, 'test', 'c', 'build');
const header = cHeader([Sample, SensorFrame, NetworkHeader], { guard: 'TYPED_IPC_SCHEMAS_H' });

function compiles(source: string): { ok: boolean; stderr: string } {
  mkdirSync(buildDir, { recursive: true });
  const file = join(buildDir, `header-check-${createHash('sha256').update(source).digest('hex').slice(0, 12)}.c`);
  writeFileSync(file, source);
  const result = spawnSync('cc', ['-std=c11', '-Wall', '-Wextra', '-Werror', '-fsyntax-only', file], {
    encoding: 'utf8',
  });
  return { ok: result.status === 0, stderr: result.stderr };
}

describe('cHeader', () => {
  it('declares pack, align, endian, enums, asserts and fingerprints', () => {
    expect(header).toContain('#pragma pack(push, 1)\nstruct sensor_frame {');
    expect(header).toContain('struct __attribute__((aligned(8), scalar_storage_order("big-endian"))) net_header {');
    expect(header).toContain('  uint8_t kind; /* enum net_header_kind */');
    expect(header).toContain('  NET_HEADER_KIND_ACK = 3,');
    expect(header).toContain('  _Alignas(8) uint64_t id;');
    expect(header).toContain('  struct reading readings[8];');
    expect(header).toContain('_Static_assert(sizeof(struct sample) == 24, "typed-ipc: sizeof(struct sample)");');
    expect(header).toContain('_Static_assert(offsetof(struct sample, timestamp) == 8,');
    expect(header).toContain(`#define SAMPLE_FINGERPRINT "${Sample.fingerprint}"`);
    expect(header).toContain(`#define SAMPLE_FINGERPRINT_U64 UINT64_C(0x${Sample.fingerprint})`);
    // Every struct and field has its assertion.
    for (const type of [Sample, SensorFrame, NetworkHeader]) {
      for (const field of type.fields)
        expect(header).toContain(`offsetof(struct ${type.name}, ${field.name}) == ${field.offset}`);
    }
  });

  it('compiles with -std=c11 -Wall -Wextra -Werror, and its asserts fail on a wrong number', () => {
    expect(compiles(header)).toEqual({ ok: true, stderr: '' });
    const tampered = header.replace(
      'offsetof(struct sample, timestamp) == 8',
      'offsetof(struct sample, timestamp) == 4',
    );
    expect(tampered).not.toBe(header);
    const result = compiles(tampered);
    expect(result.ok).toBe(false);
    expect(result.stderr).toContain('typed-ipc: offsetof(struct sample, timestamp)');
  });

  it('is a header a C program uses to talk to TypeScript both ways', () => {
    mkdirSync(buildDir, { recursive: true });
    writeFileSync(join(buildDir, 'typed_ipc_schemas.h'), header);
    const hash = createHash('sha256').update(header).digest('hex').slice(0, 12);
    const binary = compileC(
      'codecs-header-peer',
      [join(repoRoot, 'test/c/codecs_header_peer.c')],
      [`-I${buildDir}`, `-DTIPC_HEADER_HASH=${hash}`],
    );
    const sample = { channel: 513, timestamp: 18446744073709551615n, value: -2.5e-300 };
    const result = spawnSync(binary, [], { input: Sample.encode(sample), maxBuffer: 1 << 20 });
    expect(result.status).toBe(0);
    const [fingerprints, fields] = result.stderr.toString().trim().split('\n');
    expect(fingerprints).toBe(
      `${Sample.fingerprint} ${SensorFrame.fingerprint} ${NetworkHeader.fingerprint} ${SensorFrame.size}`,
    );
    const [channel, timestamp, value] = fields!.split(' ');
    expect({ channel: Number(channel), timestamp: BigInt(timestamp!), value: Number(value) }).toEqual(sample);

    const out = new Uint8Array(result.stdout);
    expect(out.length).toBe(SensorFrame.size + NetworkHeader.size);
    const frame = SensorFrame.decode(out, 0);
    expect(frame).toEqual({
      sequence: 42,
      timestamp: 1700000000000000000n,
      name: 'probe-7',
      count: 8,
      readings: Array.from({ length: 8 }, (_, i) => ({
        channel: i,
        status: ['OK', 'SATURATED', 'FAULT'][i % 3],
        raw: i === 0 ? 0 : -100 * i,
        value: i * 0.25,
      })),
    });
    expect(NetworkHeader.decode(out, SensorFrame.size)).toEqual({
      magic: 0x54495043,
      version: 2,
      kind: 'ACK',
      flags: 0x8001,
      length: 4096,
      id: 0x0102030405060708n,
      key: Uint8Array.from({ length: 16 }, (_, i) => i * 3),
    });
    // Network byte order on the wire, as the scalar_storage_order attribute promises.
    expect(Array.from(out.subarray(SensorFrame.size, SensorFrame.size + 4))).toEqual([0x54, 0x49, 0x50, 0x43]);
  });

  it('refuses two different structs with one name, and no structs at all', () => {
    const a = struct('twin', { a: u8 });
    const b = struct('twin', { b: u8 });
    expect(() => cHeader([struct('holder', { x: a, y: b })])).toThrow(SchemaError);
    expect(() => cHeader([])).toThrow('cHeader: expected at least one struct type, got none');
  });
});
