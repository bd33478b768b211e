import type { Backend } from '../tensor/backend.js';
import { blockedBackend, gemmBlocked } from '../tensor/kernels/gemm-blocked.js';
import { CONTROL_BYTES, ParallelGemm, type FaultDrill, type WorkerMessage, type WorkerTransport } from '../parallel/gemm-parallel.js';
import { defaultThreadCount, MAX_WORKERS } from '../parallel/gemm-parallel-protocol.js';
import { prepareBlockedB } from '../tensor/kernels/gemm-prepared.js';
import { NO_WORKERS, ParallelWasmBackend } from '../parallel/gemm-parallel-wasm.js';
import { instantiateKernels, WasmBackend, type WasmBackendOptions } from '../wasm/index.js';
import type { SupervisorReply, SupervisorStart } from './gemm-worker-messages.js';

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
  /** Resolves at once: the workers are serving by the time the backend is created. */
  ready(): Promise<void>;
  /** Stops the workers; the backend must not be used afterwards. */
  close(): void;
  /** Arms a fault drill (tests, demonstrations): see FaultDrill. Absent on one thread. */
  drill?(drill: FaultDrill): void;
}

export interface WebParallelBackendOptions {
  /**
   * The GEMM kernel every thread runs: 'js' (default) or 'wasm' (the WebAssembly SIMD kernels over
   * one shared memory that every worker instantiates the same module over; compiled
   * asynchronously, as a page requires). On one thread, or where memory cannot be shared, 'wasm'
   * gives the single-thread WasmBackend.
   */
  kernel?: 'js' | 'wasm';
  /** With kernel 'wasm': the multiply-add (WasmBackendOptions.fma; default 'auto'). */
  fma?: WasmBackendOptions['fma'];
  /** With kernel 'wasm': the memory's initial and maximum size. */
  memory?: Omit<NonNullable<WasmBackendOptions['memory']>, 'shared'>;
  /** Total threads including the caller's (default: navigator.hardwareConcurrency, at most DEFAULT_THREAD_CAP = 4). */
  threads?: number;
  /**
   * How long starting the workers may take before createWebParallelBackend rejects (default 60 s).
   * Only the start is timed: a gemm waits for a slow worker however long it takes, and learns of a
   * failed one from the supervisor at once.
   */
  timeoutMs?: number;
  /**
   * The GEMM worker script (default: gemm-worker.js beside this module, i.e. dist/web/gemm-worker.js).
   * A bundler that rewrites module URLs needs it given explicitly, and supervisorUrl too.
   */
  workerUrl?: URL | string;
  /** The supervisor worker script (default: gemm-supervisor.js beside this module). */
  supervisorUrl?: URL | string;
}

/** The parts of the web Worker and MessageChannel APIs used here (the project compiles without the DOM typings). */
interface WebWorker {
  postMessage(message: unknown, transfer?: unknown[]): void;
  terminate(): void;
  addEventListener(type: string, listener: (event: WorkerEvent) => void): void;
  removeEventListener(type: string, listener: (event: WorkerEvent) => void): void;
}
interface WorkerEvent {
  data?: unknown;
  message?: string;
}
type WorkerConstructor = new (url: URL | string, options: { type: 'module'; name?: string }) => WebWorker;
interface WebPort {
  postMessage(message: unknown): void;
  close(): void;
}
type ChannelConstructor = new () => { port1: WebPort; port2: unknown };

interface WebGlobals {
  Worker?: WorkerConstructor;
  MessageChannel?: ChannelConstructor;
  crossOriginIsolated?: boolean;
  navigator?: { hardwareConcurrency?: number };
}

const DEFAULT_TIMEOUT_MS = 60_000;

/**
 * The blocked GEMM spread over `threads − 1` module Workers sharing memory (SharedArrayBuffer):
 * C's rows (or, for wide products, its columns) are split between the calling thread and the
 * workers, each running the single-thread blocked kernel, so results are bit-identical to
 * blockedBackend for every thread count. Resolves once every worker has started. The workers are
 * started and watched by a supervisor worker (gemm-supervisor.ts): a gemm waits for a slow worker
 * however long it takes, and when one fails (its error event, or a part that throws) it throws a
 * GemmWorkerFault at once and closes the backend.
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
 * Rejects when a worker cannot be started (wrong workerUrl or supervisorUrl, a script not served as
 * JavaScript, or no "ready" within timeoutMs), having ended the ones that did start.
 */
export async function createWebParallelBackend(options: WebParallelBackendOptions = {}): Promise<WebParallelBackend> {
  const env = globalThis as WebGlobals;
  const threads = options.threads ?? defaultThreads(env);
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_WORKERS + 1) {
    throw new RangeError(`createWebParallelBackend: threads must be an integer in 1..${MAX_WORKERS + 1}, got ${threads}`);
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!(timeoutMs > 0)) throw new RangeError(`createWebParallelBackend: timeoutMs must be a positive number, got ${timeoutMs}`);

  const kernel = options.kernel ?? 'js';
  if (kernel !== 'js' && kernel !== 'wasm')
    throw new RangeError(`createWebParallelBackend: kernel must be 'js' or 'wasm', got ${JSON.stringify(kernel)}`);
  const reason = fallbackReason(env, threads);
  if (reason !== undefined) return kernel === 'wasm' ? singleThreadWasm(reason, options) : singleThread(reason);
  if (!canBlock()) {
    throw new Error(
      "createWebParallelBackend: Atomics.wait is not allowed on this thread (a page's main thread): " +
        'the parallel gemm blocks its caller, so create and use this backend inside a Worker',
    );
  }
  const workerUrl = options.workerUrl ?? new URL('./gemm-worker.js', import.meta.url);
  const supervisorUrl = options.supervisorUrl ?? new URL('./gemm-supervisor.js', import.meta.url);
  const control = new SharedArrayBuffer(CONTROL_BYTES);
  const kernels =
    kernel === 'wasm' ? await instantiateKernels({ fma: options.fma, memory: { ...options.memory, shared: true } }) : undefined;
  const transport = await startWorkers(env, supervisorUrl, workerUrl, control, threads - 1, timeoutMs);
  const backend =
    kernels === undefined
      ? new ParallelGemm(transport, control)
      : new ParallelWasmBackend(kernels.kernels, kernels.heap, kernels.multiplyAdd, kernels.module, transport, control);
  await backend.ready(); // a worker says ready just before it starts serving: let it get there
  return backend;
}

/** The wasm kernel on this thread alone (shared memory where it can be, so allocate() works in place). */
async function singleThreadWasm(reason: string, options: WebParallelBackendOptions): Promise<WebParallelBackend> {
  const { kernels, heap, multiplyAdd, module } = await instantiateKernels({ fma: options.fma, memory: options.memory });
  if (heap.shared) {
    const backend = new ParallelWasmBackend(kernels, heap, multiplyAdd, module, NO_WORKERS, new SharedArrayBuffer(CONTROL_BYTES));
    return Object.assign(backend, { reason });
  }
  return Object.assign(new WasmBackend(kernels, heap, multiplyAdd), { threads: 1, reason, ready: () => Promise.resolve() });
}

function defaultThreads(env: WebGlobals): number {
  return defaultThreadCount(env.navigator?.hardwareConcurrency);
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
  if (typeof env.MessageChannel !== 'function') return 'this runtime has no MessageChannel global';
  return undefined;
}

function singleThread(reason: string): WebParallelBackend {
  return Object.freeze({
    name: 'blocked',
    threads: 1,
    reason,
    gemm: gemmBlocked,
    prepareB: prepareBlockedB,
    describe: blockedBackend.describe,
    recurrent: blockedBackend.recurrent,
    ready: () => Promise.resolve(),
    close: () => {},
  });
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

/**
 * Starts the supervisor, which starts `count` GEMM workers, each with a port whose other end the
 * transport keeps; resolves when all of them have answered ready.
 */
async function startWorkers(
  env: WebGlobals,
  supervisorUrl: URL | string,
  workerUrl: URL | string,
  control: SharedArrayBuffer,
  count: number,
  timeoutMs: number,
): Promise<WebWorkerTransport> {
  const ports: WebPort[] = [];
  const remote: unknown[] = [];
  for (let index = 0; index < count; index++) {
    const { port1, port2 } = new env.MessageChannel!();
    ports.push(port1);
    remote.push(port2);
  }
  let supervisor: WebWorker;
  try {
    supervisor = new env.Worker!(supervisorUrl, { type: 'module', name: 'mlstm-gemm-supervisor' });
  } catch (error) {
    throw new Error(`createWebParallelBackend: cannot start a module Worker from ${String(supervisorUrl)}: ${describe(error)}`, {
      cause: error,
    });
  }
  const start: SupervisorStart = { kind: 'start', control, ports: remote, workerUrl: String(workerUrl) };
  supervisor.postMessage(start, remote); // queued until the supervisor's script has loaded
  const transport = new WebWorkerTransport(supervisor, ports);
  try {
    await supervisorReady(supervisor, supervisorUrl, workerUrl, count, timeoutMs);
  } catch (error) {
    transport.terminate();
    throw error;
  }
  return transport;
}

/** Resolves when the supervisor reports every worker ready; rejects at the first failure or at the deadline (listeners and timer removed either way). */
function supervisorReady(
  supervisor: WebWorker,
  supervisorUrl: URL | string,
  workerUrl: URL | string,
  count: number,
  timeoutMs: number,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const finish = (error?: Error): void => {
      clearTimeout(timer);
      supervisor.removeEventListener('message', onMessage);
      supervisor.removeEventListener('error', onError);
      if (error) reject(error);
      else resolve();
    };
    const timer = setTimeout(
      () =>
        finish(
          new Error(
            `createWebParallelBackend: the ${count} gemm worker(s) (${String(workerUrl)}) did not report ready within ${timeoutMs} ms`,
          ),
        ),
      timeoutMs,
    );
    const onMessage = (event: WorkerEvent): void => {
      const reply = event.data as SupervisorReply | undefined;
      if (reply?.kind === 'ready') finish();
      else if (reply?.kind === 'error')
        finish(new Error(`createWebParallelBackend: gemm worker ${reply.index + 1} (${String(workerUrl)}) ${reply.message}`));
    };
    // A script that is missing or not JavaScript gives an error event without a message.
    const onError = (event: WorkerEvent): void =>
      finish(
        new Error(
          `createWebParallelBackend: the gemm supervisor (${String(supervisorUrl)}) ${event.message ? `failed: ${event.message}` : 'could not be loaded (missing, not served as JavaScript, or blocked by COEP?)'}`,
        ),
      );
    supervisor.addEventListener('message', onMessage);
    supervisor.addEventListener('error', onError);
  });
}

const describe = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** The supervisor (which owns the GEMM workers) and a MessagePort to each worker. */
class WebWorkerTransport implements WorkerTransport {
  readonly workers: number;

  constructor(
    private readonly supervisor: WebWorker,
    private readonly ports: readonly WebPort[],
  ) {
    this.workers = ports.length;
  }

  send(message: WorkerMessage): void {
    for (const port of this.ports) port.postMessage(message);
  }

  terminate(): void {
    for (const port of this.ports) port.close();
    this.supervisor.terminate(); // and with it the workers it started
  }
}
