// Type declarations for the two compression packages, which ship none (wasm-zstd names an index.d.ts
// it does not publish).

declare module 'lz4js' {
  /** LZ4 frame format (what MCAP's `lz4` compression means). */
  export function compress(src: Uint8Array, maxSize?: number): Uint8Array;
  export function decompress(src: Uint8Array, maxSize?: number): Uint8Array;
}

declare module '@foxglove/wasm-zstd' {
  /** Resolves once the wasm module is compiled; the functions throw before. */
  export const isLoaded: Promise<void>;
  export function compress(src: Uint8Array, level?: number): Uint8Array;
  export function decompress(src: Uint8Array, size: number): Uint8Array;
}
