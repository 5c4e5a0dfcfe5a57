/**
 * Code generation: builds the JavaScript source of a struct's codec (running it is `compile.ts`'s
 * step). A struct becomes straight-line DataView code with every offset a literal, which V8 compiles
 * to a few loads and stores per field. The statements of each field come from its kind module
 * (`kinds/`); this module owns the frame around them: argument checks, DataView caches, the encode
 * slab, the snapshot of checked leaves, padding.
 *
 * Safety rules: field names reaching the source passed `checkName` (C identifiers, never
 * `__proto__`/`constructor`/`prototype`) and are still written through `prop()`; strings and numbers
 * are written with `JSON.stringify`/`String` of validated integers; anything that is not a literal
 * (types for error messages, enum maps, helper functions) is passed in as an argument.
 */

import { type Emit, kindOf, type Offset, type Path } from './kinds/index.js';
import { int, pathExpr } from './kinds/kind.js';
import { paddingRanges } from './layout.js';
import type { CompositeShape, FieldType } from './types.js';
import { runtimeNames } from './values.js';

/** The source of a struct's codec and the non-literal values it refers to (`args[i]` is `k<i>`). */
export interface CodecSource {
  readonly source: string;
  readonly args: readonly unknown[];
}

/** Bytes per encode slab; structs above a quarter of it get a buffer of their own. */
const SLAB_SIZE = 16384;

class Emitter implements Emit {
  readonly args: unknown[] = [];
  readonly #argIndex = new Map<unknown, string>();
  #counter = 0;

  ref(value: unknown): string {
    let name = this.#argIndex.get(value);
    if (name === undefined) {
      name = `k${this.args.length}`;
      this.args.push(value);
      this.#argIndex.set(value, name);
    }
    return name;
  }

  local(prefix: string): string {
    this.#counter += 1;
    return `${prefix}${this.#counter}`;
  }

  fail(type: FieldType, x: string, path: Path): string {
    return `throw invalid(${pathExpr(path)}, ${this.ref(type)}, ${x});`;
  }

  keep(x: string, out: string[]): void {
    out.push(`s[k++] = ${x};`);
  }

  take(out: string[], release = false): string {
    const x = this.local('x');
    out.push(`const ${x} = s[k++];`);
    if (release) out.push('s[k - 1] = undefined;');
    return x;
  }

  loop<R>(body: () => R): R {
    return body();
  }

  check(type: FieldType, x: string, path: Path, out: string[]): void {
    kindOf(type).emitCheck(this, type, x, path, out);
  }

  write(type: FieldType, at: Offset, little: boolean, out: string[]): void {
    kindOf(type).emitWrite(this, type, at, little, out);
  }

  read(type: FieldType, at: Offset, little: boolean, path: Path, out: string[]): string {
    return kindOf(type).emitRead(this, type, at, little, path, out);
  }
}

/** The zeroing stores of a struct's padding bytes. */
function padding(type: CompositeShape, out: string[]): void {
  // A union zeroes its own bytes before writing the member (see kinds/union.ts).
  const ranges = type.kind === 'union' ? [] : paddingRanges(type.size, type.fields);
  if (ranges.length > 16) {
    // Many gaps (arrays of padded structs): one fill before the writes is cheaper than a store per gap.
    out.push(`u.fill(0, o, o + ${int(type.size)});`);
    return;
  }
  for (const [start, end] of ranges) {
    // Widest aligned-enough stores first: a 6-byte gap is one u16 and one u32 store, not six.
    let at = start;
    while (at < end) {
      const width = end - at >= 4 ? 4 : end - at >= 2 ? 2 : 1;
      if (width === 1) out.push(`u[o + ${int(at)}] = 0;`);
      else out.push(`dv.setUint${width * 8}(p + ${int(at)}, 0);`);
      at += width;
    }
  }
}

/** How many leaves (scalars, strings, byte arrays) a value of `type` has: the snapshot's length. */
function leafCount(type: FieldType): number {
  switch (type.kind) {
    case 'array':
      return type.length * leafCount(type.element);
    case 'struct':
      return type.fields.reduce((sum, field) => sum + leafCount(field.type), 0);
    case 'union':
      // The member index, then the largest member's leaves.
      return 1 + Math.max(...type.fields.map((field) => leafCount(field.type)));
    case 'aligned':
      return leafCount(type.inner);
    default:
      return 1;
  }
}

/** Builds the source of a struct's codec functions (`encode`, `encodeInto`, `decode`, `validate`). */
export function emitStruct(type: CompositeShape): CodecSource {
  const emitter = new Emitter();
  const self = emitter.ref(type);
  const size = int(type.size);
  const root: Offset = { terms: '', add: 0 };
  const little = type.endian === 'little';
  const checks: string[] = [];
  emitter.check(type, 'v', [type.name], checks);
  const writes: string[] = [];
  emitter.write(type, root, little, writes);
  const pads: string[] = [];
  padding(type, pads);
  const reads: string[] = [];
  const result = emitter.read(type, root, little, [type.name], reads);

  // Small messages come out of a per-codec slab (as Node's Buffer pool does): a view on an existing
  // ArrayBuffer costs a fraction of a fresh ArrayBuffer, and one DataView serves the whole slab.
  // Regions are never reused, so each message's bytes (and its zero padding) stay its own.
  const pooled = type.size <= SLAB_SIZE / 4;
  const stride = int(Math.ceil(type.size / 8) * 8);
  // encode and encodeInto take the value's leaves once, into the snapshot `snap` (see kinds/kind.ts).
  // A getter that encodes with this codec again while it is read gets a fresh snapshot.
  const snapshotTaken = ['const s = snapBusy ? [] : snap;', 'snapBusy = true;', 'try {'];
  const snapshotReleased = ['} finally {', 'if (s === snap) snapBusy = false;', '}'];
  const encode = pooled
    ? [
        'let slab = null;',
        'let slabView = null;',
        `let slabAt = ${SLAB_SIZE};`,
        'function encode(v) {',
        ...snapshotTaken,
        'check(v, s);',
        `if (slabAt + ${size} > ${SLAB_SIZE}) {`,
        `slab = new Uint8Array(${SLAB_SIZE});`,
        'slabView = new DataView(slab.buffer);',
        'slabAt = 0;',
        '}',
        'const o = slabAt;',
        `slabAt = o + ${stride};`,
        'write(s, slabView, slab, o, o);',
        `return slab.subarray(o, o + ${size});`,
        ...snapshotReleased,
        '}',
      ]
    : [
        'function encode(v) {',
        ...snapshotTaken,
        'check(v, s);',
        `const u = new Uint8Array(${size});`,
        'write(s, new DataView(u.buffer), u, 0, 0);',
        'return u;',
        ...snapshotReleased,
        '}',
      ];
  const source = [
    "'use strict';",
    `const { ${runtimeNames.join(', ')} } = runtime;`,
    `const [${emitter.args.map((_, i) => `k${i}`).join(', ')}] = args;`,
    '// One-entry caches: a channel encodes into and decodes from the same Uint8Array every time (a hit',
    '// costs one comparison), and the messages of a slab or a ring share one ArrayBuffer and so one',
    '// DataView (a new DataView costs more than encoding the sample).',
    'let targetBytes = null;',
    'let targetBuffer = null;',
    'let targetView = null;',
    'let targetBase = 0;',
    'let inputBytes = null;',
    'let inputBuffer = null;',
    'let inputView = null;',
    'let inputBase = 0;',
    `const snap = new Array(${int(leafCount(type))}).fill(undefined);`,
    'let snapBusy = false;',
    '// validate() only checks: its leaves go to an array nobody reads back.',
    `const validated = new Array(${int(leafCount(type))}).fill(undefined);`,
    'function check(v, s) {',
    'let k = 0;',
    ...checks,
    '}',
    'function write(s, dv, u, o, p) {',
    'let k = 0;',
    ...writes,
    '}',
    'function read(dv, u, o, p) {',
    ...reads,
    `return ${result};`,
    '}',
    ...encode,
    'function encodeInto(v, u, o = 0) {',
    // (o >>> 0) === o: a non-negative integer offset in one comparison (typeof first: BigInts throw on >>>).
    `if (!(u instanceof Uint8Array) || typeof o !== 'number' || o >>> 0 !== o || o + ${size} > u.length) throw targetError(${self}, u, o);`,
    ...snapshotTaken,
    'check(v, s);',
    'if (u !== targetBytes) {',
    'const b = u.buffer;',
    'if (b !== targetBuffer) {',
    'targetView = new DataView(b);',
    'targetBuffer = b;',
    '}',
    'targetBytes = u;',
    'targetBase = u.byteOffset;',
    '}',
    'const dv = targetView;',
    'const p = targetBase + o;',
    ...pads,
    'write(s, dv, u, o, p);',
    `return ${size};`,
    ...snapshotReleased,
    '}',
    'function decode(u, o) {',
    'if (o === undefined) {',
    `if (!(u instanceof Uint8Array) || u.length !== ${size}) throw inputError(${self}, u, o);`,
    'o = 0;',
    `} else if (!(u instanceof Uint8Array) || typeof o !== 'number' || o >>> 0 !== o || o + ${size} > u.length) throw inputError(${self}, u, o);`,
    'if (u !== inputBytes) {',
    'const b = u.buffer;',
    'if (b !== inputBuffer) {',
    'inputView = new DataView(b);',
    'inputBuffer = b;',
    '}',
    'inputBytes = u;',
    'inputBase = u.byteOffset;',
    '}',
    'return read(inputView, u, o, inputBase + o);',
    '}',
    'function validate(v) {',
    'check(v, validated);',
    'return v;',
    '}',
    'return { encode, encodeInto, decode, validate };',
  ].join('\n');
  return { source, args: emitter.args };
}
