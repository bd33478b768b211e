import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Tape as TapeClass } from '../src/autograd/tape.js';
import type { CharLM as CharLMClass } from '../src/nn/charlm.js';
import type { Backend, GemmArgs, PreparedB } from '../src/tensor/backend.js';
import type { Trainer as TrainerClass } from '../src/train/trainer.js';
import type { FaultDrill } from '../src/parallel/job-channel.js';
import { Rng } from '../src/tensor/rng.js';
import { ensureBuilt, ROOT } from './cli-helpers.js';
import { buildGemmProblem, gemmProblemArb } from './support/gemm-problems.js';
import { prepare, tinyOptions, wordCorpus } from './train-helpers.js';

/*
 * The wasm kernel on worker threads (createParallelBackend({ kernel: 'wasm' }), the compiled
 * package: worker threads run JavaScript) against the single-thread WasmBackend of the same
 * arithmetic: every product bit for bit, on random shapes large enough to be split (by rows and by
 * columns), every transpose, padded strides, offsets, accumulate, alpha, bias, prepared B, and
 * operands that live in the shared memory; a training run on 1 and 2 threads; the memory growing
 * between jobs; and the fault drills (a worker terminated, throwing, stalled) on this driver.
 */

type Threaded = Backend & {
  threads: number;
  describe(): string;
  close(): void;
  ready(): Promise<void>;
  drill(d: FaultDrill): void;
  allocate(n: number): Float32Array;
  heap: { byteLength: number };
};
type Wasm = Backend & { describe(): string; close(): void };
interface Built {
  createParallelBackend: (o: { threads: number; kernel: 'wasm'; fma?: boolean }) => Threaded;
  createWasmBackendSync: (o?: { fma?: boolean }) => Wasm;
  detectWasmFeatures: () => { fusedMultiplyAdd: boolean };
  GemmWorkerFault: new (reason: string, threads: number) => Error & { reason: string };
  Tape: typeof TapeClass;
  CharLM: typeof CharLMClass;
  Trainer: typeof TrainerClass;
}
let lib: Built;
const open: Threaded[] = [];

beforeAll(async () => {
  ensureBuilt();
  const load = async <T>(path: string): Promise<T> => (await import(`${ROOT}dist/${path}`)) as T;
  lib = {
    ...(await load<Pick<Built, 'createParallelBackend' | 'createWasmBackendSync' | 'GemmWorkerFault'>>('node/index.js')),
    ...(await load<Pick<Built, 'detectWasmFeatures'>>('wasm/index.js')),
    ...(await load<Pick<Built, 'Tape'>>('autograd/tape.js')),
    ...(await load<Pick<Built, 'CharLM'>>('nn/charlm.js')),
    ...(await load<Pick<Built, 'Trainer'>>('train/trainer.js')),
  };
}, 180_000);

afterAll(() => {
  for (const backend of open.splice(0)) backend.close();
});

async function threaded(threads: number, fma: boolean): Promise<Threaded> {
  const backend = lib.createParallelBackend({ threads, kernel: 'wasm', fma });
  open.push(backend);
  await backend.ready();
  return backend;
}

const sameBits = (x: ArrayLike<number>, y: ArrayLike<number>): boolean =>
  x.length === y.length && Array.prototype.every.call(x, (v: number, i: number) => Object.is(v, y[i]));

/** C after `backend` computes the problem (from a copy of its C), with B prepared first when asked. */
function compute(backend: Backend, args: GemmArgs, prepared: boolean): Float32Array {
  const c = Float32Array.from(args.c);
  let packedB: PreparedB | undefined;
  if (prepared) {
    packedB = backend.prepareB!({ k: args.k, n: args.n, b: args.b, bOffset: args.bOffset, ldb: args.ldb, transB: args.transB });
  }
  backend.gemm({ ...args, c, packedB });
  if (packedB) backend.releaseB?.(packedB);
  return c;
}

const fmaModes = (): boolean[] => (lib.detectWasmFeatures().fusedMultiplyAdd ? [true, false] : [false]);

describe('the wasm GEMM on worker threads', () => {
  it('says what it runs', async () => {
    const backend = await threaded(2, false);
    expect(backend.describe()).toBe('wasm-simd ×2');
    expect(backend.threads).toBe(2);
    const one = lib.createParallelBackend({ threads: 1, kernel: 'wasm', fma: false });
    expect(one.describe()).toBe('wasm-simd');
    one.close();
  }, 60_000);

  it('is bit-identical to the single-thread wasm backend on random products split by rows and by columns', async () => {
    for (const fma of fmaModes()) {
      const single = lib.createWasmBackendSync({ fma });
      const backends = [await threaded(2, fma), await threaded(3, fma)];
      // Tall (split by rows at multiples of 4) and wide (by columns at multiples of 16), each ≥ 2^20 multiply-adds.
      const tall = gemmProblemArb(
        fc.integer({ min: 129, max: 300 }),
        fc.integer({ min: 1, max: 129 }),
        fc.integer({ min: 100, max: 260 }),
        ['float32'],
      );
      const wide = gemmProblemArb(fc.integer({ min: 1, max: 70 }), fc.integer({ min: 300, max: 1100 }), fc.integer({ min: 40, max: 200 }), [
        'float32',
      ]);
      fc.assert(
        fc.property(fc.oneof(tall, wide), fc.boolean(), (p, prepared) => {
          const { args } = buildGemmProblem(p);
          const want = compute(single, args, prepared);
          for (const backend of backends) {
            const got = compute(backend, args, prepared);
            if (!sameBits(got, want)) return false;
          }
          return true;
        }),
        { numRuns: 40 },
      );
      single.close();
    }
  }, 180_000);

  it('splits a one-row product above the threshold bit-identically to the single-thread one-row kernel', async () => {
    // On one thread m = 1 runs the one-row kernel (gemm-row.ts); split, its column parts run the tiled driver's
    // one-row edge tile on the same row (its own packed panel). Both sum in k order: the bits must agree.
    for (const fma of fmaModes()) {
      const single = lib.createWasmBackendSync({ fma });
      const backend = await threaded(2, fma);
      const row = gemmProblemArb(fc.constant(1), fc.integer({ min: 1024, max: 1100 }), fc.integer({ min: 1024, max: 1100 }), ['float32']);
      fc.assert(
        fc.property(row, fc.boolean(), (p, prepared) => {
          const { args } = buildGemmProblem(p);
          return sameBits(compute(backend, args, prepared), compute(single, args, prepared));
        }),
        { numRuns: 8 },
      );
      single.close();
    }
  }, 180_000);

  it('reads and writes operands that live in its shared memory in place, and keeps working as the memory grows', async () => {
    const backend = await threaded(2, false);
    const single = lib.createWasmBackendSync({ fma: false });
    const rng = new Rng(3);
    const m = 48,
      n = 1024,
      k = 256;
    const a = backend.allocate(m * k),
      b = backend.allocate(k * n),
      c = backend.allocate(m * n);
    for (let i = 0; i < a.length; i++) a[i] = rng.uniform(-1, 1);
    for (let i = 0; i < b.length; i++) b[i] = rng.uniform(-1, 1);
    const want = new Float32Array(m * n);
    single.gemm({ m, n, k, a: Float32Array.from(a), b: Float32Array.from(b), c: want });
    backend.gemm({ m, n, k, a, b, c });
    expect(sameBits(c, want)).toBe(true);
    const before = backend.heap.byteLength;
    const big = backend.allocate(40_000_000); // grows the memory under the workers' instances
    expect(backend.heap.byteLength).toBeGreaterThan(before);
    const packedB = backend.prepareB!({ k, n, b }); // packed at the far end of the grown memory
    const c2 = new Float32Array(m * n);
    backend.gemm({ m, n, k, a, b, c: c2, packedB });
    expect(sameBits(c2, want)).toBe(true);
    expect(big.length).toBe(40_000_000);
    single.close();
  }, 60_000);

  it('trains bit-identically on 1 and 2 threads', async () => {
    const data = prepare(wordCorpus(40_000, 5));
    const steps = 6;
    const train = (backend: Backend): { losses: number[]; params: Float32Array[] } => {
      const model = new lib.CharLM(
        { cell: 'mlstm', weightNorm: false, vocab: data.codec.size, embed: 16, hidden: 128, layers: 1 },
        { rng: new Rng(4) },
      );
      const trainer = new lib.Trainer(model, data, tinyOptions({ steps, batch: 32, seq: 24, validEvery: 0 }), {
        tape: new lib.Tape({ backend }),
      });
      const losses: number[] = [];
      for (let s = 0; s < steps; s++) losses.push(trainer.trainStep().loss);
      return { losses, params: model.parameters().map((p) => (p.value.data as Float32Array).slice()) };
    };
    const one = lib.createParallelBackend({ threads: 1, kernel: 'wasm' });
    const single = train(one);
    one.close();
    const two = await threaded(2, lib.detectWasmFeatures().fusedMultiplyAdd);
    const parallel = train(two);
    expect(parallel.losses).toEqual(single.losses);
    expect(parallel.params.every((p, i) => sameBits(p, single.params[i]!))).toBe(true);
  }, 120_000);
});

describe('a failing worker of the wasm GEMM', () => {
  const problem = (seed: number): GemmArgs => {
    const rng = new Rng(seed);
    const fill = (len: number): Float32Array => Float32Array.from({ length: len }, () => rng.uniform(-1, 1));
    return { m: 32, n: 1024, k: 128, a: fill(32 * 128), b: fill(128 * 1024), c: new Float32Array(32 * 1024) };
  };

  it('terminated in the middle of its part: the caller throws GemmWorkerFault at once and the backend is closed', async () => {
    const backend = await threaded(3, false);
    const single = lib.createWasmBackendSync({ fma: false });
    const p = problem(1);
    const want = compute(single, p, false);
    expect(sameBits(compute(backend, p, false), want)).toBe(true);
    backend.drill({ kind: 'terminate', worker: 1, afterJobs: 2 });
    expect(sameBits(compute(backend, p, false), want)).toBe(true);
    let error: unknown;
    try {
      compute(backend, p, false);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(lib.GemmWorkerFault);
    expect((error as { reason: string }).reason).toBe('gemm worker 2 of 2 was terminated in the middle of a job (a fault drill)');
    expect(() => compute(backend, p, false)).toThrow(/gemm worker 2 of 2 was terminated/);
    expect(() => backend.prepareB!({ k: 4, n: 4, b: new Float32Array(16) })).toThrow(/gemm worker 2 of 2 was terminated/);
    single.close();
  }, 60_000);

  it('that throws in its part reports itself; one that stalls is waited for', async () => {
    const throwing = await threaded(2, false);
    throwing.drill({ kind: 'throw' });
    expect(() => compute(throwing, problem(2), false)).toThrow(
      /^gemm worker 1 threw Error: fault drill \(throw\) at job 1 \(parallel gemm of 2/,
    );
    const stalling = await threaded(2, false);
    const single = lib.createWasmBackendSync({ fma: false });
    stalling.drill({ kind: 'stall', ms: 1000 });
    const t0 = performance.now();
    const got = compute(stalling, problem(3), true);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(900);
    expect(sameBits(got, compute(single, problem(3), true))).toBe(true);
    single.close();
  }, 60_000);
});
