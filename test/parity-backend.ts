import type { Backend } from '../src/tensor/backend.js';
import { defaultBackend } from '../src/tensor/kernels/index.js';
import { createWasmBackendSync } from '../src/node/wasm.js';
import { enableRelaxedSimd } from '../src/node/relaxed-simd.js';
import { detectWasmFeatures } from '../src/wasm/index.js';

/*
 * Which backends the parity suite runs on. MLSTM_BACKEND names them, comma-separated:
 *   js            the default JS kernels (blocked GEMM)
 *   wasm          the WebAssembly SIMD backend as detection chooses it (fused multiply-add where available)
 *   wasm-fma      the fused multiply-add module (skipped, with a note, where the machine has none)
 *   wasm-mul-add  the separate multiply-and-add module
 * Unset: js, wasm-fma and wasm-mul-add, so a plain `npm test` checks the fixtures on every kernel.
 * Example: MLSTM_BACKEND=wasm MLSTM_FIXTURES=/work/shared/fixtures npx vitest run test/parity.test.ts
 */

export const PARITY_BACKEND_NAMES = ['js', 'wasm', 'wasm-fma', 'wasm-mul-add'] as const;
export type ParityBackendName = (typeof PARITY_BACKEND_NAMES)[number];

const made = new Map<ParityBackendName, Backend>();

/** The backend of that name (one instance per name and process), or null where it cannot run here. */
export function parityBackend(name: ParityBackendName): Backend | null {
  if (name === 'js') return defaultBackend;
  let backend = made.get(name);
  if (backend === undefined) {
    if (name === 'wasm-fma') {
      enableRelaxedSimd(); // Node 20: before detecting
      if (!detectWasmFeatures().fusedMultiplyAdd) return null;
    }
    backend = createWasmBackendSync({ fma: name === 'wasm-fma' ? true : name === 'wasm-mul-add' ? false : 'auto' });
    made.set(name, backend);
  }
  return backend;
}

/** The names MLSTM_BACKEND selects (unknown names throw, listing the known ones). */
export function selectedParityBackends(): ParityBackendName[] {
  const raw = process.env['MLSTM_BACKEND'];
  if (raw === undefined || raw.trim() === '') return ['js', 'wasm-fma', 'wasm-mul-add'];
  return raw.split(',').map((s) => {
    const name = s.trim() as ParityBackendName;
    if (!PARITY_BACKEND_NAMES.includes(name)) {
      throw new Error(`MLSTM_BACKEND: unknown backend '${s.trim()}' (known: ${PARITY_BACKEND_NAMES.join(', ')})`);
    }
    return name;
  });
}

/** A label for test titles: the backend's describe(). */
export function describeBackend(backend: Backend): string {
  return backend.describe();
}
