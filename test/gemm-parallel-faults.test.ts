import { beforeAll, describe, expect, it } from 'vitest';
import type { Backend, GemmArgs } from '../src/tensor/backend.js';
import type { FaultDrill } from '../src/parallel/gemm-parallel.js';
import { Rng } from '../src/tensor/rng.js';
import { ensureBuilt, ROOT } from './cli-helpers.js';

/*
 * A worker of the Node parallel GEMM that dies, throws or stalls, on real threads (the compiled
 * package: worker threads run JavaScript). There is no deadline anywhere: a stalled worker is
 * waited for, however long; a terminated one is heard by the supervisor thread while the caller
 * is blocked in Atomics.wait, and the caller's gemm throws at once. FaultDrill makes each happen
 * at a chosen job, in the middle of the worker's part.
 */

type Parallel = Backend & { threads: number; close(): void; ready(): Promise<void>; drill(d: FaultDrill): void };
interface Built {
  createParallelBackend: (o?: { threads?: number }) => Parallel;
  GemmWorkerFault: new (reason: string, threads: number) => Error & { reason: string };
  blockedBackend: Backend;
}
let lib: Built;

beforeAll(async () => {
  ensureBuilt();
  const node = (await import(`${ROOT}dist/node/index.js`)) as Pick<Built, 'createParallelBackend' | 'GemmWorkerFault'>;
  const blocked = (await import(`${ROOT}dist/tensor/kernels/gemm-blocked.js`)) as Pick<Built, 'blockedBackend'>;
  lib = { ...node, ...blocked };
}, 180_000);

function problem(seed: number): GemmArgs {
  const rng = new Rng(seed);
  const fill = (len: number): Float32Array => Float32Array.from({ length: len }, () => rng.uniform(-1, 1));
  return { m: 96, n: 256, k: 128, a: fill(96 * 128), b: fill(128 * 256), c: new Float32Array(96 * 256) }; // 3.1 M multiply-adds
}
const product = (backend: Backend, p: GemmArgs): Float32Array => {
  const c = new Float32Array(p.c.length);
  backend.gemm({ ...p, c });
  return c;
};
const sameBits = (x: Float32Array, y: Float32Array): boolean => x.every((v, i) => Object.is(v, y[i]));

async function started(threads: number): Promise<Parallel> {
  const backend = lib.createParallelBackend({ threads });
  await backend.ready();
  return backend;
}

describe('a failing worker of the Node parallel GEMM', () => {
  it('terminated in the middle of its part: the supervisor hears it exit and the blocked caller throws at once', async () => {
    const backend = await started(3);
    try {
      const p = problem(1);
      const want = product(lib.blockedBackend, p);
      expect(sameBits(product(backend, p), want)).toBe(true);
      backend.drill({ kind: 'terminate', worker: 1, afterJobs: 2 });
      expect(sameBits(product(backend, p), want)).toBe(true); // the job before the drill's
      const t0 = performance.now();
      let error: unknown;
      try {
        product(backend, p);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(lib.GemmWorkerFault);
      expect((error as { reason: string }).reason).toBe('gemm worker 2 of 2 was terminated in the middle of a job (a fault drill)');
      expect((error as Error).message).toMatch(
        /^gemm worker 2 of 2 was terminated in the middle of a job \(a fault drill\) \(parallel gemm of 3 threads; the backend is closed\)$/,
      );
      expect(performance.now() - t0).toBeLessThan(20_000); // at once, give or take a loaded machine: no timeout is involved
      // The backend is closed: every later call says why, nothing hangs.
      expect(() => product(backend, p)).toThrow(/gemm worker 2 of 2 was terminated/);
      expect(() => backend.prepareB!({ k: 4, n: 4, b: new Float32Array(16) })).toThrow(/gemm worker 2 of 2 was terminated/);
    } finally {
      backend.close();
    }
  }, 60_000);

  it('that throws in its part reports itself: the caller throws with its error', async () => {
    const backend = await started(2);
    try {
      backend.drill({ kind: 'throw', afterJobs: 1 });
      expect(() => product(backend, problem(2))).toThrow(lib.GemmWorkerFault);
      expect(() => product(backend, problem(2))).toThrow(
        /^gemm worker 1 threw Error: fault drill \(throw\) at job 1 \(parallel gemm of 2 threads/,
      );
    } finally {
      backend.close();
    }
  }, 60_000);

  it('that stalls for 1.5 s in the middle of its part is waited for: the result is right, nothing is reported', async () => {
    const backend = await started(2);
    try {
      const p = problem(3);
      backend.drill({ kind: 'stall', ms: 1500 });
      const t0 = performance.now();
      const got = product(backend, p);
      expect(performance.now() - t0).toBeGreaterThanOrEqual(1400);
      expect(sameBits(got, product(lib.blockedBackend, p))).toBe(true);
      expect(sameBits(product(backend, problem(4)), product(lib.blockedBackend, problem(4)))).toBe(true);
    } finally {
      backend.close();
    }
  }, 60_000);

  it('after a fault, a new backend works (the old one cannot write into it: its buffers are its own)', async () => {
    const broken = await started(2);
    broken.drill({ kind: 'terminate' });
    expect(() => product(broken, problem(5))).toThrow(lib.GemmWorkerFault);
    broken.close();
    const fresh = await started(2);
    try {
      expect(sameBits(product(fresh, problem(5)), product(lib.blockedBackend, problem(5)))).toBe(true);
    } finally {
      fresh.close();
    }
  }, 60_000);
});
