import os from 'node:os';
import { createParallelBackend, type ClosableBackend } from '../node/gemm-workers.js';
import { wasmUnavailable, type BackendKind } from '../wasm/index.js';
import { defaultThreadCount } from '../parallel/gemm-parallel-protocol.js';
import { GemmWorkerFault, type FaultDrill } from '../parallel/gemm-parallel.js';
import { valueFlag, type FlagReader, type FlagSpecs } from './args.js';
import { CliError } from './errors.js';

/** Threads the CLI uses for the large matrix products when --threads is not given (the backends' default). */
export const DEFAULT_THREADS = defaultThreadCount(
  typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length,
);

/** --threads of a command that computes (train, eval), spread into its flags. */
export const THREADS_FLAG = {
  threads: valueFlag('N', 'threads for the large matrix products (default: the CPU count, at most 4); any N gives the same numbers'),
} as const satisfies FlagSpecs;

/** The --threads flag of a command that computes (train, eval, compare): the same default for every backend. */
export const readThreads = (f: FlagReader): number => f.int('threads', DEFAULT_THREADS, 1, 64);

/** Which kernels compute: the JavaScript ones (on worker threads) or the WebAssembly SIMD ones. */
export type { BackendKind };
export const BACKEND_KINDS: readonly BackendKind[] = ['js', 'wasm'];

/** The kernels a command computes on when --backend is not given: selectBackend's choice (wasm where SIMD validates, else js, and why). */
export function defaultBackendKind(): { kind: BackendKind; reason: string } {
  const why = wasmUnavailable();
  return why === undefined ? { kind: 'wasm', reason: 'WebAssembly SIMD validates' } : { kind: 'js', reason: why };
}

/** --backend of a command that computes (train, eval, sample, score, compare). */
export const BACKEND_FLAG = {
  backend: valueFlag(
    'js|wasm',
    'the kernels: wasm (WebAssembly SIMD; the default where it validates) or js (the reference); any --threads gives the same numbers',
  ),
} as const satisfies FlagSpecs;

/** The --backend flag (default: defaultBackendKind); an explicit wasm where SIMD does not validate is refused in one line. */
export function readBackend(f: FlagReader): BackendKind {
  const fallback = defaultBackendKind();
  const kind = f.choice('backend', fallback.kind, BACKEND_KINDS);
  if (kind === 'wasm' && fallback.kind !== 'wasm') throw new CliError(`--backend wasm: ${fallback.reason}; use --backend js`);
  return kind;
}

/**
 * Runs `work` on a backend of `kind` (js or wasm kernels) with `threads` threads and ends it afterwards,
 * however `work` ends. MLSTM_GEMM_DRILL=KIND:JOBS[:WORKER] (for tests: KIND throw, terminate or stall) arms a fault drill.
 */
export async function withThreads<T>(
  threads: number,
  work: (backend: ClosableBackend) => Promise<T> | T,
  kind: BackendKind = defaultBackendKind().kind,
): Promise<T> {
  const backend = createParallelBackend({ threads, kernel: kind });
  try {
    const drill = process.env['MLSTM_GEMM_DRILL'];
    if (drill && backend.drill) {
      // A drill counts the jobs the workers run; until they have started the caller computes alone, so a drill
      // armed before then would fire late, or not at all, depending on how busy the machine is.
      await backend.ready();
      backend.drill(parseDrill(drill));
    }
    return await work(backend);
  } finally {
    backend.close();
  }
}

/** What computes, for a banner: 'js kernels on 2 threads', 'wasm-simd fma kernels on 1 thread'. */
export function kernelsLine(backend: ClosableBackend): string {
  const what = backend.describe().replace(/ ×\d+$/, ''); // the thread count is said below
  return `${what} kernels on ${backend.threads} thread${backend.threads === 1 ? '' : 's'}`;
}

function parseDrill(text: string): FaultDrill {
  const [kind, jobs, worker] = text.split(':');
  if (kind !== 'throw' && kind !== 'terminate' && kind !== 'stall')
    throw new CliError(`MLSTM_GEMM_DRILL: unknown kind '${kind}' (throw, terminate or stall)`);
  return { kind, afterJobs: Number(jobs ?? 1), worker: Number(worker ?? 0), ms: 2000 };
}

/** The one line for a GemmWorkerFault that stopped `what` (a command with nothing to save), or the error unchanged. */
export function explainWorkerFault(error: unknown, what: string): unknown {
  if (!(error instanceof GemmWorkerFault)) return error;
  return new CliError(`${what} stopped: ${error.reason}; run it again, or add --threads 1 to compute on one thread`);
}
