import os from 'node:os';
import { createParallelBackend, type ClosableBackend } from '../node/gemm-workers.js';
import { valueFlag, type FlagReader, type FlagSpecs } from './args.js';

/**
 * Threads the CLI uses for the large matrix products when --threads is not given: every CPU,
 * at most 4 (beyond that the per-step products of a B = 32 batch are too small to share well).
 * Any count gives the same numbers (the parallel GEMM is bit-identical to one thread), so the
 * default only decides how soon.
 */
export const DEFAULT_THREADS = Math.max(
  1,
  Math.min(4, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length),
);

/** --threads of a command that computes (train, eval), spread into its flags. */
export const THREADS_FLAG = {
  threads: valueFlag('N', 'threads for the large matrix products (default: the CPU count, at most 4); any N gives the same numbers'),
} as const satisfies FlagSpecs;

/** The --threads flag of a command that computes (train, eval). */
export const readThreads = (f: FlagReader): number => f.int('threads', DEFAULT_THREADS, 1, 64);

/** Runs `work` on a backend of `threads` threads and stops its workers afterwards, however `work` ends. */
export async function withThreads<T>(threads: number, work: (backend: ClosableBackend) => Promise<T> | T): Promise<T> {
  const backend = createParallelBackend({ threads });
  try {
    return await work(backend);
  } finally {
    backend.close();
  }
}
