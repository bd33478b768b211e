/*
 * The messages that start mlstm/web's parallel GEMM: createWebParallelBackend (gemm-workers.ts)
 * starts one supervisor worker (gemm-supervisor.ts), which starts the GEMM workers (gemm-worker.ts)
 * as its own and watches them. Once started, a GEMM worker receives only the parallel GEMM's own
 * WorkerMessages (gemm-parallel-protocol.ts), on a MessagePort straight from the caller, and
 * answers through the shared control block.
 */

/** Caller → supervisor: the control block, one port per GEMM worker (the caller holds the other ends), and the GEMM worker script. */
export interface SupervisorStart {
  kind: 'start';
  control: SharedArrayBuffer;
  ports: unknown[];
  workerUrl: string;
}

/** Supervisor → caller: every GEMM worker is serving, or one could not start. */
export type SupervisorReply = { kind: 'ready' } | { kind: 'error'; index: number; message: string };

/** Supervisor → GEMM worker, the first message: the control block, which part of each job is this worker's, and its port. */
export interface GemmWorkerStart {
  kind: 'start';
  control: SharedArrayBuffer;
  /** 0-based worker number (the caller's thread is not counted). */
  index: number;
  port: unknown;
}

/** GEMM worker → supervisor: started (parked on the control block), could not start, or a 'terminate' fault drill. */
export type GemmWorkerReply =
  { kind: 'ready'; index: number } | { kind: 'error'; index: number; message: string } | { kind: 'drill-terminate'; index: number };
