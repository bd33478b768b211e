import {
  createWasmBackend as createWasmBackendCore,
  createWasmBackendSync as createWasmBackendSyncCore,
  selectBackend as selectBackendCore,
  type BackendKind,
  type BackendSelection,
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

/**
 * The default backend (src/wasm/index.ts's selectBackend) with relaxed SIMD enabled first, so that
 * on Node 20 the wasm backend it makes has the fused multiply-add. Call it before anything else
 * makes the shared default (a Trainer or evaluate without a tape), or that one is kept.
 */
export function selectBackend(kind: BackendKind | 'auto' = 'auto'): BackendSelection {
  if (kind !== 'js') enableRelaxedSimd();
  return selectBackendCore(kind);
}

export { enableRelaxedSimd };
