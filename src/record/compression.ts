/**
 * Chunk compression for MCAP files, with no native module: zstd from a wasm build (@foxglove/wasm-zstd)
 * and lz4 (frame format) in plain JavaScript (lz4js). Both load on first use.
 */
/// <reference path="./vendor.d.ts" />
// (The two packages ship no types: vendor.d.ts declares them, also for builds that list files one by one.)
import type { DecompressHandlers } from '@mcap/core';
import { ValidationError } from '../errors.js';

/** How chunks are compressed: `zstd` (wasm, the default), `lz4` (plain JS) or `none`. */
export type Compression = 'zstd' | 'lz4' | 'none';

/** The compressions `record` accepts. */
export const compressions: readonly Compression[] = ['zstd', 'lz4', 'none'];

/** A chunk compressor for McapWriter's `compressChunk`, or undefined for `none`. */
export async function chunkCompressor(
  compression: Compression,
): Promise<((data: Uint8Array) => { compression: string; compressedData: Uint8Array }) | undefined> {
  switch (compression) {
    case 'none':
      return undefined;
    case 'zstd': {
      const zstd = await loadZstd();
      return (data) => ({ compression: 'zstd', compressedData: zstd.compress(data, 3) });
    }
    case 'lz4': {
      const lz4 = await loadLz4();
      return (data) => ({ compression: 'lz4', compressedData: lz4.compress(data) });
    }
    default:
      throw new ValidationError('compression', compressions.join(' | '), JSON.stringify(compression));
  }
}

async function loadZstd(): Promise<typeof import('@foxglove/wasm-zstd')> {
  const module = await import('@foxglove/wasm-zstd');
  // A CommonJS module: its exports arrive as the default export under ESM.
  const zstd = ((module as { default?: unknown }).default ?? module) as typeof import('@foxglove/wasm-zstd');
  await zstd.isLoaded;
  return zstd;
}

async function loadLz4(): Promise<typeof import('lz4js')> {
  const module = await import('lz4js');
  return ((module as { default?: unknown }).default ?? module) as typeof import('lz4js');
}

/** Decompressors for McapStreamReader / McapIndexedReader: every compression MCAP tools write by default. */
export async function decompressHandlers(): Promise<DecompressHandlers> {
  const [zstd, lz4] = await Promise.all([loadZstd(), loadLz4()]);
  return {
    zstd: (buffer, size) => zstd.decompress(buffer, Number(size)),
    lz4: (buffer, size) => lz4.decompress(buffer, Number(size)),
  };
}
