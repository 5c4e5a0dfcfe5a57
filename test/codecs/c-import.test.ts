/**
 * fromCHeader on real headers of this machine with GCC as the oracle: `struct input_event`,
 * `can_frame`, `sockaddr_in`, `iphdr` and `tcphdr` (bitfields), `timespec`, read after `cc -E`, must
 * have GCC's sizeof, _Alignof and offsetof, and values must cross both ways with a C program built
 * on the real headers. Also: the layout oracle's random schemas round-trip (schema -> cHeader ->
 * fromCHeader -> same fingerprint), the reader without a compiler (#define, #include "...", #if,
 * pragma pack, enums), the refusals with file:line:column, and the lazy load of the parser.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Sample } from '../../schemas/index.js';
import { cHeader, fromCHeader, SchemaError, type StructType } from '../../src/index.js';
import { compileC, repoRoot } from '../helpers.js';
import { cPeerSource, expectedLayout, readInput, writeInput } from './c-peer.js';
import { agrees, Rng, randomStructs, randomValue, tokens } from './random-schemas.js';

const dir = mkdtempSync(join(tmpdir(), 'tipc-c-import-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const includes = ['linux/input.h', 'linux/can.h', 'netinet/in.h', 'netinet/ip.h', 'netinet/tcp.h', 'time.h'];
const wanted = ['input_event', 'can_frame', 'sockaddr_in', 'iphdr', 'tcphdr', 'timespec'];
const source = `${includes.map((h) => `#include <${h}>`).join('\n')}\n`;
const anonymous = /^anon\d+$/;

function run(binary: string, args: string[], input: Uint8Array | string): Buffer {
  return execFileSync(binary, args, { input, maxBuffer: 64 * 1024 * 1024 });
}

describe('fromCHeader on the real headers of this machine, GCC as the oracle', async () => {
  // The C program is compiled with -D_GNU_SOURCE (see compileC): the reader sees the same definitions.
  const schemas = await fromCHeader(source, { cpp: true, structs: wanted, defines: { _GNU_SOURCE: 1 } });
  const roots = wanted.map((name) => schemas[name] as StructType);
  const binary = compileC('c-import-real', [cPeerSource(roots, { header: source, anonymous })], ['-O0']);

  it('finds every struct asked for, bitfields and anonymous unions included', () => {
    expect(Object.keys(schemas).sort()).toEqual([...wanted].sort());
    const iphdr = schemas.iphdr!;
    expect(iphdr.fields.slice(0, 2).map((f) => [f.name, f.type.kind, f.offset])).toEqual([
      ['ihl', 'bits', 0],
      ['version', 'bits', 0],
    ]);
    expect(schemas.can_frame!.fields.map((f) => f.name)).toEqual([
      'can_id',
      'anon0',
      '__pad',
      '__res0',
      'len8_dlc',
      'data',
    ]);
    expect(schemas.can_frame!.fields[1]!.type.kind).toBe('union');
  });

  it('sizeof, _Alignof and offsetof of every member are GCC’s', () => {
    expect(run(binary, ['layout'], '').toString().trim().split('\n')).toEqual(expectedLayout(roots, { anonymous }));
  });

  it('C reads what TypeScript encoded, bitfields and union members included', () => {
    const rng = new Rng(14);
    const values = roots.map((type) => Array.from({ length: 6 }, () => randomValue(rng, type)));
    const input = readInput(roots, values);
    const lines = run(binary, ['read', '6'], input).toString().split('\n');
    let line = 0;
    roots.forEach((type, i) => {
      for (const value of values[i]!) expect(lines[line++]!.trim(), type.name).toBe(tokens(type, value).join(' '));
    });
  });

  it('TypeScript decodes, and encodes byte for byte, what C wrote member by member', () => {
    const rng = new Rng(15);
    const values = roots.map((type) => Array.from({ length: 6 }, () => randomValue(rng, type)));
    const input = writeInput(roots, values);
    const output = run(binary, ['write', '6'], input);
    let offset = 0;
    roots.forEach((type, i) => {
      for (const value of values[i]!) {
        const bytes = new Uint8Array(output.subarray(offset, offset + type.size));
        offset += type.size;
        expect(Buffer.from(type.encode(value)).toString('hex'), type.name).toBe(Buffer.from(bytes).toString('hex'));
        expect(agrees(type, type.decode(bytes), value), type.name).toBe(true);
      }
    });
    expect(offset).toBe(output.length);
  });

  it('reads the measurement sample as written by hand in C to the schema’s fingerprint', async () => {
    const header =
      '#include <stdint.h>\nstruct sample {\n  uint16_t channel;\n  uint64_t timestamp;\n  double value;\n};\n';
    const [withCpp, without] = [await fromCHeader(header, { cpp: true }), await fromCHeader(header)];
    expect(withCpp.sample!.fingerprint).toBe(Sample.fingerprint);
    expect(without.sample!.fingerprint).toBe(Sample.fingerprint);
  });
});

describe('round trip of the layout oracle’s random schemas: schema -> cHeader -> fromCHeader', () => {
  it.each([
    ['the original kinds', randomStructs(0x7e57_1dc, 220)],
    ['unions, bitfields and packed', randomStructs(0xb175, 160, { composite: true })],
  ])('%s keep their fingerprints', async (_, roots) => {
    const header = cHeader(roots);
    const back = await fromCHeader(header, { structs: roots.map((r) => r.name) });
    for (const root of roots) expect(back[root.name]?.fingerprint, root.name).toBe(root.fingerprint);
  });
});

describe('fromCHeader without a compiler', () => {
  it('follows #define constants, #include "..." from -I, #if branches, pragma pack and enums', async () => {
    const inc = join(dir, 'inc');
    execFileSync('mkdir', ['-p', inc]);
    writeFileSync(
      join(inc, 'limits_own.h'),
      '#ifndef LIMITS_OWN_H\n#define LIMITS_OWN_H\n#define NAME_LEN (4 * 4)\n#endif\n',
    );
    const header = [
      '#include <stdint.h>',
      '#include "limits_own.h"',
      '#define ROWS 2',
      '#if defined(WIDE) && WIDE > 1',
      'typedef uint64_t cell_t;',
      '#else',
      'typedef uint16_t cell_t;',
      '#endif',
      'enum color { RED, GREEN = 5, BLUE };',
      'typedef enum { SMALL = -1, BIG = 100 } __attribute__((packed)) size_e;',
      '#pragma pack(push, 2)',
      'typedef struct reading {',
      '  char name[NAME_LEN];',
      '  cell_t grid[ROWS][ROWS + 1];',
      '  enum color color;',
      '  size_e size;',
      '  double value;',
      '  struct { uint8_t a; } inner;',
      '} reading_t;',
      '#pragma pack(pop)',
      'typedef int32_t wide_int __attribute__((aligned(8)));',
      'struct __attribute__((aligned(16))) holder { struct reading r; wide_int w; _Alignas(4) uint8_t b; };',
      'static inline int helper(int x) { return x + 1; }',
      'extern int counter;',
      '',
    ].join('\n');
    const file = join(dir, 'reading.h');
    writeFileSync(file, header);
    const plain = await fromCHeader(header, { file, includePaths: [inc] });
    expect(Object.keys(plain).sort()).toEqual(['holder', 'reading', 'reading_t']);
    expect(plain.reading_t).toBe(plain.reading);
    const reading = plain.reading!;
    expect(reading.fields.map((f) => [f.name, f.offset])).toEqual([
      ['name', 0],
      ['grid', 16],
      ['color', 28],
      ['size', 32],
      ['value', 34],
      ['inner', 42],
    ]);
    expect([reading.size, reading.align, reading.pack]).toEqual([44, 2, 2]);
    const color = reading.fields[2]!.type;
    expect(color.kind === 'enum' && [color.base.name, Object.fromEntries(color.values)]).toEqual([
      'u32',
      { RED: 0, GREEN: 5, BLUE: 6 },
    ]);
    expect(reading.fields[3]!.type.kind === 'enum' && reading.fields[3]!.type.base.name).toBe('i8');
    expect(reading.fields[5]!.type.kind === 'struct' && reading.fields[5]!.type.name).toBe('reading_inner');
    const holder = plain.holder!;
    const at = (name: string) => holder.fields.find((f) => f.name === name)?.offset;
    expect([holder.size, holder.align, at('w'), at('b')]).toEqual([64, 16, 48, 52]);
    // C23's fixed underlying type (GCC 13 and later), which -std=c11 does not compile: read all the same.
    const c23 = await fromCHeader('enum level : unsigned char { LOW, HIGH };\nstruct l { enum level level; char c; };');
    expect([c23.l!.size, c23.l!.fields[0]!.type.kind === 'enum' && c23.l!.fields[0]!.type.base.name]).toEqual([
      2,
      'u8',
    ]);

    const wide = await fromCHeader(header, { file, includePaths: [inc], defines: { WIDE: 2 }, structs: ['reading'] });
    expect(wide.reading!.fields[1]!.type.size).toBe(48);
    // The same header through the real preprocessor and GCC: the same layout.
    const viaCpp = await fromCHeader(header, { file, includePaths: [inc], cpp: true });
    expect(viaCpp.holder!.fingerprint).toBe(holder.fingerprint);
    const probe = compileC(
      'c-import-own',
      [
        `#include "${file}"\n#include <stdio.h>\n#include <stddef.h>\nint main(void) { printf("%zu %zu %zu %zu %zu\\n", sizeof(struct holder), _Alignof(struct holder), offsetof(struct holder, w), offsetof(struct holder, b), offsetof(struct reading, value)); return 0; }\n`,
      ],
      [`-I${inc}`],
      [file],
    );
    expect(execFileSync(probe).toString().trim()).toBe('64 16 48 52 34');
  });

  it('refuses what a schema cannot carry, with file:line:column and why', async () => {
    const cases: [string, RegExp][] = [
      [
        'struct p { int a;\n  char *name; };',
        /^x\.h:2:8: struct p: field name: is a pointer; an address means nothing in another process/,
      ],
      [
        'struct f { int n;\n  char data[]; };',
        /^x\.h:2:8: struct f: field data: a flexible array member has no fixed size/,
      ],
      ['struct g { void (*cb)(int); };', /^x\.h:1:18: struct g: field cb: is a function pointer/],
      [
        'int n;\nstruct v { char buf[n]; };',
        /^x\.h:2:17: struct v: field buf: array size n is not a known constant; define it \(-D n=value\)/,
      ],
      ['struct u { long double x; };', /^x\.h:1:12: struct u: field x: long double \(80-bit x87\) has no schema type/],
      ['struct w { my_t x; };', /^x\.h:1:12: struct w: field x: unknown type name my_t/],
      ['struct o;\nstruct q { struct o inner; };', /struct o: declared but not defined here/],
    ];
    for (const [text, message] of cases) {
      const error = await fromCHeader(text, { file: 'x.h' }).catch((e: unknown) => e);
      expect(error, text).toBeInstanceOf(SchemaError);
      expect((error as Error).message, text).toMatch(message);
    }
    await expect(fromCHeader('struct a { int x; };', { structs: ['nope'] })).rejects.toThrow(
      'no struct, union or typedef named nope in <input>; structs found: a',
    );
    // Only what is asked for must be representable.
    const picked = await fromCHeader('struct bad { int *p; };\nstruct good { int x; };', { structs: ['good'] });
    expect(Object.keys(picked)).toEqual(['good']);
  });

  it('is not loaded by importing typed-ipc', () => {
    const hooks = `data:text/javascript,${encodeURIComponent(
      // writeSync: the hooks thread's own console is asynchronous; the main thread waits on resolve, so this is in order.
      'import { writeSync } from "node:fs"; export async function resolve(s, c, next) { const r = await next(s, c); if (/tree-sitter|c-import\\/read/.test(r.url)) writeSync(1, "LOADED " + r.url + "\\n"); return r; }',
    )}`;
    const script = `import { register } from 'node:module'; register(${JSON.stringify(hooks)}); const lib = await import('./src/index.ts'); console.log(typeof lib.fromCHeader); await lib.fromCHeader('struct a { int x; };'); console.log('done');`;
    const output = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: repoRoot,
    }).toString();
    const lines = output.trim().split('\n');
    expect(lines[0]).toBe('function');
    // Loaded on the first call, not by the import.
    expect(lines.slice(1).some((l) => l.startsWith('LOADED'))).toBe(true);
    expect(lines.at(-1)).toBe('done');
  });
});
