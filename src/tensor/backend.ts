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

/**
 * The mLSTM forward time loop of one window (T ≥ 2), with the buffers of nn/functional/mlstm.ts, for a
 * backend that runs the whole loop in one call (RecurrentWindows): per step t
 *   HM_t = Hin_t·wmhᵀ,  M_t = XM_t ⊙ HM_t,  Z_t += M_t·whmᵀ,  gates(Z_t, c_{t−1}) → c_t, h_t (saved S_t),
 *   and with a mask Hin_{t+1} = mask ⊙ h_t.
 * Every batch row's recurrence is independent of the others', so such a backend may split the rows
 * between threads for the whole window: no synchronisation per step.
 */
export interface MLSTMForwardWindow {
  T: number;
  B: number;
  H: number;
  Hin: Storage; // [T+1,B,H] row t: what step t reads, h̃_{t−1} (Hbuf itself without a mask)
  Hbuf: Storage; // [T+1,B,H] row 0 = h0 (set), row t+1 = h_t (written)
  Cbuf: Storage; // [T+1,B,H] likewise for c
  XM: Storage; // [T,B,H] x_t·wmxᵀ
  HM: Storage; // [T,B,H], or [B,H] with hmStride 0 (not recording)
  hmStride: number; // elements between steps of HM: B·H or 0
  M: Storage; // [T,B,H] m_t (written)
  Z: Storage; // [T,B,4H] x_t·whxᵀ + bias on entry, z_t on return
  S: Storage; // [T,B,5H] saved gate values, or [B,5H] with savedStride 0
  savedStride: number; // elements between steps of S: B·5H or 0
  mask: Storage | null; // [B,H] the variational hidden-dropout mask, or null
  wmh: PreparedB; // wmhᵀ as op(B) [H,H], from this backend's prepareB
  whm: PreparedB; // whmᵀ as op(B) [H,4H]
}

/**
 * The mLSTM backward sweep of one window (T ≥ 2), t = T−1 … 0, in the form of nn/functional/mlstm.ts:
 *   dhCell = DH_{t+1} (with a mask: mask ⊙ DH_{t+1}; at t = T−1 the caller's dhCellLast),
 *   gates backward → DZ_t and dc ← ∂L/∂c_{t−1},  dm = DZ_t·whm,  DXM_t = dm ⊙ HM_t,  DHM_t = dm ⊙ XM_t,
 *   DH_t += DHM_t·wmh   (for t = 0 only when needH0).
 */
export interface MLSTMBackwardWindow {
  T: number;
  B: number;
  H: number;
  S: Storage; // [T,B,5H] saved gate values
  Cbuf: Storage; // [T+1,B,H] row t = c_{t−1}
  XM: Storage; // [T,B,H]
  HM: Storage; // [T,B,H]
  DZ: Storage; // [T,B,4H] written
  DH: Storage; // [T+1,B,H] row t+1: ∂L/∂h̃_t from the outputs on entry; step t+1 adds what it sends back; row 0 ends as ∂L/∂h̃_{−1}
  dhCell: Storage | null; // [B,H] scratch, with a mask
  dhCellLast: Storage | null; // [B,H] with a mask: ∂L/∂h_{T−1} as step T−1 reads it (the caller's)
  dc: Storage; // [B,H] ∂L/∂c_{T−1} on entry, ∂L/∂c_{−1} on return
  dm: Storage; // [B,H] scratch
  DXM: Storage; // [T,B,H] written
  DHM: Storage; // [T,B,H] written
  mask: Storage | null; // [B,H]
  whm: PreparedB; // whm as op(B) [4H,H]
  wmh: PreparedB; // wmh as op(B) [H,H]
  needH0: boolean;
}

/**
 * The LSTM forward time loop of one window (T ≥ 2), with the buffers of nn/functional/lstm.ts: per step t
 *   Z_t += Hin_t·whᵀ,  gates(Z_t, c_{t−1}) → c_t, h_t (saved S_t),  and with a mask Hin_{t+1} = mask ⊙ h_t.
 */
export interface LSTMForwardWindow {
  T: number;
  B: number;
  H: number;
  Hin: Storage; // [T+1,B,H] row t: what step t reads (Hbuf itself without a mask)
  Hbuf: Storage; // [T+1,B,H] row 0 = h0 (set), row t+1 = h_t (written)
  Cbuf: Storage; // [T+1,B,H] likewise for c
  Z: Storage; // [T,B,4H] x_t·wxᵀ + bias on entry, z_t on return
  S: Storage; // [T,B,5H] saved gate values, or [B,5H] with savedStride 0
  savedStride: number;
  mask: Storage | null; // [B,H]
  wh: PreparedB; // whᵀ as op(B) [H,4H]
}

/**
 * The LSTM backward sweep of one window (T ≥ 2), t = T−1 … 0, in the form of nn/functional/lstm.ts:
 *   dhCell as for the mLSTM (MLSTMBackwardWindow), gates backward → DZ_t and dc,  DH_t += DZ_t·wh (t = 0: when needH0).
 */
export interface LSTMBackwardWindow {
  T: number;
  B: number;
  H: number;
  S: Storage; // [T,B,5H]
  Cbuf: Storage; // [T+1,B,H]
  DZ: Storage; // [T,B,4H] written
  DH: Storage; // [T+1,B,H] as in MLSTMBackwardWindow
  dhCell: Storage | null;
  dhCellLast: Storage | null;
  dc: Storage; // [B,H]
  mask: Storage | null;
  wh: PreparedB; // wh as op(B) [4H,H]
  needH0: boolean;
}

/**
 * The mRNN forward time loop of one window (T ≥ 2), with the buffers of nn/functional/mrnn.ts: per step t
 *   HM_t = Hin_t·wmhᵀ,  M_t = XM_t ⊙ HM_t,  Z_t += M_t·whmᵀ,  h_t = tanh(Z_t),  and with a mask Hin_{t+1} = mask ⊙ h_t.
 */
export interface MRNNForwardWindow {
  T: number;
  B: number;
  H: number;
  Hin: Storage; // [T+1,B,H]
  Hbuf: Storage; // [T+1,B,H] row 0 = h0 (set), row t+1 = h_t (written)
  XM: Storage; // [T,B,H]
  HM: Storage; // [T,B,H], or [B,H] with hmStride 0
  hmStride: number;
  M: Storage; // [T,B,H] written
  Z: Storage; // [T,B,H] x_t·whxᵀ + bias on entry, z_t on return
  mask: Storage | null; // [B,H]
  wmh: PreparedB; // wmhᵀ as op(B) [H,H]
  whm: PreparedB; // whmᵀ as op(B) [H,H]
}

/**
 * The mRNN backward sweep of one window (T ≥ 2), t = T−1 … 0: dhCell as for the mLSTM, DZ_t = dhCell ⊙ (1 − h_t²),
 * dm = DZ_t·whm, DXM_t = dm ⊙ HM_t, DHM_t = dm ⊙ XM_t, DH_t += DHM_t·wmh (t = 0: when needH0).
 */
export interface MRNNBackwardWindow {
  T: number;
  B: number;
  H: number;
  Hbuf: Storage; // [T+1,B,H] row t+1 = h_t (tanh′ reads the unmasked h)
  XM: Storage; // [T,B,H]
  HM: Storage; // [T,B,H]
  DZ: Storage; // [T,B,H] written
  DH: Storage; // [T+1,B,H] as in MLSTMBackwardWindow
  dhCell: Storage | null;
  dhCellLast: Storage | null;
  dm: Storage; // [B,H] scratch
  DXM: Storage; // [T,B,H] written
  DHM: Storage; // [T,B,H] written
  mask: Storage | null;
  whm: PreparedB; // whm as op(B) [H,H]
  wmh: PreparedB; // wmh as op(B) [H,H]
  needH0: boolean;
}

/**
 * Optional whole-window time loops (Backend.recurrentWindows). Each returns false, having done
 * nothing, when it cannot take the call (an operand outside its memory, float64, a prepared operand
 * it did not make): the caller then runs its own loop, which computes the same bits.
 */
export interface RecurrentWindows {
  mlstmForward(w: MLSTMForwardWindow): boolean;
  mlstmBackward(w: MLSTMBackwardWindow): boolean;
  lstmForward(w: LSTMForwardWindow): boolean;
  lstmBackward(w: LSTMBackwardWindow): boolean;
  mrnnForward(w: MRNNForwardWindow): boolean;
  mrnnBackward(w: MRNNBackwardWindow): boolean;
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
  /** Optional: the cells' time loops, a window in one call each (RecurrentWindows), e.g. split by batch rows across threads. */
  readonly recurrentWindows?: RecurrentWindows;
  /**
   * Ends the backend: threads stop, memory may go; it must not be used afterwards. A no-op for the
   * JS single-thread backends (nothing to free), so callers close whatever backend they created.
   */
  close(): void;
}
