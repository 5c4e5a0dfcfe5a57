/**
 * Running generated source: turns the `CodecSource` that `emit.ts` built into codec functions. The
 * source sees only two names, `runtime` (the helpers of `values.ts`) and `args` (the non-literal
 * values it refers to), never the module scope.
 */
import type { CompiledCodec } from './codec.js';
import { type CodecSource, emitStruct } from './emit.js';
import type { CompositeShape } from './types.js';
import { runtime } from './values.js';

/** Evaluates a codec's source and returns its functions. */
export function instantiate<T>(built: CodecSource): CompiledCodec<T> {
  const factory = new Function('runtime', 'args', built.source) as (
    helpers: typeof runtime,
    args: readonly unknown[],
  ) => Omit<CompiledCodec<T>, 'source'>;
  return { ...factory(runtime, built.args), source: built.source };
}

/** Generates, compiles and returns the codec functions of a struct or union. */
export function compileStruct<T>(type: CompositeShape<T>): CompiledCodec<T> {
  return instantiate<T>(emitStruct(type));
}
