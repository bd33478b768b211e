import os from 'node:os';

/**
 * Threads the CLI uses for the large matrix products when --threads is not given: every CPU,
 * at most 4 (beyond that the per-step products of a B = 32 batch are too small to share well).
 * Any count gives the same numbers (the parallel GEMM is bit-identical to one thread), so the
 * default only decides how soon.
 */
export const DEFAULT_THREADS = Math.max(1, Math.min(4, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length));
