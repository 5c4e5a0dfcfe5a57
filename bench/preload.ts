/**
 * Preloads (`node --import`) that a bench run gives every Node process it spawns, through
 * NODE_OPTIONS: the built library's redirect (bench/built-library.mjs) and `--app-heap`'s heap
 * (bench/app-heap.mjs).
 */
import { pathToFileURL } from 'node:url';

/** Imports the module at path `file` here, and adds it to NODE_OPTIONS for every process spawned from here. */
export async function preloadEverywhere(file: string): Promise<void> {
  const preload = pathToFileURL(file).href;
  process.env.NODE_OPTIONS = [process.env.NODE_OPTIONS, `--import=${preload}`].filter(Boolean).join(' ');
  await import(preload);
}

/** NODE_OPTIONS without the `--import` of the preload whose file name is `file`. */
export function withoutPreload(options: string | undefined, file: string): string {
  return (options ?? '')
    .split(' ')
    .filter((option) => !(option.startsWith('--import=') && option.endsWith(`/${file}`)))
    .join(' ');
}
