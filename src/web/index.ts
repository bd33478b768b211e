/**
 * The web layer (`mlstm/web`): the parallel GEMM on module Workers over SharedArrayBuffer, for
 * browsers (inside a worker, on a cross-origin isolated page) and runtimes with a web `Worker`
 * global. Everything else is in the runtime-neutral entry point.
 */
export { createWebParallelBackend, type WebParallelBackend, type WebParallelBackendOptions } from './gemm-workers.js';
export { GemmWorkerFault, type FaultDrill } from '../parallel/gemm-parallel.js';
