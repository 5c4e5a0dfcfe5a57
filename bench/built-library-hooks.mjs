/**
 * Module hooks of bench/built-library.mjs: a module of the repository's src/ or schemas/ that resolves
 * to its TypeScript source is loaded from the compiled build instead (`initialize` gets the repository
 * root and the build directory, as file URLs ending in '/').
 */
let sourceRoot = '';
let buildRoot = '';

export function initialize(data) {
  sourceRoot = data.sourceRoot;
  buildRoot = data.buildRoot;
}

const compiled = (url) =>
  url.endsWith('.ts') && (url.startsWith(`${sourceRoot}src/`) || url.startsWith(`${sourceRoot}schemas/`));

export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  if (!compiled(resolved.url)) return resolved;
  return { ...resolved, url: `${buildRoot}${resolved.url.slice(sourceRoot.length, -3)}.js`, format: 'module' };
}
