/*
 * The messages between createWebParallelBackend (gemm-workers.ts) and a GEMM worker
 * (gemm-worker.ts) around start-up. Once started, a worker receives only the parallel GEMM's own
 * WorkerMessages (gemm-parallel-protocol.ts) and answers through the shared control block.
 */

/** Caller → worker, the first message: the control block and which part of each job is this worker's. */
export interface GemmWorkerStart {
  kind: 'start';
  control: SharedArrayBuffer;
  /** 0-based worker number (the caller's thread is not counted). */
  index: number;
}

/** Worker → caller: started (parked on the control block), or could not start. */
export type GemmWorkerReply = { kind: 'ready'; index: number } | { kind: 'error'; index: number; message: string };
