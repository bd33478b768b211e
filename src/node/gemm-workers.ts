import { existsSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import type { Backend } from '../tensor/backend.js';
import { blockedBackend } from '../tensor/kernels/gemm-blocked.js';
import { CONTROL_BYTES, ParallelGemm, type FaultDrill, type WorkerMessage, type WorkerTransport } from '../parallel/gemm-parallel.js';
import { NO_WORKERS, ParallelWasmBackend } from '../parallel/gemm-parallel-wasm.js';
import { instantiateKernelsSync, type WasmBackendOptions } from '../wasm/index.js';
import { enableRelaxedSimd } from './relaxed-simd.js';
import { ADAPTER, defaultThreadCount, MAX_WORKERS } from '../parallel/gemm-parallel-protocol.js';
import { isClosing, reportFault } from '../parallel/job-protocol.js';

/** A Backend that may hold threads: call close() when done with it. */
export interface ClosableBackend extends Backend {
  /** Threads used for large problems, the caller's included (1 = no workers). */
  readonly threads: number;
  /**
   * Resolves once every worker thread has started. Until then gemm computes on the calling thread
   * alone (the same numbers), so awaiting this is never required; it rejects with the
   * GemmWorkerFault if a worker could not start.
   */
  ready(): Promise<void>;
  /** Stops the worker threads; the backend must not be used afterwards. */
  close(): void;
  /** Arms a fault drill (tests, demonstrations): see FaultDrill. Absent on one thread. */
  drill?(drill: FaultDrill): void;
}

export interface ParallelBackendOptions {
  /** Total threads including the caller's (default: available parallelism, at most DEFAULT_THREAD_CAP = 4). */
  threads?: number;
  /**
   * The GEMM kernel every thread runs: 'js' (default: the blocked JavaScript kernel) or 'wasm'
   * (the WebAssembly SIMD kernels over one shared memory; the backend is then a WasmBackend, gate
   * kernels included, whose large products are shared with the workers).
   */
  kernel?: 'js' | 'wasm';
  /** With kernel 'wasm': the multiply-add (see WasmBackendOptions.fma; default 'auto'). */
  fma?: WasmBackendOptions['fma'];
  /** With kernel 'wasm': the shared memory's initial and maximum size (it is always shared). */
  memory?: Omit<NonNullable<WasmBackendOptions['memory']>, 'shared'>;
}

/**
 * The blocked GEMM spread over worker_threads: C's rows (or, for wide products, its columns) are
 * split between the calling thread and threads − 1 workers sharing memory (SharedArrayBuffer),
 * each running the same single-thread kernel, so results are bit-identical to blockedBackend.
 * gemm stays synchronous (the caller blocks in Atomics.wait), and waits for a slow or descheduled
 * worker however long it takes; a worker that dies or throws is reported at once by a supervisor
 * thread (gemm-supervisor.ts), and gemm throws a GemmWorkerFault and closes the backend. Problems
 * below PARALLEL_MIN_WORK run on the calling thread. Falls back to the single-thread kernel when
 * threads ≤ 1 or SharedArrayBuffer is unavailable. The threads are unref'd, so a forgotten close()
 * does not keep the process alive; close() ends them at once.
 */
export function createParallelBackend(options: ParallelBackendOptions = {}): ClosableBackend {
  const available = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  const threads = options.threads ?? defaultThreadCount(available);
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_WORKERS + 1) {
    throw new RangeError(`createParallelBackend: threads must be an integer in 1..${MAX_WORKERS + 1}, got ${threads}`);
  }
  if (options.kernel === 'wasm') return createWasmParallel(threads, options);
  if (options.kernel !== undefined && options.kernel !== 'js') {
    throw new RangeError(`createParallelBackend: kernel must be 'js' or 'wasm', got ${JSON.stringify(options.kernel)}`);
  }
  if (threads === 1 || typeof SharedArrayBuffer !== 'function') {
    return Object.freeze({
      name: 'blocked',
      threads: 1,
      gemm: blockedBackend.gemm,
      prepareB: blockedBackend.prepareB!,
      describe: blockedBackend.describe,
      recurrent: blockedBackend.recurrent,
      ready: () => Promise.resolve(),
      close: () => {},
    });
  }
  const control = new SharedArrayBuffer(CONTROL_BYTES);
  const transport = new NodeWorkerTransport(control, threads - 1);
  return new ParallelGemm(transport, control);
}

/**
 * The wasm kernel on `threads` threads: the calling thread's instance of the kernel module over a
 * shared memory, and workers that instantiate the same module over the same memory
 * (ParallelWasmBackend). On one thread, the same backend without workers.
 */
function createWasmParallel(threads: number, options: ParallelBackendOptions): ParallelWasmBackend {
  if (options.fma !== false) enableRelaxedSimd(); // before the module is compiled (relaxed-simd.ts)
  const { kernels, heap, multiplyAdd, module } = instantiateKernelsSync({
    fma: options.fma,
    memory: { ...options.memory, shared: true },
  });
  const control = new SharedArrayBuffer(CONTROL_BYTES);
  const transport = threads === 1 ? NO_WORKERS : new NodeWorkerTransport(control, threads - 1);
  return new ParallelWasmBackend(kernels, heap, multiplyAdd, module, transport, control);
}

/** dist/node/*.js beside this file (compiled output: worker threads run JavaScript). */
const SUPERVISOR_ENTRY = new URL('./gemm-supervisor.js', import.meta.url);
const WORKER_ENTRY = new URL('./gemm-worker.js', import.meta.url);

/**
 * The workers, started by one supervisor thread (which hears their 'error' and 'exit' while this
 * thread is blocked in a gemm), and a MessagePort to each (messages go to the workers directly).
 */
class NodeWorkerTransport implements WorkerTransport {
  readonly workers: number;
  private readonly supervisor: Worker;
  private readonly ports: MessagePort[] = [];

  constructor(control: SharedArrayBuffer, workers: number) {
    this.workers = workers;
    for (const entry of [SUPERVISOR_ENTRY, WORKER_ENTRY]) {
      if (!existsSync(fileURLToPath(entry))) throw new Error(`createParallelBackend: ${fileURLToPath(entry)} is missing (npm run build)`);
    }
    const remote: MessagePort[] = [];
    for (let index = 0; index < workers; index++) {
      const { port1, port2 } = new MessageChannel();
      port1.unref();
      this.ports.push(port1);
      remote.push(port2);
    }
    this.supervisor = new Worker(SUPERVISOR_ENTRY, { workerData: { control, ports: remote }, transferList: remote });
    this.supervisor.unref();
    // Heard only while this thread is not blocked in a gemm: the supervisor failing to start at all
    // (the caller posts no job before every worker has started, so it never waits on this).
    let reported = false;
    const lost = (why: string): void => {
      if (reported || isClosing(control)) return;
      reported = true;
      reportFault(control, ADAPTER, `the gemm supervisor thread ${why}`);
    };
    this.supervisor.on('error', (error) => lost(`failed: ${error.message}`));
    this.supervisor.on('exit', (code) => lost(`exited (exit code ${code})`));
  }

  send(message: WorkerMessage): void {
    for (const port of this.ports) port.postMessage(message);
  }

  terminate(): void {
    for (const port of this.ports) port.close();
    void this.supervisor.terminate(); // and with it the workers it started
  }
}
