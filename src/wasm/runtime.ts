/**
 * The slice of the WebAssembly JavaScript API the kernels use, typed here because the project
 * compiles against lib ES2022 (no DOM typings) and must run where WebAssembly is missing
 * altogether (then `wasmApi()` is undefined and callers fall back to the JS kernels). Read from
 * globalThis, so nothing here is specific to Node, a browser or a worker.
 */

export interface WasmMemoryDescriptor {
  initial: number;
  maximum?: number;
  shared?: boolean;
}

export interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  /** Grows by `delta` pages, returning the old size in pages (throws a RangeError past the maximum). */
  grow(delta: number): number;
}

/** A compiled module (opaque). */
export interface WasmModule {
  readonly __wasmModule?: never;
}

export interface WasmInstance {
  readonly exports: Record<string, unknown>;
}

export type WasmImports = Record<string, Record<string, unknown>>;

export interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  compile(bytes: Uint8Array): Promise<WasmModule>;
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports?: WasmImports) => WasmInstance;
  Memory: new (descriptor: WasmMemoryDescriptor) => WasmMemory;
  instantiate(module: WasmModule, imports?: WasmImports): Promise<WasmInstance>;
}

/** The runtime's WebAssembly object, or undefined where there is none. */
export function wasmApi(): WasmApi | undefined {
  return (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
}

/** Bytes per WebAssembly page. */
export const PAGE_BYTES = 65536;
