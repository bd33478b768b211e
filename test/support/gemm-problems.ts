import fc from 'fast-check';
import type { GemmArgs } from '../../src/tensor/backend.js';
import type { DType, Storage } from '../../src/tensor/dtype.js';
import { Rng } from '../../src/tensor/rng.js';
import { gemmNaive } from '../../src/tensor/kernels/gemm-naive.js';

/*
 * Random GEMM problems for the kernel tests (test/gemm.test.ts, test/wasm-gemm.test.ts): every
 * GemmArgs variant (transposes, padded leading dimensions, offsets, accumulate, bias, alpha, the
 * dtype of each operand), built reproducibly from a seed, with the per-element magnitude the error
 * bounds are stated in.
 */

export interface GemmProblem {
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
  dtA: DType;
  dtB: DType;
  dtC: DType;
  padA: number; // lda − (columns of stored A)
  padB: number;
  padC: number;
  aOffset: number;
  bOffset: number;
  cOffset: number;
  accumulate: boolean;
  withBias: boolean;
  biasOffset: number;
  alpha: number;
  seed: number;
}

/** The 1×1×1 float32 problem with every option off: spread it and set what a test needs. */
export const BASE_GEMM_PROBLEM: Readonly<GemmProblem> = Object.freeze({
  m: 1,
  n: 1,
  k: 1,
  transA: false,
  transB: false,
  dtA: 'float32',
  dtB: 'float32',
  dtC: 'float32',
  padA: 0,
  padB: 0,
  padC: 0,
  aOffset: 0,
  bOffset: 0,
  cOffset: 0,
  accumulate: false,
  withBias: false,
  biasOffset: 0,
  alpha: 1,
  seed: 1,
});

/** Problems with the given dimension arbitraries; `dtypes` are drawn per operand (default both). */
export function gemmProblemArb(
  mArb: fc.Arbitrary<number>,
  nArb: fc.Arbitrary<number>,
  kArb: fc.Arbitrary<number>,
  dtypes: readonly DType[] = ['float32', 'float64'],
): fc.Arbitrary<GemmProblem> {
  const dt = fc.constantFrom(...dtypes);
  const small = fc.integer({ min: 0, max: 3 });
  return fc.record({
    m: mArb,
    n: nArb,
    k: kArb,
    transA: fc.boolean(),
    transB: fc.boolean(),
    dtA: dt,
    dtB: dt,
    dtC: dt,
    padA: small,
    padB: small,
    padC: small,
    aOffset: small,
    bOffset: small,
    cOffset: small,
    accumulate: fc.boolean(),
    withBias: fc.boolean(),
    biasOffset: small,
    alpha: fc.oneof(fc.constant(1), fc.double({ min: -2, max: 2, noNaN: true })),
    seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  });
}

/** Makes an array of `length` elements of `dtype` (tests of the wasm backend pass its allocate). */
export type Allocator = (dtype: DType, length: number) => Storage;
const ordinary: Allocator = (dtype, length) => (dtype === 'float64' ? new Float64Array(length) : new Float32Array(length));

export interface BuiltGemm {
  args: GemmArgs;
  /** C before the call (args.c is a copy that the kernel under test overwrites). */
  c0: Storage;
}

/**
 * The problem's operands, uniform in [−1, 1) from its seed, each with a few elements beyond what the
 * call may touch (so a kernel writing outside C's window is caught).
 */
export function buildGemmProblem(p: GemmProblem, alloc: Allocator = ordinary): BuiltGemm {
  const rng = new Rng(p.seed);
  const [aRows, aCols] = p.transA ? [p.k, p.m] : [p.m, p.k];
  const [bRows, bCols] = p.transB ? [p.n, p.k] : [p.k, p.n];
  const lda = aCols + p.padA;
  const ldb = bCols + p.padB;
  const ldc = p.n + p.padC;
  const fill = (x: Storage): Storage => {
    for (let i = 0; i < x.length; i++) x[i] = rng.uniform(-1, 1);
    return x;
  };
  const a = fill(alloc(p.dtA, p.aOffset + (aRows - 1) * lda + aCols + p.padA));
  const b = fill(alloc(p.dtB, p.bOffset + (bRows - 1) * ldb + bCols + p.padB));
  const c0 = fill(ordinary(p.dtC, p.cOffset + (p.m - 1) * ldc + p.n + p.padC));
  const c = alloc(p.dtC, c0.length);
  c.set(c0);
  const args: GemmArgs = {
    m: p.m,
    n: p.n,
    k: p.k,
    a,
    aOffset: p.aOffset,
    lda,
    transA: p.transA,
    b,
    bOffset: p.bOffset,
    ldb,
    transB: p.transB,
    c,
    cOffset: p.cOffset,
    ldc,
    accumulate: p.accumulate,
    alpha: p.alpha,
  };
  if (p.withBias) {
    args.bias = fill(alloc(p.dtC, p.biasOffset + p.n));
    args.biasOffset = p.biasOffset;
  }
  return { args, c0 };
}

/** M per element of C: |alpha|·|op(A)|·|op(B)| + |bias| + |C_old| (a naive GEMM on absolute values). */
export function gemmMagnitudes({ args, c0 }: BuiltGemm): Float64Array {
  const abs = (x: Storage): Float64Array => Float64Array.from(x, Math.abs);
  const mag = abs(c0);
  gemmNaive({
    ...args,
    a: abs(args.a),
    b: abs(args.b),
    c: mag,
    alpha: Math.abs(args.alpha ?? 1),
    accumulate: args.accumulate,
    bias: args.bias ? abs(args.bias) : undefined,
  });
  return mag;
}

/** Whether index idx of args.c lies in C's m×n window (row stride ldc from cOffset). */
export function insideC(args: GemmArgs, idx: number): boolean {
  const ldc = args.ldc ?? args.n;
  const r = idx - (args.cOffset ?? 0);
  return r >= 0 && Math.floor(r / ldc) < args.m && r % ldc < args.n;
}
