/**
 * Builds a C program over the header `cHeader` generates, for the GCC tests. Modes:
 *   layout          prints `S name sizeof alignof` and `F name field offsetof` for every struct and
 *                   union (bitfields have no offsetof: their bits are checked through the values);
 *   read  <count>   reads `count` binary messages of each root struct from stdin, prints their tokens;
 *                   each message is preceded by a byte n and n bytes naming the member every union
 *                   holds, in token order (C cannot tell which one a union holds);
 *   write <count>   reads `count` token lines of each root struct from stdin, writes the structs' bytes;
 *                   a union's tokens start with the index of its member.
 * Fields are read and written through plain C member access, so the compiler decides every byte.
 */

import { cInt } from '../../src/codecs/c-header.js';
import { type CompositeShape, cHeader, type FieldType, type StructType } from '../../src/index.js';
import { tokens } from './random-schemas.js';

function allStructs(roots: readonly StructType[]): CompositeShape[] {
  const seen = new Map<string, CompositeShape>();
  const visit = (type: FieldType): void => {
    if (type.kind === 'array') visit(type.element);
    else if (type.kind === 'aligned') visit(type.inner);
    else if ((type.kind === 'struct' || type.kind === 'union') && !seen.has(`${type.kind} ${type.name}`)) {
      for (const field of type.fields) visit(field.type);
      seen.set(`${type.kind} ${type.name}`, type);
    }
  };
  for (const root of roots) visit(root);
  return [...seen.values()];
}

/** How the C program sees the structs: typed-ipc's own header, or a real one with anonymous members. */
export interface PeerOptions {
  /** C source that declares the structs (default: `cHeader(roots)`). */
  readonly header?: string;
  /** Fields that stand for C11 anonymous members: C reaches their members directly. */
  readonly anonymous?: RegExp;
}

class Printer {
  #depth = 0;
  readonly #anonymous: RegExp | undefined;

  constructor(anonymous?: RegExp) {
    this.#anonymous = anonymous;
  }

  /** The C lvalue of a member. */
  member(lv: string, name: string): string {
    return this.#anonymous?.test(name) === true ? lv : `${lv}.${name}`;
  }

  print(type: FieldType, lv: string, out: string[]): void {
    switch (type.kind) {
      case 'int':
        if (type.signed) out.push(`printf("%lld ", (long long)(${lv}));`);
        else out.push(`printf("%llu ", (unsigned long long)(${lv}));`);
        return;
      case 'enum':
        this.print(type.base, lv, out);
        return;
      case 'float':
        if (type.name === 'f32') {
          out.push(`{ float d = ${lv}; uint32_t b; memcpy(&b, &d, 4); printf("%08x ", (unsigned)b); }`);
        } else {
          out.push(`{ double d = ${lv}; uint64_t b; memcpy(&b, &d, 8); printf("%016llx ", (unsigned long long)b); }`);
        }
        return;
      case 'bool':
        out.push(`printf("%d ", (${lv}) ? 1 : 0);`);
        return;
      case 'char':
        out.push(
          `{ int n = 0; while (n < ${type.length} && ${lv}[n] != 0) { printf("%02x", (unsigned)(unsigned char)${lv}[n]); n++; } printf(n == 0 ? "- " : " "); }`,
        );
        return;
      case 'bytes':
        out.push(`for (int k = 0; k < ${type.length}; k++) printf("%02x", (unsigned)${lv}[k]);`, 'printf(" ");');
        return;
      case 'array': {
        const i = `i${this.#depth++}`;
        out.push(`for (int ${i} = 0; ${i} < ${type.length}; ${i}++) {`);
        this.print(type.element, `${lv}[${i}]`, out);
        out.push('}');
        this.#depth--;
        return;
      }
      case 'struct':
        for (const field of type.fields) this.print(field.type, this.member(lv, field.name), out);
        return;
      case 'union':
        out.push('switch (*(*cp)++) {');
        type.fields.forEach((field, i) => {
          out.push(`case ${i}: {`);
          this.print(field.type, this.member(lv, field.name), out);
          out.push('break; }');
        });
        out.push('default: exit(6);', '}');
        return;
      case 'bits':
        if (type.width === 0) return;
        if (type.signed) out.push(`printf("%lld ", (long long)(${lv}));`);
        else out.push(`printf("%llu ", (unsigned long long)(${lv}));`);
        return;
      case 'aligned':
        this.print(type.inner, lv, out);
    }
  }

  scan(type: FieldType, lv: string, out: string[]): void {
    switch (type.kind) {
      case 'int':
        if (type.signed) out.push(`{ long long t; need(scanf("%lld", &t)); ${lv} = (${cInt[type.name]})t; }`);
        else out.push(`{ unsigned long long t; need(scanf("%llu", &t)); ${lv} = (${cInt[type.name]})t; }`);
        return;
      case 'enum':
        this.scan(type.base, lv, out);
        return;
      case 'float':
        if (type.name === 'f32') {
          out.push(`{ unsigned t; float d; need(scanf("%x", &t)); uint32_t b = t; memcpy(&d, &b, 4); ${lv} = d; }`);
        } else {
          out.push(
            `{ unsigned long long t; double d; need(scanf("%llx", &t)); uint64_t b = t; memcpy(&d, &b, 8); ${lv} = d; }`,
          );
        }
        return;
      case 'bool':
        out.push(`{ int t; need(scanf("%d", &t)); ${lv} = t != 0; }`);
        return;
      case 'char':
      case 'bytes':
        out.push(
          `{ need(scanf("%8191s", token)); int n = token[0] == '-' ? 0 : (int)strlen(token) / 2; if (n > ${type.length}) exit(3);`,
          `for (int k = 0; k < n; k++) { unsigned b; sscanf(token + 2 * k, "%2x", &b); ${lv}[k] = (${type.kind === 'char' ? 'char' : 'uint8_t'})b; } }`,
        );
        return;
      case 'array': {
        const i = `i${this.#depth++}`;
        out.push(`for (int ${i} = 0; ${i} < ${type.length}; ${i}++) {`);
        this.scan(type.element, `${lv}[${i}]`, out);
        out.push('}');
        this.#depth--;
        return;
      }
      case 'struct':
        for (const field of type.fields) this.scan(field.type, this.member(lv, field.name), out);
        return;
      case 'union':
        out.push('{ int m; need(scanf("%d", &m)); switch (m) {');
        type.fields.forEach((field, i) => {
          out.push(`case ${i}: {`);
          this.scan(field.type, this.member(lv, field.name), out);
          out.push('break; }');
        });
        out.push('default: exit(6);', '} }');
        return;
      case 'bits':
        if (type.width === 0) return;
        if (type.signed) out.push(`{ long long t; need(scanf("%lld", &t)); ${lv} = t; }`);
        else out.push(`{ unsigned long long t; need(scanf("%llu", &t)); ${lv} = t; }`);
        return;
      case 'aligned':
        this.scan(type.inner, lv, out);
    }
  }
}

/** The header and the C program (as one source) for these root structs. */
export function cPeerSource(roots: readonly StructType[], options: PeerOptions = {}): string {
  const printer = new Printer(options.anonymous);
  const lines = [
    options.header ?? cHeader(roots, { guard: 'TYPED_IPC_TEST_PEER_H' }),
    '#include <stddef.h>',
    '#include <stdio.h>',
    '#include <stdlib.h>',
    '#include <string.h>',
    'static char token[8192];',
    'static void need(int got) { if (got != 1) { fprintf(stderr, "bad input\\n"); exit(4); } }',
  ];
  for (const root of roots) {
    const out: string[] = [];
    printer.print(root, '(*s)', out);
    lines.push(
      `static void print_${root.name}(const struct ${root.name} *s, const unsigned char **cp) {`,
      '(void)cp;',
      ...out,
      'printf("\\n");',
      '}',
    );
    const scans: string[] = [];
    printer.scan(root, '(*s)', scans);
    lines.push(`static void scan_${root.name}(struct ${root.name} *s) {`, ...scans, '}');
  }
  lines.push('int main(int argc, char **argv) {', 'if (argc < 2) return 2;', 'if (strcmp(argv[1], "layout") == 0) {');
  if (options.anonymous !== undefined) {
    // A real header: its nested anonymous types have no C name, so members are reached by path from the root.
    for (const root of roots) {
      lines.push(`printf("S ${root.name} %zu %zu\\n", sizeof(struct ${root.name}), _Alignof(struct ${root.name}));`);
      for (const [path, cPath] of memberPaths(root, options.anonymous)) {
        lines.push(`printf("F ${root.name} ${path} %zu\\n", offsetof(struct ${root.name}, ${cPath}));`);
      }
    }
  }
  for (const struct of options.anonymous === undefined ? allStructs(roots) : []) {
    const tag = `${struct.kind} ${struct.name}`;
    lines.push(
      `printf("S ${struct.name} %zu %zu\\n", sizeof(${tag}), _Alignof(${tag}));`,
      ...struct.fields
        .filter((field) => field.type.kind !== 'bits')
        .map((field) => `printf("F ${struct.name} ${field.name} %zu\\n", offsetof(${tag}, ${field.name}));`),
    );
  }
  lines.push('return 0;', '}', 'int count = argc > 2 ? atoi(argv[2]) : 1;', 'if (strcmp(argv[1], "read") == 0) {');
  for (const root of roots) {
    lines.push(
      `for (int c = 0; c < count; c++) { struct ${root.name} v; unsigned char ch[256]; const unsigned char *cp = ch; int n = getchar(); if (n < 0 || (n > 0 && fread(ch, 1, (size_t)n, stdin) != (size_t)n)) return 5; if (fread((void *)&v, sizeof v, 1, stdin) != 1) return 5; print_${root.name}(&v, &cp); }`,
    );
  }
  lines.push('return 0;', '}', 'if (strcmp(argv[1], "write") == 0) {');
  for (const root of roots) {
    lines.push(
      `for (int c = 0; c < count; c++) { struct ${root.name} v; memset((void *)&v, 0, sizeof v); scan_${root.name}(&v); fwrite((const void *)&v, sizeof v, 1, stdout); }`,
    );
  }
  lines.push('return 0;', '}', 'return 2;', '}', '');
  return lines.join('\n');
}

/** Every member below a struct that offsetof can name (no bitfields, no array elements): schema path, C path, offset. */
function memberPaths(type: CompositeShape, anonymous: RegExp, path: string[] = [], cPath: string[] = [], base = 0) {
  const out: [string, string, number][] = [];
  for (const field of type.fields) {
    if (field.type.kind === 'bits') continue;
    const here = [...path, field.name];
    // An anonymous member has no C name: its members are reached as if they were the parent's.
    const named = !anonymous.test(field.name);
    const c = named ? [...cPath, field.name] : cPath;
    const offset = base + field.offset;
    if (named) out.push([here.join('.'), c.join('.'), offset]);
    const inner = field.type.kind === 'aligned' ? field.type.inner : field.type;
    if (inner.kind === 'struct' || inner.kind === 'union') out.push(...memberPaths(inner, anonymous, here, c, offset));
  }
  return out;
}

/** The lines `layout` mode must print, from the library's own numbers. */
export function expectedLayout(roots: readonly StructType[], options: PeerOptions = {}): string[] {
  if (options.anonymous !== undefined) {
    const anonymous = options.anonymous;
    return roots.flatMap((root) => [
      `S ${root.name} ${root.size} ${root.align}`,
      ...memberPaths(root, anonymous).map(([path, , offset]) => `F ${root.name} ${path} ${offset}`),
    ]);
  }
  return allStructs(roots).flatMap((struct) => [
    `S ${struct.name} ${struct.size} ${struct.align}`,
    ...struct.fields
      .filter((field) => field.type.kind !== 'bits')
      .map((field) => `F ${struct.name} ${field.name} ${field.offset}`),
  ]);
}

/** The input of `read` mode: each value's union choices (a count byte, then one byte each), then its bytes. */
export function readInput(roots: readonly StructType[], values: readonly (readonly unknown[])[]): Buffer {
  return Buffer.concat(
    roots.flatMap((type, i) =>
      values[i]!.map((value) => {
        const choices: number[] = [];
        tokens(type, value, [], choices);
        return Buffer.concat([Buffer.from([choices.length, ...choices]), type.encode(value)]);
      }),
    ),
  );
}

/** The input of `write` mode: one token line per value, each union's member index before its tokens. */
export function writeInput(roots: readonly StructType[], values: readonly (readonly unknown[])[]): string {
  return roots.flatMap((type, i) => values[i]!.map((value) => tokens(type, value, [], 'inline').join(' '))).join('\n');
}
