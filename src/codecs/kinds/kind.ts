/**
 * What a type kind supplies to the codecs, and the code-string helpers its generated half uses.
 *
 * A kind (integers, floats, bool, char, bytes, enum, array, struct, aligned) lives in one module of
 * this folder and provides six functions: `emitCheck`, `emitWrite` and `emitRead` write the source
 * of the generated codec, `check`, `write` and `read` are their interpreted twin, walked over the
 * type tree at run time. Both halves follow the same rules and must give identical bytes, values and
 * errors (the differential test holds them to it). A kind recurses into the types it contains
 * through the `Emit` or `Walk` handed to it, never by importing another kind, so kinds stay
 * independent and `index.ts` is the one table that picks a kind module by `type.kind`.
 *
 * To add a kind: declare its type in `types.ts` (with `kind`, `size`, `align`), write its module
 * here implementing `Kind<ThatType>`, add it to the table in `index.ts`; layout (`layout.ts`),
 * messages (`values.ts`), validators and the C header take the new kind in their own switches.
 *
 * Rules every kind keeps:
 * - a check emitted inside a block of the kind's own goes through `Emit.block`, one inside a loop
 *   through `Emit.loop` (the emitter then keeps its leaves where write can still reach them).
 * - check reads the value once (the expression it is given is a local holding it), refuses with
 *   `invalid` (`Emit.fail`) before anything is written, and hands every leaf to `keep` in the order
 *   write will `take` them; write stores only what it takes, never reading the value again, so a
 *   getter or proxy that answers differently the second time cannot slip an unchecked value past.
 * - read refuses bytes the type cannot hold with a DecodeError naming the path.
 * - Names reaching the source go through `prop`/`key`, numbers through `int`; anything that is not a
 *   literal goes through `Emit.ref` and is passed in as an argument, never pasted into source.
 */
import { SchemaError } from '../../errors.js';
import type { FieldType } from '../types.js';

/** A path being built: literal text and loop index variables, rendered as a string expression. */
export type Path = readonly (string | { readonly index: string })[];

/**
 * An offset in generated code: loop terms (` + i3 * 8`) plus a constant folded at generation time,
 * relative to `o` (index into the Uint8Array `u`) or `p` (byte offset for the DataView `dv`, which
 * may span the whole ArrayBuffer so that one view serves every message in it).
 */
export interface Offset {
  readonly terms: string;
  readonly add: number;
}

/** What a kind's generated half is given: the emitter of one struct's codec source. */
export interface Emit {
  /** Registers a non-literal value (a type, a map) and returns the name the source refers to it by. */
  ref(value: unknown): string;
  /** A fresh local variable name. */
  local(prefix: string): string;
  /** The statement that refuses the value in `x` at `path` for `type`. */
  fail(type: FieldType, x: string, path: Path): string;
  /** Hands the checked leaf in `x` to write (in check order). */
  keep(x: string, out: string[]): void;
  /** The next checked leaf, as an expression; `release` lets the codec drop its reference once written. */
  take(out: string[], release?: boolean): string;
  /**
   * True while emitting the reads of a lending decoder or of `decodeViews`: the input is the decoder's
   * own copy of the message, or memory nothing writes again, so a `bytes(n)` field may be a view of it
   * instead of a copy (see `StructType.lending`, `MessageCodec.decodeViews`).
   */
  readonly lending: boolean;
  /**
   * Runs `body` emitting statements that the kind puts inside a block of its own (an `if`, a
   * `switch` case, a `try`), so that leaves kept there outlive the block's locals: a kind that
   * checks inside such a block must emit that check through `block`. (Loops use `loop`.)
   */
  block<R>(body: () => R): R;
  /** Runs `body` emitting a loop body: leaves kept there are stored per iteration. */
  loop<R>(body: () => R): R;
  /** Emits the check of a contained type. */
  check(type: FieldType, x: string, path: Path, out: string[]): void;
  /** Emits the stores of a contained type. */
  write(type: FieldType, at: Offset, little: boolean, out: string[]): void;
  /** Emits the reads of a contained type into `out` and returns the expression of its value. */
  read(type: FieldType, at: Offset, little: boolean, path: Path, out: string[]): string;
}

/** The checked leaves of one interpreted encode, and where write is in them. */
export interface Snapshot {
  readonly leaves: unknown[];
  k: number;
}

/** What a kind's interpreted half is given: the walk over contained types. */
export interface Walk {
  /** As `Emit.lending`: `u` is the lending decoder's own copy of the message, or `decodeViews`' input. */
  readonly lending: boolean;
  check(type: FieldType, x: unknown, path: string, snap: unknown[]): void;
  write(type: FieldType, snap: Snapshot, dv: DataView, u: Uint8Array, o: number, little: boolean): void;
  read(type: FieldType, dv: DataView, u: Uint8Array, o: number, little: boolean, path: string): unknown;
}

/** One type kind's check, write and read, generated and interpreted. */
export interface Kind<T extends FieldType> {
  /** Emits statements into `out` that refuse a bad value in `x` and `keep` its leaves. */
  emitCheck(e: Emit, type: T, x: string, path: Path, out: string[]): void;
  /** Emits the stores of the leaves that emitCheck kept, at `at`. */
  emitWrite(e: Emit, type: T, at: Offset, little: boolean, out: string[]): void;
  /** Emits statements into `out` and returns the expression of the decoded value. */
  emitRead(e: Emit, type: T, at: Offset, little: boolean, path: Path, out: string[]): string;
  /** Refuses a bad `x` (ValidationError via `invalid`), pushing its leaves onto `snap`. */
  check(w: Walk, type: T, x: unknown, path: string, snap: unknown[]): void;
  /** Stores the next leaves of `snap` at `o`. */
  write(w: Walk, type: T, snap: Snapshot, dv: DataView, u: Uint8Array, o: number, little: boolean): void;
  /** Decodes a value at `o`. */
  read(w: Walk, type: T, dv: DataView, u: Uint8Array, o: number, little: boolean, path: string): unknown;
}

const identifier = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** A property access that is safe whatever the name: `.name` for identifiers, `["..."]` otherwise. */
export function prop(name: string): string {
  if (name === '__proto__' || name === 'constructor' || name === 'prototype') {
    throw new SchemaError(`refusing to generate code for the property ${JSON.stringify(name)}`);
  }
  return identifier.test(name) ? `.${name}` : `[${JSON.stringify(name)}]`;
}

/** An object-literal key that is safe whatever the name. */
export function key(name: string): string {
  prop(name);
  return identifier.test(name) ? name : JSON.stringify(name);
}

/** A validated integer as a source literal. */
export function int(n: number): string {
  if (!Number.isSafeInteger(n)) throw new SchemaError(`internal: ${n} is not a safe integer literal`);
  return String(n);
}

/** The string expression of a path, e.g. `"sample.points[" + i1 + "].x"`. */
export function pathExpr(path: Path): string {
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

/** The index into `u` of an offset (plus `extra`). */
export function at(offset: Offset, extra = 0): string {
  const n = offset.add + extra;
  return `o${offset.terms}${n === 0 ? '' : ` + ${int(n)}`}`;
}

/** The DataView byte offset of an offset. */
export function dvAt(offset: Offset): string {
  return `p${offset.terms}${offset.add === 0 ? '' : ` + ${int(offset.add)}`}`;
}

/** The offset of element `index` (a loop variable) of an array with this stride. */
export function element(offset: Offset, index: string, stride: number): Offset {
  return { terms: `${offset.terms} + ${index} * ${int(stride)}`, add: offset.add };
}

/** The offset `add` bytes further. */
export function shifted(offset: Offset, add: number): Offset {
  return { terms: offset.terms, add: offset.add + add };
}

/** `true`/`false` for the little-endian argument of DataView calls. */
export function littleArg(little: boolean): string {
  return little ? 'true' : 'false';
}
