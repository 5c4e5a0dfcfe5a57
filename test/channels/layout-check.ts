/**
 * One check for a shared-memory layout that is defined once in TypeScript (a layout.ts descriptor)
 * and declared again as C structs in a shipped header: a C program compiled with `cc` prints offsetof,
 * sizeof and the offset macro of every field the descriptor lists, and every protocol constant, and
 * the tests compare them with the descriptor both ways (a field of the C struct that the descriptor
 * lacks fails too). The ring's and pub/sub's layout tests are this check with their own tables.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { fieldSize, type LayoutField } from '../../src/channels/ring/layout.js';
import { cFigures, repoRoot } from '../helpers.js';

/** One C struct of the header and its descriptor table. */
export interface LayoutStruct {
  /** The typedef's name (`tipc_ring_header`). */
  readonly name: string;
  readonly fields: readonly LayoutField[];
  /** Prefix of the field offset macros (`TIPC_RING_OFF_`): the macro is prefix + NAME. */
  readonly macroPrefix: string;
  /** The largest sizeof the struct may have (the bytes its place in the segment leaves it). */
  readonly maxSize: number;
  /** When given, sizeof must be exactly this (a registry entry). */
  readonly exactSize?: number;
}

export interface LayoutSpec {
  /** The header under include/ (`typed_ipc_ring.h`). */
  readonly header: string;
  readonly structs: readonly LayoutStruct[];
  /** Offset macros not named prefix + NAME (`seq_offset` -> `TIPC_RING_OFF_SEQ`). */
  readonly offsetMacros?: Readonly<Record<string, string>>;
  /** Protocol constants: [C expression, TS value] (the expression is the test's label too). */
  readonly constants: readonly (readonly [string, number | bigint])[];
  /** C expressions printed instead of a constant's label (a macro the label only describes). */
  readonly constantExpressions?: Readonly<Record<string, string>>;
}

/** The non-reserved field names of `struct` in the C `header` text, in order. */
function cStructFields(header: string, file: string, struct: string): string[] {
  const body = new RegExp(`typedef struct ${struct} \\{([^}]*)\\} ${struct};`).exec(header)?.[1];
  if (body === undefined) throw new Error(`include/${file} has no struct ${struct}`);
  const code = body.replace(/\/\*[\s\S]*?\*\//g, '');
  return [...code.matchAll(/(\w+)(?:\[[^\]]*\])?;/g)].map((m) => m[1]!).filter((n) => !n.startsWith('reserved_'));
}

/** Declares the layout's tests (call inside a `describe`). */
export function checkLayout(spec: LayoutSpec): void {
  const header = readFileSync(join(repoRoot, 'include', spec.header), 'utf8');
  const macroOf = (name: string, prefix: string): string =>
    spec.offsetMacros?.[name] ?? `${prefix}${name.toUpperCase()}`;
  const printed: [string, string][] = [];
  for (const struct of spec.structs) {
    for (const field of struct.fields) {
      const key = `${struct.name}.${field.name}`;
      printed.push([`${key}.offset`, `offsetof(${struct.name}, ${field.name})`]);
      printed.push([`${key}.size`, `sizeof(((${struct.name} *)0)->${field.name})`]);
      printed.push([`${key}.macro`, macroOf(field.name, struct.macroPrefix)]);
    }
    printed.push([`${struct.name}.sizeof`, `sizeof(${struct.name})`]);
  }
  for (const [label] of spec.constants) printed.push([label, spec.constantExpressions?.[label] ?? label]);
  const figures = cFigures(spec.header.replace(/\W/g, '_'), [`"${spec.header}"`], printed);

  const fields = spec.structs.flatMap((struct) => struct.fields.map((field) => [struct.name, field] as const));
  it.each(fields)('%s.%o: same offset and size in C', (struct, field) => {
    expect(figures.get(`${struct}.${field.name}.offset`)).toBe(String(field.offset));
    expect(figures.get(`${struct}.${field.name}.macro`)).toBe(String(field.offset));
    expect(figures.get(`${struct}.${field.name}.size`)).toBe(String(fieldSize(field.type)));
  });

  it('the C structs have exactly the descriptor’s fields, in its order, and fit their places', () => {
    for (const struct of spec.structs) {
      expect(cStructFields(header, spec.header, struct.name)).toEqual(struct.fields.map((f) => f.name));
      const size = Number(figures.get(`${struct.name}.sizeof`));
      expect(size).toBeLessThanOrEqual(struct.maxSize);
      if (struct.exactSize !== undefined) expect(size).toBe(struct.exactSize);
    }
  });

  it.each(spec.constants)('%s is the same in C and Node', (label, value) => {
    expect(figures.get(label)).toBe(String(value));
  });

  it('fields do not overlap, and each 64-bit field is 8-byte aligned (one atomic access)', () => {
    for (const { fields } of spec.structs) {
      for (let i = 1; i < fields.length; i++) {
        const previous = fields[i - 1]!;
        expect(fields[i]!.offset).toBeGreaterThanOrEqual(previous.offset + fieldSize(previous.type));
      }
      for (const field of fields) if (field.type === 'u64') expect(field.offset % 8).toBe(0);
    }
  });
}
