import os from 'node:os';
import { createParallelBackend, type ClosableBackend } from '../node/gemm-workers.js';
import { createWasmBackendSync } from '../node/wasm.js';
import { simdValidates, type BackendKind } from '../wasm/index.js';
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
  threads: valueFlag(
    'N',
    'threads for the large matrix products (default: the CPU count, at most 4, for js; 1 for wasm); any N gives the same numbers',
  ),
} as const satisfies FlagSpecs;

/**
 * The --threads flag of a command that computes (train, eval, compare). Its default follows the backend: the
 * CPU count for js, 1 for wasm (one thread until the threaded wasm driver lands; an explicit --threads N > 1
 * still runs, on one thread, and the banner says so).
 */
export const readThreads = (f: FlagReader, kind: BackendKind): number => f.int('threads', kind === 'wasm' ? 1 : DEFAULT_THREADS, 1, 64);

/** Which kernels compute: the JavaScript ones (on worker threads) or the WebAssembly SIMD ones. */
export type { BackendKind };
export const BACKEND_KINDS: readonly BackendKind[] = ['js', 'wasm'];

/** The kernels a command computes on when --backend is not given: wasm where WebAssembly SIMD validates, else js (and why). */
export function defaultBackendKind(): { kind: BackendKind; reason: string } {
  if (!simdValidates()) return { kind: 'js', reason: 'this runtime does not validate WebAssembly SIMD' };
  return { kind: 'wasm', reason: 'WebAssembly SIMD validates' };
}

/** --backend of a command that computes (train, eval, sample, score, compare). */
export const BACKEND_FLAG = {
  backend: valueFlag(
    'js|wasm',
    'the kernels: wasm (WebAssembly SIMD; the default where it validates; one thread for now) or js (the reference, on --threads threads)',
  ),
} as const satisfies FlagSpecs;

/** The --backend flag (default: defaultBackendKind); an explicit wasm where SIMD does not validate is refused in one line. */
export function readBackend(f: FlagReader): BackendKind {
  const fallback = defaultBackendKind();
  const kind = f.choice('backend', fallback.kind, BACKEND_KINDS);
  if (kind === 'wasm' && fallback.kind !== 'wasm') throw new CliError(`--backend wasm: ${fallback.reason}; use --backend js`);
  return kind;
}

/** The backend a command computes on: a ClosableBackend, plus why it has fewer threads than asked for. */
export interface CommandBackend extends ClosableBackend {
  /** Why this backend runs on fewer threads than --threads asked for (absent when it has them all). */
  readonly threadsNote?: string;
}

/**
 * Runs `work` on a backend of `kind` with `threads` threads and ends it afterwards, however `work`
 * ends. The wasm backend computes on one thread until the threaded wasm driver lands: with
 * --threads > 1 it still runs, on one thread, and threadsNote says so (the banner shows it).
 * MLSTM_GEMM_DRILL=KIND:JOBS[:WORKER] (for tests: KIND throw, terminate or stall) arms a fault drill.
 */
export async function withThreads<T>(
  threads: number,
  work: (backend: CommandBackend) => Promise<T> | T,
  kind: BackendKind = defaultBackendKind().kind,
): Promise<T> {
  const backend = kind === 'wasm' ? wasmOnOneThread(threads) : createParallelBackend({ threads });
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

/** What computes, for a banner: 'js kernels on 2 threads', 'wasm-simd fma kernels on 1 thread (…why…)'. */
export function kernelsLine(backend: CommandBackend): string {
  const line = `${backend.describe()} kernels on ${backend.threads} thread${backend.threads === 1 ? '' : 's'}`;
  return backend.threadsNote === undefined ? line : `${line} (${backend.threadsNote})`;
}

/** The single-thread wasm backend in the CLI's shape; `threads` is what --threads asked for. */
function wasmOnOneThread(threads: number): CommandBackend {
  const wasm = createWasmBackendSync();
  const threadsNote = threads > 1 ? `--threads ${threads} asked for: the wasm kernels run on one thread for now` : undefined;
  return Object.assign(wasm, { threads: 1, ready: () => Promise.resolve(), ...(threadsNote ? { threadsNote } : {}) });
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
