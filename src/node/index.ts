/** The Node-only layer (`mlstm/node`): file access with atomic writes. Everything else is runtime-neutral. */
export * from './files.js';
export { createParallelBackend, type ClosableBackend, type ParallelBackendOptions } from './gemm-workers.js';
export { createWasmBackend, createWasmBackendSync } from './wasm.js';
export { enableRelaxedSimd } from './relaxed-simd.js';
