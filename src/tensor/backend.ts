import type { Storage } from './dtype.js';

/**
 * General matrix multiply, the one hot kernel everything else reduces to:
 *
 *   C[m,n] = (accumulate ? C : 0) + alpha · op(A)[m,k] · op(B)[k,n] (+ bias[n] on every row)
 *
 * op(A) is A stored as [m,k] (row stride lda, default k), or with transA the transpose of A stored
 * as [k,m] (row stride lda, default m); likewise op(B) is [k,n] (ldb default n) or, with transB,
 * B stored as [n,k] (ldb default k). C is [m,n] with row stride ldc (default n). Offsets let a caller
 * address one time step of a [T,B,·] buffer without copying. A, B and C must not overlap.
 */
export interface GemmArgs {
  m: number;
  n: number;
  k: number;
  a: Storage;
  aOffset?: number;
  lda?: number;
  transA?: boolean;
  b: Storage;
  bOffset?: number;
  ldb?: number;
  transB?: boolean;
  c: Storage;
  cOffset?: number;
  ldc?: number;
  /** Add into C instead of overwriting it (gradient accumulation). */
  accumulate?: boolean;
  /** Scale of the product (default 1). */
  alpha?: number;
  /** [n], added to every row of C after the product (fused epilogue). */
  bias?: Storage;
  biasOffset?: number;
}

/**
 * The small interface behind which the hot kernels live. A faster implementation (a packed JS
 * kernel, worker threads, WebAssembly SIMD) replaces it without touching autograd or nn: they
 * receive a Backend and call only this.
 */
export interface Backend {
  readonly name: string;
  gemm(args: GemmArgs): void;
}
