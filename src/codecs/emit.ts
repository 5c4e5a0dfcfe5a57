/**
 * Code generation: the one module that builds JavaScript source. A struct becomes straight-line
 * DataView code with every offset a literal, which V8 compiles to a few loads and stores per field.
 *
 * Safety rules: field names reaching the source passed `checkName` (C identifiers, never
 * `__proto__`/`constructor`/`prototype`) and are still written through `prop()`; strings and numbers
 * are written with `JSON.stringify`/`String` of validated integers; anything that is not a literal
 * (types for error messages, enum maps, helper functions) is passed in as an argument.
 */
import { SchemaError } from '../errors.js';
import { paddingRanges } from './layout.js';
import type { FieldType, IntType, StructShape } from './types.js';
import { F32_OVERFLOW, runtime } from './values.js';

/** The functions compiled for one struct. */
export interface CompiledCodec<T> {
  encode(value: T): Uint8Array;
  encodeInto(value: T, target: Uint8Array, offset?: number): number;
  decode(bytes: Uint8Array, offset?: number): T;
  validate(value: unknown): T;
  /** The generated source, for debugging. */
  readonly source: string;
}

/** Bytes per encode slab; structs above a quarter of it get a buffer of their own. */
const SLAB_SIZE = 16384;

const identifier = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** A property access that is safe whatever the name: `.name` for identifiers, `["..."]` otherwise. */
function prop(name: string): string {
  if (name === '__proto__' || name === 'constructor' || name === 'prototype') {
    throw new SchemaError(`refusing to generate code for the property ${JSON.stringify(name)}`);
  }
  return identifier.test(name) ? `.${name}` : `[${JSON.stringify(name)}]`;
}

/** An object-literal key that is safe whatever the name. */
function key(name: string): string {
  prop(name);
  return identifier.test(name) ? name : JSON.stringify(name);
}

/** A validated integer as a source literal. */
function int(n: number): string {
  if (!Number.isSafeInteger(n)) throw new SchemaError(`internal: ${n} is not a safe integer literal`);
  return String(n);
}

/** A path being built: literal text and loop index variables, rendered as a string expression. */
type Path = readonly (string | { readonly index: string })[];

function pathExpr(path: Path): string {
  const parts: string[] = [];
  let text = '';
  for (const part of path) {
    if (typeof part === 'string') text += part;
    else {
      parts.push(JSON.stringify(`${text}[`), part.index);
      text = ']';
    }
  }
  parts.push(JSON.stringify(text));
  return parts.join(' + ');
}

/**
 * An offset: loop terms (` + i3 * 8`) plus a constant folded at generation time, relative to `o`
 * (index into the Uint8Array `u`) or `p` (byte offset for the DataView `dv`, which may span the
 * whole ArrayBuffer so that one view serves every message in it).
 */
interface Offset {
  readonly terms: string;
  readonly add: number;
}

/** The index into `u` of an offset (plus `extra`). */
function at(offset: Offset, extra = 0): string {
  const n = offset.add + extra;
  return `o${offset.terms}${n === 0 ? '' : ` + ${int(n)}`}`;
}

/** The DataView byte offset of an offset. */
function dvAt(offset: Offset): string {
  return `p${offset.terms}${offset.add === 0 ? '' : ` + ${int(offset.add)}`}`;
}

function element(offset: Offset, index: string, stride: number): Offset {
  return { terms: `${offset.terms} + ${index} * ${int(stride)}`, add: offset.add };
}

const setters = {
  u16: 'Uint16',
  u32: 'Uint32',
  u64: 'BigUint64',
  i8: 'Int8',
  i16: 'Int16',
  i32: 'Int32',
  i64: 'BigInt64',
};

class Emitter {
  readonly args: unknown[] = [];
  readonly #argIndex = new Map<unknown, string>();
  #counter = 0;

  /** Registers a non-literal value and returns the name the source refers to it by. */
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

  check(type: FieldType, x: string, path: Path, out: string[]): void {
    const fail = `throw invalid(${pathExpr(path)}, ${this.ref(type)}, ${x});`;
    switch (type.kind) {
      case 'int': {
        if (type.big) {
          // asUintN/asIntN plus one equality: about half the cost of two BigInt range comparisons.
          const wrap = type.signed ? 'asIntN' : 'asUintN';
          out.push(`if (typeof ${x} !== 'bigint' || BigInt.${wrap}(64, ${x}) !== ${x}) ${fail}`, `s[k++] = ${x};`);
          return;
        }
        // Integer-ness and range in one comparison: the coercion changes every out-of-range,
        // fractional or NaN value (NaN !== anything), and leaves valid ones equal.
        const coerce = {
          u8: `(${x} & 255)`,
          u16: `(${x} & 65535)`,
          u32: `(${x} >>> 0)`,
          i8: `(${x} << 24 >> 24)`,
          i16: `(${x} << 16 >> 16)`,
          i32: `(${x} | 0)`,
        }[type.name as 'u8' | 'u16' | 'u32' | 'i8' | 'i16' | 'i32'];
        out.push(`if (typeof ${x} !== 'number' || ${coerce} !== ${x}) ${fail}`, `s[k++] = ${x};`);
        return;
      }
      case 'float':
        if (type.name === 'f64') out.push(`if (typeof ${x} !== 'number') ${fail}`);
        // A finite number beyond f32's range would silently become Infinity.
        else
          out.push(
            `if (typeof ${x} !== 'number' || (Math.abs(${x}) >= ${F32_OVERFLOW} && Math.abs(${x}) !== Infinity)) ${fail}`,
          );
        out.push(`s[k++] = ${x};`);
        return;
      case 'bool':
        out.push(`if (typeof ${x} !== 'boolean') ${fail}`, `s[k++] = ${x};`);
        return;
      case 'char':
        out.push(`if (typeof ${x} !== 'string' || !charFits(${x}, ${int(type.length)})) ${fail}`, `s[k++] = ${x};`);
        return;
      case 'bytes':
        out.push(`if (bytesLength(${x}) !== ${int(type.length)}) ${fail}`, `s[k++] = ${x};`);
        return;
      case 'enum': {
        const values = this.ref(type.values);
        const base = type.base;
        const known = `(typeof ${x} === 'string' && ${values}.has(${x}))`;
        if (type.allowUnknown) {
          out.push(
            `if (!${known} && (typeof ${x} !== 'number' || !Number.isInteger(${x}) || ${x} < ${base.min} || ${x} > ${base.max})) ${fail}`,
          );
        } else out.push(`if (!${known}) ${fail}`);
        out.push(`s[k++] = ${x};`);
        return;
      }
      case 'array': {
        out.push(`if (!Array.isArray(${x}) || ${x}.length !== ${int(type.length)}) ${fail}`);
        const i = this.local('i');
        const e = this.local('e');
        const body: string[] = [];
        this.check(type.element, e, [...path, { index: i }], body);
        out.push(`for (let ${i} = 0; ${i} < ${int(type.length)}; ${i}++) {`, `const ${e} = ${x}[${i}];`, ...body, '}');
        return;
      }
      case 'struct':
        out.push(`if (typeof ${x} !== 'object' || ${x} === null) ${fail}`);
        for (const field of type.fields) {
          const f = this.local('f');
          out.push(`const ${f} = ${x}${prop(field.name)};`);
          this.check(field.type, f, [...path, `.${field.name}`], out);
        }
        return;
      case 'aligned':
        this.check(type.inner, x, path, out);
        return;
    }
  }

  /**
   * Emits the stores of a value that `check` accepted. It reads nothing from the value itself: every
   * leaf comes from the snapshot `s` that check filled in the same order, so a getter or proxy that
   * answers differently the second time cannot slip an unchecked value past the checks.
   */
  write(type: FieldType, offset: Offset, little: boolean, out: string[]): void {
    const le = little ? 'true' : 'false';
    const leaf = (): string => {
      const x = this.local('x');
      out.push(`const ${x} = s[k++];`);
      return x;
    };
    switch (type.kind) {
      case 'int':
        this.store(type, leaf(), offset, little, out);
        return;
      case 'float':
        out.push(`dv.setFloat${type.name === 'f32' ? 32 : 64}(${dvAt(offset)}, ${leaf()}, ${le});`);
        return;
      case 'bool':
        out.push(`u[${at(offset)}] = ${leaf()} ? 1 : 0;`);
        return;
      case 'char':
        out.push(`writeChar(u, ${at(offset)}, ${leaf()}, ${int(type.length)});`);
        return;
      case 'bytes':
        // The snapshot lets go of the caller's array once it is copied.
        out.push(`u.set(${leaf()}, ${at(offset)});`, 's[k - 1] = undefined;');
        return;
      case 'enum': {
        const x = leaf();
        const values = this.ref(type.values);
        const n = this.local('n');
        out.push(`const ${n} = typeof ${x} === 'string' ? ${values}.get(${x}) : ${x};`);
        this.store(type.base, n, offset, little, out);
        return;
      }
      case 'array': {
        const i = this.local('i');
        const body: string[] = [];
        const stride = type.element.size;
        this.write(type.element, element(offset, i, stride), little, body);
        out.push(`for (let ${i} = 0; ${i} < ${int(type.length)}; ${i}++) {`, ...body, '}');
        return;
      }
      case 'struct': {
        const nestedLittle = type.endian === 'little';
        for (const field of type.fields) {
          this.write(field.type, { terms: offset.terms, add: offset.add + field.offset }, nestedLittle, out);
        }
        return;
      }
      case 'aligned':
        this.write(type.inner, offset, little, out);
        return;
    }
  }

  /** The store of an integer (an int field, or an enum's number in its base type). */
  store(type: IntType, x: string, offset: Offset, little: boolean, out: string[]): void {
    const le = little ? 'true' : 'false';
    if (type.name === 'u8') out.push(`u[${at(offset)}] = ${x};`);
    else out.push(`dv.set${setters[type.name]}(${dvAt(offset)}, ${x}${type.size > 1 ? `, ${le}` : ''});`);
  }

  /** Emits statements into `out` and returns the expression of the decoded value. */
  read(type: FieldType, offset: Offset, little: boolean, path: Path, out: string[]): string {
    const le = little ? 'true' : 'false';
    switch (type.kind) {
      case 'int':
        if (type.name === 'u8') return `u[${at(offset)}]`;
        return `dv.get${setters[type.name]}(${dvAt(offset)}${type.size > 1 ? `, ${le}` : ''})`;
      case 'float':
        return `dv.getFloat${type.name === 'f32' ? 32 : 64}(${dvAt(offset)}, ${le})`;
      case 'bool': {
        const b = this.local('b');
        out.push(`const ${b} = u[${at(offset)}];`, `if (${b} > 1) throw badBool(${pathExpr(path)}, ${b});`);
        return `${b} === 1`;
      }
      case 'char': {
        const s = this.local('s');
        out.push(
          `const ${s} = readChar(u, ${at(offset)}, ${int(type.length)});`,
          `if (${s} === undefined) throw badChar(${pathExpr(path)}, ${int(type.length)});`,
        );
        return s;
      }
      case 'bytes':
        return `copyBytes(u, ${at(offset)}, ${int(type.length)})`;
      case 'enum': {
        const n = this.local('n');
        const s = this.local('s');
        out.push(
          `const ${n} = ${this.read(type.base, offset, little, path, out)};`,
          `const ${s} = ${this.ref(type.names)}.get(${n});`,
        );
        if (type.allowUnknown) return `(${s} === undefined ? ${n} : ${s})`;
        out.push(`if (${s} === undefined) throw unknownEnum(${pathExpr(path)}, ${this.ref(type)}, ${n});`);
        return s;
      }
      case 'array': {
        const a = this.local('a');
        const i = this.local('i');
        const body: string[] = [];
        const stride = type.element.size;
        const item = this.read(type.element, element(offset, i, stride), little, [...path, { index: i }], body);
        out.push(
          `const ${a} = [];`,
          `for (let ${i} = 0; ${i} < ${int(type.length)}; ${i}++) {`,
          ...body,
          `${a}.push(${item});`,
          '}',
        );
        return a;
      }
      case 'struct': {
        const nestedLittle = type.endian === 'little';
        const props = type.fields.map((field) => {
          const value = this.read(
            field.type,
            { terms: offset.terms, add: offset.add + field.offset },
            nestedLittle,
            [...path, `.${field.name}`],
            out,
          );
          return `${key(field.name)}: ${value}`;
        });
        return `{ ${props.join(', ')} }`;
      }
      case 'aligned':
        return this.read(type.inner, offset, little, path, out);
    }
  }

  padding(type: StructShape, out: string[]): void {
    const ranges = paddingRanges(type.size, type.fields);
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
}

/** How many leaves (scalars, strings, byte arrays) a value of `type` has: the snapshot's length. */
function leafCount(type: FieldType): number {
  switch (type.kind) {
    case 'array':
      return type.length * leafCount(type.element);
    case 'struct':
      return type.fields.reduce((sum, field) => sum + leafCount(field.type), 0);
    case 'aligned':
      return leafCount(type.inner);
    default:
      return 1;
  }
}

/** Generates, compiles and returns the codec functions of a struct. */
export function compileStruct<T>(type: StructShape<T>): CompiledCodec<T> {
  const emitter = new Emitter();
  const self = emitter.ref(type);
  const size = int(type.size);
  const checks: string[] = [];
  emitter.check(type, 'v', [type.name], checks);
  const writes: string[] = [];
  emitter.write(type, { terms: '', add: 0 }, type.endian === 'little', writes);
  const pads: string[] = [];
  emitter.padding(type, pads);
  const reads: string[] = [];
  const result = emitter.read(type, { terms: '', add: 0 }, type.endian === 'little', [type.name], reads);

  // Small messages come out of a per-codec slab (as Node's Buffer pool does): a view on an existing
  // ArrayBuffer costs a fraction of a fresh ArrayBuffer, and one DataView serves the whole slab.
  // Regions are never reused, so each message's bytes (and its zero padding) stay its own.
  const pooled = type.size <= SLAB_SIZE / 4;
  const stride = int(Math.ceil(type.size / 8) * 8);
  // encode and encodeInto take the value's leaves once, into the snapshot `snap` (see Emitter.write).
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
    'const { invalid, unknownEnum, badBool, badChar, charFits, bytesLength, copyBytes, writeChar, readChar, targetError, inputError } = runtime;',
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
  const factory = new Function('runtime', 'args', source) as (
    helpers: typeof runtime,
    args: unknown[],
  ) => Omit<CompiledCodec<T>, 'source'>;
  return { ...factory(runtime, emitter.args), source };
}
