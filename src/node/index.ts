/** The Node-only layer (`mlstm/node`): file access with atomic writes, and the GEMM on worker threads. Everything else is runtime-neutral. */
export * from './files.js';
export { createParallelBackend, type ClosableBackend, type ParallelBackendOptions } from './gemm-workers.js';
export { GemmWorkerFault, type FaultDrill } from '../parallel/gemm-parallel.js';
export { createWasmBackend, createWasmBackendSync, selectBackend } from './wasm.js';
export { enableRelaxedSimd } from './relaxed-simd.js';
