import { enableRelaxedSimd } from '../../src/node/relaxed-simd.js';
import { createWasmBackendSync, detectWasmFeatures, type WasmBackend } from '../../src/wasm/index.js';

/*
 * The wasm backends the tests run: the fused multiply-add module wherever this machine has it, and
 * the mul+add module always (so the fallback arithmetic is tested on an FMA machine too). Made once
 * per test file and shared by its tests (a backend holds a 16 MiB memory).
 */

enableRelaxedSimd();
export const FEATURES = detectWasmFeatures();

let cache: { fma: WasmBackend | null; mulAdd: WasmBackend } | null = null;

export function wasmBackends(): { fma: WasmBackend | null; mulAdd: WasmBackend; all: WasmBackend[] } {
  cache ??= { fma: FEATURES.fusedMultiplyAdd ? createWasmBackendSync({ fma: true }) : null, mulAdd: createWasmBackendSync({ fma: false }) };
  const all = cache.fma === null ? [cache.mulAdd] : [cache.fma, cache.mulAdd];
  return { ...cache, all };
}

/** Float32 values with the given bit patterns. */
export function fromBits(bits: readonly number[]): Float32Array {
  return new Float32Array(Uint32Array.from(bits, (b) => b >>> 0).buffer);
}

/** The bit pattern of each float32. */
export function bitsOf(x: Float32Array): number[] {
  return Array.from(new Uint32Array(x.buffer, x.byteOffset, x.length));
}
