import os from 'node:os';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import type { Backend } from '../tensor/backend.js';
import { blockedBackend } from '../tensor/kernels/gemm-blocked.js';
import { CONTROL_BYTES, ParallelGemm, type WorkerMessage, type WorkerTransport } from '../parallel/gemm-parallel.js';
import { MAX_WORKERS } from '../parallel/gemm-parallel-protocol.js';

/** A Backend that may hold threads: call close() when done with it. */
export interface ClosableBackend extends Backend {
  /** Threads used for large problems, the caller's included (1 = no workers). */
  readonly threads: number;
  /** Stops the worker threads; the backend must not be used afterwards. */
  close(): void;
}

export interface ParallelBackendOptions {
  /** Total threads including the caller's (default: available parallelism, at most 8). */
  threads?: number;
  /** How long gemm waits for a worker before throwing (default 60 s). */
  timeoutMs?: number;
}

/**
 * The blocked GEMM spread over worker_threads: C's rows (or, for wide products, its columns) are
 * split between the calling thread and threads − 1 workers sharing memory (SharedArrayBuffer),
 * each running the same single-thread kernel, so results are bit-identical to blockedBackend. gemm stays synchronous (the caller
 * blocks in Atomics.wait). Problems below PARALLEL_MIN_WORK run on the calling thread.
 * Falls back to the single-thread kernel when threads ≤ 1 or SharedArrayBuffer is unavailable
 * (e.g. a page without cross-origin isolation). Workers are unref'd, so a forgotten close() does
 * not keep the process alive; close() ends them at once.
 */
export function createParallelBackend(options: ParallelBackendOptions = {}): ClosableBackend {
  const available = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  const threads = options.threads ?? Math.min(8, available);
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_WORKERS + 1) {
    throw new RangeError(`createParallelBackend: threads must be an integer in 1..${MAX_WORKERS + 1}, got ${threads}`);
  }
  if (threads === 1 || typeof SharedArrayBuffer !== 'function') {
    return Object.freeze({ name: 'blocked', threads: 1, gemm: blockedBackend.gemm, prepareB: blockedBackend.prepareB!, close: () => {} });
  }
  const control = new SharedArrayBuffer(CONTROL_BYTES);
  const transport = new NodeWorkerTransport(control, threads - 1);
  return new ParallelGemm(transport, control, options.timeoutMs);
}

class NodeWorkerTransport implements WorkerTransport {
  readonly workers: number;
  private readonly threads: Worker[] = [];
  private readonly ports: MessagePort[] = [];

  constructor(control: SharedArrayBuffer, workers: number) {
    this.workers = workers;
    // dist/node/gemm-worker.js beside this file (compiled output: worker threads run JavaScript).
    const entry = new URL('./gemm-worker.js', import.meta.url);
    for (let index = 0; index < workers; index++) {
      const { port1, port2 } = new MessageChannel();
      const worker = new Worker(entry, { workerData: { control, index, port: port2 }, transferList: [port2] });
      worker.unref();
      port1.unref();
      this.threads.push(worker);
      this.ports.push(port1);
    }
  }

  send(message: WorkerMessage): void {
    for (const port of this.ports) port.postMessage(message);
  }

  terminate(): void {
    for (const port of this.ports) port.close();
    for (const worker of this.threads) void worker.terminate();
  }
}
