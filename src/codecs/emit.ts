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

import { SchemaError } from '../errors.js';
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
  /** Loop bodies being emitted around the current statement. */
  #depth = 0;
  /** Leaves checked outside loops, by the name of the local holding them, in check order. */
  readonly #kept: string[] = [];
  #taken = 0;
  /** Blocks (other than loops) being emitted around the current statement. */
  #blocks = 0;
  /** Function-scope variables holding leaves kept inside blocks. */
  readonly #slots: string[] = [];
  /** False while emitting validate(): it checks only, and keeps nothing. */
  keeping = true;
  lending = false;
  /** True once a leaf inside a loop went through the snapshot `s`. */
  usesSnapshot = false;

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

  // Outside loops and blocks a checked leaf stays in the local check read it into, and write uses
  // that local: no array, no allocation, no copy. Inside a block (a kind's if, switch case or try:
  // `block()`) that local is gone by the time write runs, so the leaf is copied into a variable of
  // the function's own scope (declared by `slots()` before the checks). Inside a loop one variable
  // cannot hold every iteration's leaf, so the leaf goes to the snapshot `s`, which write walks in
  // the same order.
  keep(x: string, out: string[]): void {
    if (!this.keeping) return;
    if (this.#depth > 0) {
      out.push(`s[k++] = ${x};`);
      this.usesSnapshot = true;
    } else if (this.#blocks > 0) {
      const slot = this.local('x');
      this.#slots.push(slot);
      this.#kept.push(slot);
      out.push(`${slot} = ${x};`);
    } else this.#kept.push(x);
  }

  /** The declaration of the variables that keep() copied leaves into (empty when there are none). */
  slots(): string[] {
    return this.#slots.length === 0 ? [] : [`let ${this.#slots.join(', ')};`];
  }

  take(out: string[], release = false): string {
    if (this.#depth === 0) {
      const x = this.#kept[this.#taken++];
      if (x === undefined) throw new SchemaError('internal: a kind wrote a leaf its check did not keep');
      return x;
    }
    const x = this.local('x');
    out.push(`const ${x} = s[k++];`);
    // The reused snapshot lets go of the caller's object once it is written.
    if (release) out.push('s[k - 1] = undefined;');
    return x;
  }

  /** Throws unless write took every leaf check kept (a kind module whose halves disagree). */
  allTaken(): void {
    if (this.#taken !== this.#kept.length) throw new SchemaError('internal: a kind kept a leaf its write never took');
  }

  block<R>(body: () => R): R {
    this.#blocks += 1;
    try {
      return body();
    } finally {
      this.#blocks -= 1;
    }
  }

  loop<R>(body: () => R): R {
    this.#depth += 1;
    try {
      return body();
    } finally {
      this.#depth -= 1;
    }
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
  // Padding is zeroed on every encode (C peers see the bytes; the target may hold anything).
  // Measured in the codec bench (2026-12-08): the sample's two padding stores are 10-20% of
  // encodeInto+decode, more than its whole validation (~6%); folding the gap into the channel's
  // store (two u32 stores where the u16 field and a u32 and a u16 of padding were) gained 1-2%,
  // which did not pay for a special case.
  for (const [start, end] of ranges) {
    // Widest aligned-enough stores first: a 6-byte gap is one u32 and one u16 store, not six.
    let at = start;
    while (at < end) {
      const width = end - at >= 4 ? 4 : end - at >= 2 ? 2 : 1;
      if (width === 1) out.push(`u[o + ${int(at)}] = 0;`);
      else out.push(`dv.setUint${width * 8}(p + ${int(at)}, 0);`);
      at += width;
    }
  }
}

/** Builds the source of a struct's or union's codec functions (`encode`, `encodeInto`, `decode`, `decodeViews`, `validate`, `lendingDecoder`). */
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
  emitter.allTaken();
  emitter.keeping = false;
  const validation: string[] = [];
  emitter.check(type, 'v', [type.name], validation);
  const pads: string[] = [];
  padding(type, pads);
  const reads: string[] = [];
  const result = emitter.read(type, root, little, [type.name], reads);
  emitter.lending = true;
  const lendingReads: string[] = [];
  const lendingResult = emitter.read(type, root, little, [type.name], lendingReads);

  // Checks, then stores, in one function: every leaf is read once into a local, checked, and the
  // stores use those locals, so what was checked is what is written, and nothing is written before
  // every check passed. Leaves inside arrays go through the snapshot `snap`; a getter that encodes
  // with this codec again while it is read gets a fresh one.
  // Decode input: exactly `size` bytes without an offset (which becomes 0), `size` bytes at one.
  const inputChecks = (u: string, o: string) => [
    `if (${o} === undefined) {`,
    `if (!(${u} instanceof Uint8Array) || ${u}.length !== ${size}) throw inputError(${self}, ${u}, ${o});`,
    `${o} = 0;`,
    `} else if (!(${u} instanceof Uint8Array) || typeof ${o} !== 'number' || ${o} >>> 0 !== ${o} || ${o} + ${size} > ${u}.length) throw inputError(${self}, ${u}, ${o});`,
  ];
  // A decoder over the caller's input (`decode`, `decodeViews`): the input's DataView comes from the
  // one-entry cache, then `reads` build `result`.
  const inputDecoder = (name: string, reads: readonly string[], result: string) => [
    `function ${name}(u, o) {`,
    ...inputChecks('u', 'o'),
    'if (u !== inputBytes) {',
    'const b = u.buffer;',
    'if (b !== inputBuffer) {',
    'inputView = new DataView(b);',
    'inputBuffer = b;',
    '}',
    'inputBytes = u;',
    'inputBase = u.byteOffset;',
    '}',
    'const dv = inputView;',
    'const p = inputBase + o;',
    ...reads,
    `return ${result};`,
    '}',
  ];
  const snapshot = emitter.usesSnapshot;
  const slots = emitter.slots();
  const taken = snapshot ? ['const s = snapBusy ? [] : snap;', 'snapBusy = true;', 'try {', 'let k = 0;'] : [];
  const released = snapshot ? ['} finally {', 'if (s === snap) snapBusy = false;', '}'] : [];
  const writing = snapshot ? ['k = 0;', ...writes] : writes;
  // Small messages come out of a per-codec slab (as Node's Buffer pool does): a view on an existing
  // ArrayBuffer costs a fraction of a fresh ArrayBuffer, and one DataView serves the whole slab.
  // Regions are never reused, so each message's bytes (and its zero padding) stay its own.
  const pooled = type.size <= SLAB_SIZE / 4;
  const stride = int(Math.ceil(type.size / 8) * 8);
  const encode = pooled
    ? [
        'let slab = null;',
        'let slabView = null;',
        `let slabAt = ${SLAB_SIZE};`,
        'function encode(v) {',
        ...slots,
        ...taken,
        ...checks,
        `if (slabAt + ${size} > ${SLAB_SIZE}) {`,
        `slab = new Uint8Array(${SLAB_SIZE});`,
        'slabView = new DataView(slab.buffer);',
        'slabAt = 0;',
        '}',
        'const u = slab;',
        'const dv = slabView;',
        'const o = slabAt;',
        'const p = o;',
        `slabAt = o + ${stride};`,
        ...writing,
        `return u.subarray(o, o + ${size});`,
        ...released,
        '}',
      ]
    : [
        'function encode(v) {',
        ...slots,
        ...taken,
        ...checks,
        `const u = new Uint8Array(${size});`,
        'const dv = new DataView(u.buffer);',
        'const o = 0;',
        'const p = 0;',
        ...writing,
        'return u;',
        ...released,
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
    ...(snapshot ? ['const snap = [];', 'let snapBusy = false;'] : []),
    ...encode,
    'function encodeInto(v, u, o = 0) {',
    // (o >>> 0) === o: a non-negative integer offset in one comparison (typeof first: BigInts throw on >>>).
    `if (!(u instanceof Uint8Array) || typeof o !== 'number' || o >>> 0 !== o || o + ${size} > u.length) throw targetError(${self}, u, o);`,
    ...slots,
    ...taken,
    ...checks,
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
    ...writing,
    `return ${size};`,
    ...released,
    '}',
    ...inputDecoder('decode', reads, result),
    '// decodeViews is decode with the reads of a lending decoder: bytes(n) fields are views of the input',
    '// itself, for input that nothing writes again (MessageCodec.decodeViews).',
    ...inputDecoder('decodeViews', lendingReads, lendingResult),
    '// A lending decoder copies each message into the next of its `slots` regions and decodes from',
    '// there: bytes(n) fields are views of that copy, valid until the region comes round again.',
    'function lendingDecoder(slots) {',
    `const own = new Uint8Array(slots * ${size});`,
    'const ownView = new DataView(own.buffer);',
    'let slot = 0;',
    'return function decode(input, at) {',
    ...inputChecks('input', 'at'),
    `const o = slot * ${size};`,
    'slot = slot + 1 === slots ? 0 : slot + 1;',
    `own.set(at === 0 && input.length === ${size} ? input : input.subarray(at, at + ${size}), o);`,
    'const u = own;',
    'const dv = ownView;',
    'const p = o;',
    ...lendingReads,
    `return ${lendingResult};`,
    '};',
    '}',
    '// validate() checks only: it keeps no leaf, so it holds no reference to the value it saw.',
    'function validate(v) {',
    ...validation,
    'return v;',
    '}',
    'return { encode, encodeInto, decode, decodeViews, validate, lendingDecoder };',
  ].join('\n');
  return { source, args: emitter.args };
}
