/**
 * `--schema <module>#<export>`: loads a codec (a `struct(...)` type or a msgpack codec) from a user
 * module. JavaScript modules are imported as they are; TypeScript modules go through tsx when it is
 * installed (as in a checkout of this repository), so `typed-ipc` works on `.ts` schemas in development.
 */
import { existsSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { MessageCodec } from '../codecs/index.js';
import { UsageError } from './args.js';

const typeScriptExtensions = new Set(['.ts', '.mts', '.cts', '.tsx']);

/** `label: ` in front of a message, or nothing for an empty label (the argument speaks for itself). */
function labelled(label: string, message: string): string {
  return label.length === 0 ? message : `${label}: ${message}`;
}

/** Splits `module#export` (the export defaults to `default`). */
export function parseSchemaSpec(spec: string, label = '--schema'): { module: string; exportName: string } {
  const hash = spec.lastIndexOf('#');
  const module = hash < 0 ? spec : spec.slice(0, hash);
  const exportName = hash < 0 ? 'default' : spec.slice(hash + 1);
  if (module.length === 0 || exportName.length === 0) {
    const what = label.length === 0 ? 'expected' : `${label} expects`;
    throw new UsageError(`${what} <module>#<export> (e.g. ./schemas/sample.ts#Sample), got ${JSON.stringify(spec)}`);
  }
  return { module, exportName };
}

/** Whether a value implements the MessageCodec contract (checked by shape: the module may hold its own copy). */
export function isCodec(value: unknown): value is MessageCodec<unknown> {
  const codec = value as Partial<MessageCodec<unknown>> | null;
  return (
    (typeof codec === 'object' || typeof codec === 'function') &&
    codec !== null &&
    typeof codec.name === 'string' &&
    typeof codec.size === 'number' &&
    typeof codec.fixedSize === 'boolean' &&
    typeof codec.encode === 'function' &&
    typeof codec.encodeInto === 'function' &&
    typeof codec.decode === 'function' &&
    typeof codec.validate === 'function'
  );
}

/** Imports a module by path (relative to the working directory) or package name; `what` labels its errors. */
export async function importModule(module: string, what = '--schema'): Promise<Record<string, unknown>> {
  const path = resolve(module);
  const isFile = existsSync(path);
  if (!isFile && (module.startsWith('.') || module.startsWith('/'))) {
    throw new UsageError(labelled(what, `no such module ${JSON.stringify(module)} (looked for ${path})`));
  }
  const specifier = isFile ? pathToFileURL(path).href : module;
  try {
    return (await import(specifier)) as Record<string, unknown>;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ERR_UNKNOWN_FILE_EXTENSION' && typeScriptExtensions.has(extname(path))) {
      return importTypeScript(specifier, what);
    }
    if (code === 'ERR_MODULE_NOT_FOUND' && !isFile && (error as Error).message.includes(`'${module}'`)) {
      throw new UsageError(labelled(what, `cannot find module ${JSON.stringify(module)} (not a file, not a package)`));
    }
    throw new UsageError(labelled(what, `loading ${module} failed: ${firstLine(error)}`));
  }
}

async function importTypeScript(specifier: string, what: string): Promise<Record<string, unknown>> {
  let tsImport: (specifier: string, parent: string) => Promise<unknown>;
  try {
    ({ tsImport } = (await import('tsx/esm/api')) as { tsImport: typeof tsImport });
  } catch {
    throw new UsageError(
      labelled(
        what,
        `${specifier} is TypeScript and tsx is not installed; install it (npm i -D tsx) or use compiled JavaScript`,
      ),
    );
  }
  try {
    return (await tsImport(specifier, import.meta.url)) as Record<string, unknown>;
  } catch (error) {
    throw new UsageError(labelled(what, `loading ${specifier} failed: ${firstLine(error)}`));
  }
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!;
}

/** Loads the codec named by `module#export`; `label` (the option it came from, '' for none) leads its errors. */
export async function loadCodec(spec: string, label = '--schema'): Promise<MessageCodec<unknown>> {
  const { module, exportName } = parseSchemaSpec(spec, label);
  const exports = await importModule(module, label);
  const value = exports[exportName];
  if (isCodec(value)) return value;
  const codecs = Object.keys(exports).filter((name) => isCodec(exports[name]));
  const offered = codecs.length === 0 ? 'it exports no codec' : `its codecs: ${codecs.join(', ')}`;
  const what = value === undefined ? `has no export ${JSON.stringify(exportName)}` : `${exportName} is not a codec`;
  throw new UsageError(labelled(label, `${module} ${what} (a struct(...) type or msgpack codec); ${offered}`));
}
