import type { Backend } from '../tensor/backend.js';
import { gemmBlocked } from '../tensor/kernels/gemm-blocked.js';
import { CONTROL_BYTES, ParallelGemm, type WorkerMessage, type WorkerTransport } from '../parallel/gemm-parallel.js';
import { MAX_WORKERS } from '../parallel/gemm-parallel-protocol.js';
import { prepareBlockedB } from '../tensor/kernels/gemm-prepared.js';
import type { GemmWorkerReply, GemmWorkerStart } from './gemm-worker-messages.js';

/*
 * The parallel GEMM's adapter for runtimes with the web `Worker` global (browsers, and Deno/Bun
 * style module workers): the browser counterpart of src/node/gemm-workers.ts. Only standard web
 * globals are used, read from globalThis so that a runtime lacking one falls back instead of
 * throwing a ReferenceError.
 */

/** A Backend that may hold worker threads: call close() when done with it. */
export interface WebParallelBackend extends Backend {
  /** Threads used for large problems, the caller's included (1 = no workers). */
  readonly threads: number;
  /** Why the backend runs on one thread although more were asked for (absent when it got them all). */
  readonly reason?: string;
  /** Stops the workers; the backend must not be used afterwards. */
  close(): void;
}

export interface WebParallelBackendOptions {
  /** Total threads including the caller's (default: navigator.hardwareConcurrency, at most 8). */
  threads?: number;
  /** How long starting the workers, and later one gemm, may wait for a worker before throwing (default 60 s). */
  timeoutMs?: number;
  /**
   * The worker script (default: gemm-worker.js beside this module, i.e. dist/web/gemm-worker.js).
   * A bundler that rewrites module URLs needs it given explicitly.
   */
  workerUrl?: URL | string;
}

/** The parts of the web Worker API used here (the project compiles without the DOM typings). */
interface WebWorker {
  postMessage(message: unknown): void;
  terminate(): void;
  addEventListener(type: string, listener: (event: WorkerEvent) => void): void;
  removeEventListener(type: string, listener: (event: WorkerEvent) => void): void;
}
interface WorkerEvent {
  data?: unknown;
  message?: string;
}
type WorkerConstructor = new (url: URL | string, options: { type: 'module'; name?: string }) => WebWorker;

interface WebGlobals {
  Worker?: WorkerConstructor;
  crossOriginIsolated?: boolean;
  navigator?: { hardwareConcurrency?: number };
}

const DEFAULT_TIMEOUT_MS = 60_000;

/**
 * The blocked GEMM spread over `threads − 1` module Workers sharing memory (SharedArrayBuffer):
 * C's rows (or, for wide products, its columns) are split between the calling thread and the
 * workers, each running the single-thread blocked kernel, so results are bit-identical to
 * blockedBackend for every thread count. Resolves once every worker has started.
 *
 * USE IT FROM A WORKER, NOT FROM A PAGE'S MAIN THREAD: gemm is synchronous, and the calling thread
 * blocks in Atomics.wait until the workers are done, which browsers forbid on the main thread
 * (creating it there throws). In a page, train in a dedicated Worker (as the demo does) and create
 * the backend inside it; the GEMM workers are then nested workers of that one.
 *
 * Resolves to the single-thread blocked backend (threads 1, a no-op close, and `reason` saying
 * why) when threads ≤ 1, when SharedArrayBuffer or the Worker global is missing, or when the page
 * is not cross-origin isolated (crossOriginIsolated false: serve it with
 * `Cross-Origin-Opener-Policy: same-origin` and `Cross-Origin-Embedder-Policy: require-corp`).
 * Runtimes without a crossOriginIsolated property (Deno, Bun) are judged by the other three.
 * Rejects when a worker cannot be started (wrong workerUrl, script not served as JavaScript, or
 * no "ready" within timeoutMs), having ended the ones that did start.
 */
export async function createWebParallelBackend(options: WebParallelBackendOptions = {}): Promise<WebParallelBackend> {
  const env = globalThis as WebGlobals;
  const threads = options.threads ?? defaultThreads(env);
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_WORKERS + 1) {
    throw new RangeError(`createWebParallelBackend: threads must be an integer in 1..${MAX_WORKERS + 1}, got ${threads}`);
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!(timeoutMs > 0)) throw new RangeError(`createWebParallelBackend: timeoutMs must be a positive number, got ${timeoutMs}`);

  const reason = fallbackReason(env, threads);
  if (reason !== undefined) return singleThread(reason);
  if (!canBlock()) {
    throw new Error(
      "createWebParallelBackend: Atomics.wait is not allowed on this thread (a page's main thread): " +
        'the parallel gemm blocks its caller, so create and use this backend inside a Worker',
    );
  }
  const url = options.workerUrl ?? new URL('./gemm-worker.js', import.meta.url);
  const control = new SharedArrayBuffer(CONTROL_BYTES);
  const workers = await startWorkers(env.Worker!, url, control, threads - 1, timeoutMs);
  return new ParallelGemm(new WebWorkerTransport(workers), control);
}

function defaultThreads(env: WebGlobals): number {
  const cores = env.navigator?.hardwareConcurrency;
  return Number.isInteger(cores) && cores! >= 1 ? Math.min(8, cores!) : 1;
}

/** Why this runtime (or this request) gets one thread; undefined when workers can be used. */
function fallbackReason(env: WebGlobals, threads: number): string | undefined {
  if (threads <= 1) return 'one thread was asked for';
  if (typeof SharedArrayBuffer !== 'function') {
    return env.crossOriginIsolated === false
      ? 'SharedArrayBuffer is unavailable: the page is not cross-origin isolated (serve it with COOP same-origin and COEP require-corp)'
      : 'SharedArrayBuffer is unavailable in this runtime';
  }
  if (env.crossOriginIsolated === false) {
    return 'the page is not cross-origin isolated (serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)';
  }
  if (typeof env.Worker !== 'function') return 'this runtime has no Worker global';
  return undefined;
}

function singleThread(reason: string): WebParallelBackend {
  return Object.freeze({ name: 'blocked', threads: 1, reason, gemm: gemmBlocked, prepareB: prepareBlockedB, close: () => {} });
}

/** Whether this thread may block in Atomics.wait (browsers throw on a page's main thread). */
function canBlock(): boolean {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0); // value 0 ≠ 1: returns at once where allowed
    return true;
  } catch {
    return false;
  }
}

/** Starts `count` workers, sends each its start data, and resolves when all have answered ready. */
async function startWorkers(
  Worker: WorkerConstructor,
  url: URL | string,
  control: SharedArrayBuffer,
  count: number,
  timeoutMs: number,
): Promise<WebWorker[]> {
  const workers: WebWorker[] = [];
  try {
    for (let index = 0; index < count; index++) {
      const worker = new Worker(url, { type: 'module', name: `mlstm-gemm-${index + 1}` });
      workers.push(worker);
      const start: GemmWorkerStart = { kind: 'start', control, index };
      worker.postMessage(start); // queued until the worker's script has loaded
    }
  } catch (error) {
    for (const worker of workers) worker.terminate();
    throw new Error(`createWebParallelBackend: cannot start a module Worker from ${String(url)}: ${describe(error)}`, { cause: error });
  }
  try {
    await allReady(workers, url, timeoutMs);
  } catch (error) {
    for (const worker of workers) worker.terminate();
    throw error;
  }
  return workers;
}

/** Resolves when every worker has reported ready; rejects at the first failure or at the deadline (listeners and timer removed either way). */
function allReady(workers: readonly WebWorker[], url: URL | string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const ready = new Set<number>();
    const cleanups: Array<() => void> = [];
    const finish = (error?: Error): void => {
      clearTimeout(timer);
      for (const cleanup of cleanups) cleanup();
      if (error) reject(error);
      else resolve();
    };
    const timer = setTimeout(() => {
      const late = workers.map((_, i) => i + 1).filter((n) => !ready.has(n - 1));
      finish(
        new Error(
          `createWebParallelBackend: gemm worker(s) ${late.join(', ')} of ${workers.length} (${String(url)}) did not report ready within ${timeoutMs} ms`,
        ),
      );
    }, timeoutMs);
    workers.forEach((worker, index) => {
      const fail = (why: string): void => finish(new Error(`createWebParallelBackend: gemm worker ${index + 1} (${String(url)}) ${why}`));
      const onMessage = (event: WorkerEvent): void => {
        const reply = event.data as GemmWorkerReply | undefined;
        if (reply?.kind === 'ready' && reply.index === index) {
          ready.add(index);
          if (ready.size === workers.length) finish();
        } else if (reply?.kind === 'error') fail(`failed to start: ${reply.message}`);
      };
      // A script that is missing or not JavaScript gives an error event without a message.
      const onError = (event: WorkerEvent): void =>
        fail(event.message ? `failed: ${event.message}` : 'could not be loaded (missing, not served as JavaScript, or blocked by COEP?)');
      const onMessageError = (): void => fail('could not receive its start message (is the page cross-origin isolated?)');
      worker.addEventListener('message', onMessage);
      worker.addEventListener('error', onError);
      worker.addEventListener('messageerror', onMessageError);
      cleanups.push(() => {
        worker.removeEventListener('message', onMessage);
        worker.removeEventListener('error', onError);
        worker.removeEventListener('messageerror', onMessageError);
      });
    });
  });
}

const describe = (error: unknown): string => (error instanceof Error ? error.message : String(error));

class WebWorkerTransport implements WorkerTransport {
  readonly workers: number;

  constructor(private readonly threads: readonly WebWorker[]) {
    this.workers = threads.length;
  }

  send(message: WorkerMessage): void {
    for (const worker of this.threads) worker.postMessage(message);
  }

  terminate(): void {
    for (const worker of this.threads) worker.terminate();
  }
}
