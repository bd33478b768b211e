import type { Storage } from './dtype.js';
// The signatures (and docs: buffers, layouts, aliasing) of the recurrent kernels are the JS kernels' own.
import type { lstmGatesBackward, lstmGatesForward } from './kernels/recurrent-lstm-gates.js';
import type { multiplicativeBackward, multiplicativeForward } from './kernels/recurrent-multiplicative.js';
import type { tanhBackward, tanhForward } from './kernels/recurrent-tanh.js';

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
  /**
   * op(B) already packed by this backend's `prepareB` from the same b, bOffset, ldb, transB, k and
   * n (and b's contents unchanged since). A backend may read it instead of b; the result is the
   * same, bit for bit. A backend ignores a prepared operand it did not make (it then reads b),
   * so a call stays correct on every backend.
   */
  packedB?: PreparedB;
}

/** The fields of GemmArgs that define op(B) [k,n]: what `Backend.prepareB` packs. */
export type PrepareBArgs = Pick<GemmArgs, 'k' | 'n' | 'b' | 'bOffset' | 'ldb' | 'transB'>;

/**
 * An op(B) packed once for many gemms with the same B (a weight matrix across the T steps of a
 * window): opaque outside the backend that made it. It snapshots b's values at preparation, so it
 * is valid only while b is unchanged (prepare again after an optimiser step).
 */
export interface PreparedB {
  /** Rows of op(B). */
  readonly k: number;
  /** Columns of op(B). */
  readonly n: number;
}

/**
 * The fused elementwise kernels of the recurrent cells (everything of a time step that is not a
 * product): pure functions over flat arrays with an offset per buffer, so a caller addresses step t
 * of a [T,B,·] buffer without copying. The JS kernels of src/tensor/kernels/recurrent-*.ts define
 * the semantics, buffer layouts and aliasing rules (and hold the derivations); a backend's table
 * computes the same functions to the accuracy it states. Every operand of one call has the same
 * dtype (float64 for gradient checks: a float32-only kernel then runs the JS one).
 */
export interface RecurrentKernels {
  /** c = σ(f)⊙c_prev + σ(i)⊙tanh(g), h = σ(o)⊙tanh(c) for one step, saving σ(i), σ(f), tanh(g), σ(o), tanh(c). */
  readonly lstmGatesForward: typeof lstmGatesForward;
  /** ∂L/∂z [B,4H] and ∂L/∂c_prev [B,H] of one step from the saved activations; dcPrev may be dcNext. */
  readonly lstmGatesBackward: typeof lstmGatesBackward;
  /** m = xm ⊙ hm over n elements (the mLSTM's and mRNN's multiplicative state). */
  readonly multiplicativeForward: typeof multiplicativeForward;
  /** dxm = dm ⊙ hm, dhm = dm ⊙ xm over n elements. */
  readonly multiplicativeBackward: typeof multiplicativeBackward;
  /** h = tanh(z) over n elements (the mRNN's output). */
  readonly tanhForward: typeof tanhForward;
  /** dz = dh ⊙ (1 − h²) over n elements; dz may be dh. */
  readonly tanhBackward: typeof tanhBackward;
  /** What each kernel guarantees against the exact function, in words (the tests check the bounds stated). */
  readonly accuracy: Readonly<Record<RecurrentKernelName, string>>;
}

/** The kernels of a RecurrentKernels table. */
export type RecurrentKernelName = Exclude<keyof RecurrentKernels, 'accuracy'>;

/**
 * The one interface behind which every hot kernel lives: the products (gemm, prepareB, releaseB)
 * and the recurrent cells' elementwise kernels (recurrent). A faster implementation (a packed JS
 * kernel, worker threads, WebAssembly SIMD) replaces it without touching autograd or nn: they
 * receive a Backend and call only this. A backend with nothing special for the cells uses the JS
 * kernels: `recurrent: jsRecurrentKernels` (src/tensor/kernels/recurrent-kernels.ts).
 */
export interface Backend {
  readonly name: string;
  /** Which kernels run, for banners and bench rows: 'js', 'wasm-simd fma', 'wasm-simd'. */
  describe(): string;
  gemm(args: GemmArgs): void;
  /**
   * Optional: pack op(B) once so that repeated gemms with `packedB` set skip re-packing it (in a
   * recurrent time loop the weight operand is the same at every step while A changes). Backends
   * without it simply read b each call; callers write `args.packedB = backend.prepareB?.(args)`.
   */
  prepareB?(args: PrepareBArgs): PreparedB;
  /**
   * Optional: the caller will not use `prepared` (made by this backend's prepareB) again, so the
   * backend may reuse its memory for the next prepareB (using it afterwards is an error). Callers
   * that prepare in a loop write `backend.releaseB?.(prepared)` when the loop is done.
   */
  releaseB?(prepared: PreparedB): void;
  /**
   * Optional, with `free`: a zero-filled float32 array in memory the kernels read and write in place
   * (the wasm backend's: no copy in or out per call), owned by the caller until it gives it back
   * with `free`. Where a backend cannot place it so, it returns an ordinary array (which free
   * ignores). A Tape's workspace keeps the fused recurrent ops' internal buffers here.
   */
  allocate?(length: number): Float32Array;
  /** Gives back an array from `allocate` (the caller must not touch it afterwards). */
  free?(array: Float32Array): void;
  /** The fused recurrent gate kernels the nn ops call (never the JS ones directly). */
  readonly recurrent: RecurrentKernels;
  /**
   * Ends the backend: threads stop, memory may go; it must not be used afterwards. A no-op for the
   * JS single-thread backends (nothing to free), so callers close whatever backend they created.
   */
  close(): void;
}
