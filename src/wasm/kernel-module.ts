import { defineGateKernels } from './gate-kernels.js';
import { defineGemmDriver, defineMicroKernel, MR, type MicroKernelRef, type MultiplyAdd } from './gemm-kernels.js';
import { definePackA, definePackB } from './gemm-packing.js';
import { defineRowDriver, defineRowKernel, ROW_PANELS, type RowKernelRef } from './gemm-row.js';
import { ModuleBuilder } from './module-builder.js';

/**
 * The one kernel module of the wasm backend: the GEMM (micro-kernels for every tile shape, the
 * driver, the one-row kernels and their driver, the packing routines) and the recurrent gate kernels, over one imported memory. Its
 * bytes depend only on the arithmetic (fused or separate multiply-add) and on whether the memory
 * is shared, so each variant is built once per process (buildKernelModule caches nothing itself;
 * backend.ts keeps the compiled modules).
 */

export interface KernelModuleOptions {
  multiplyAdd: MultiplyAdd;
  /** Whether the imported memory is shared (a shared import must declare a maximum: the largest, 4 GiB). */
  sharedMemory: boolean;
}

/** Import name of the memory: instantiate with { env: { memory } }. */
export const MEMORY_IMPORT = { module: 'env', field: 'memory' } as const;

/** The exports, as the backend calls them: every pointer a byte address, every stride in bytes. */
export interface KernelExports {
  gemm_f32(m: number, n: number, k: number, a: number, b: number, c: number, ldc: number, alpha: number, bias: number, flags: number): void;
  gemm_f32_row(n: number, k: number, a: number, b: number, c: number, alpha: number, bias: number, flags: number): void;
  packA_rowPanels4(src: number, rs: number, cs: number, m: number, k: number, dst: number): void;
  packB_columnPanels8(src: number, rs: number, cs: number, k: number, n: number, dst: number): void;
  lstm_gates_forward(B: number, H: number, z: number, cPrev: number, c: number, h: number, saved: number): void;
  lstm_gates_backward(B: number, H: number, saved: number, cPrev: number, dh: number, dcNext: number, dz: number, dcPrev: number): void;
  multiplicative_forward(n: number, xm: number, hm: number, m: number): void;
  multiplicative_backward(n: number, dm: number, xm: number, hm: number, dxm: number, dhm: number): void;
  tanh_forward(n: number, z: number, h: number): void;
  tanh_backward(n: number, h: number, dh: number, dz: number): void;
  sigmoid_map(n: number, x: number, y: number): void;
  exp_nonpositive_map(n: number, x: number, y: number): void;
}

export function buildKernelModule({ multiplyAdd, sharedMemory }: KernelModuleOptions): Uint8Array {
  const mb = new ModuleBuilder().importMemory(
    MEMORY_IMPORT.module,
    MEMORY_IMPORT.field,
    sharedMemory ? { initial: 1, maximum: 65536, shared: true } : { initial: 1 },
  );
  const kernels = new Map<string, MicroKernelRef>();
  for (let mr = 1; mr <= MR; mr++) {
    for (const nr of [4, 8] as const) kernels.set(`${mr}x${nr}`, defineMicroKernel(mb, mr, nr, multiplyAdd));
  }
  defineGemmDriver(mb, (mr, nr) => kernels.get(`${mr}x${nr}`)!);
  const rowKernels: RowKernelRef[] = [];
  for (let panels = 1; panels <= ROW_PANELS; panels++) rowKernels[panels] = defineRowKernel(mb, panels, multiplyAdd);
  defineRowDriver(mb, (panels) => rowKernels[panels]!);
  definePackA(mb);
  definePackB(mb);
  defineGateKernels(mb);
  return mb.build();
}
