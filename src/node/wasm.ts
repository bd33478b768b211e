import {
  createWasmBackend as createWasmBackendCore,
  createWasmBackendSync as createWasmBackendSyncCore,
  type WasmBackend,
  type WasmBackendOptions,
} from '../wasm/index.js';
import { enableRelaxedSimd } from './relaxed-simd.js';

/**
 * The wasm backend for Node (src/wasm/index.ts), with relaxed SIMD enabled first unless fma is
 * false, so that detection finds the fused multiply-add on Node 20 too.
 */
export function createWasmBackend(options: WasmBackendOptions = {}): Promise<WasmBackend> {
  if (options.fma !== false) enableRelaxedSimd();
  return createWasmBackendCore(options);
}

/** createWasmBackend, compiled synchronously (fine in Node). */
export function createWasmBackendSync(options: WasmBackendOptions = {}): WasmBackend {
  if (options.fma !== false) enableRelaxedSimd();
  return createWasmBackendSyncCore(options);
}

export { enableRelaxedSimd };
