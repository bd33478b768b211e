import type { Backend, GemmArgs } from '../../tensor/backend.js';
import { promote, type DType, type Storage } from '../../tensor/dtype.js';
import { formatShape, ShapeError } from '../../tensor/shape.js';
import type { Var } from '../../autograd/var.js';

/**
 * Shape checking and small helpers shared by the fused recurrent ops (mlstm.ts, lstm.ts, mrnn.ts).
 * The ops themselves keep their forward and backward side by side in their own files.
 */

/** Sizes of one recurrent call: T steps (1 for a step op), batch B, input D, hidden H. */
export interface RecurrentDims {
  T: number;
  B: number;
  D: number;
  H: number;
  /** The dtype every buffer of the call takes: float64 if any operand is float64. */
  dtype: DType;
}

/**
 * Validate x, h (and c) of a sequence op (x [T,B,D]) or a step op (x [B,D]) and read off the sizes.
 * `names` are how the state arguments are called in messages (h0/c0 for sequences, h/c for steps).
 */
export function recurrentDims(
  op: string,
  form: 'sequence' | 'step',
  x: Var,
  h: Var,
  c: Var | null,
  names: { h: string; c: string },
): Omit<RecurrentDims, 'dtype'> {
  const xs = x.shape;
  let T: number;
  let B: number;
  let D: number;
  if (form === 'sequence') {
    if (xs.length !== 3) throw new ShapeError(`${op}: x must be [T,B,D] (time-major), got ${formatShape(xs)}`);
    [T, B, D] = xs as [number, number, number];
  } else {
    if (xs.length !== 2) throw new ShapeError(`${op}: x must be [B,D] (one time step), got ${formatShape(xs)}`);
    T = 1;
    [B, D] = xs as [number, number];
  }
  if (B < 1 || D < 1) throw new ShapeError(`${op}: x ${formatShape(xs)} has an empty batch or feature dimension`);
  const hs = h.shape;
  if (hs.length !== 2 || hs[0] !== B || hs[1]! < 1) {
    throw new ShapeError(`${op}: ${names.h} must be [B,H] with B=${B} to match x ${formatShape(xs)}, got ${formatShape(hs)}`);
  }
  const H = hs[1]!;
  if (c && (c.shape.length !== 2 || c.shape[0] !== B || c.shape[1] !== H)) {
    throw new ShapeError(`${op}: ${names.c} must have the shape of ${names.h} ${formatShape(hs)}, got ${formatShape(c.shape)}`);
  }
  return { T, B, D, H };
}

/** Throw unless `v` has exactly `expected`; `legend` says what the symbols are (e.g. "[4H,D] with H=5, D=3"). */
export function checkWeight(op: string, name: string, v: Var, expected: readonly number[], legend: string): void {
  const s = v.shape;
  if (s.length !== expected.length || s.some((d, i) => d !== expected[i])) {
    throw new ShapeError(`${op}: weight '${name}' has shape ${formatShape(s)} but ${legend} = ${formatShape(expected)} is required`);
  }
}

/** The dtype of a call: float64 as soon as one operand is float64 (as everywhere in the engine). */
export function commonDtype(vars: readonly Var[]): DType {
  let d: DType = 'float32';
  for (const v of vars) d = promote(d, v.value.dtype);
  return d;
}

/** dst[j] += Σ_r src[r·cols + j]: the bias gradient, summing ∂L/∂z over all T·B rows. src [rows,cols], dst [cols]. */
export function addColumnSums(dst: Storage, src: Storage, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let j = 0; j < cols; j++) dst[j]! += src[o + j]!;
  }
}

/** dst[k] += src[k] for k < n. */
export function addInto(dst: Storage, src: Storage, n: number, srcOff = 0): void {
  for (let k = 0; k < n; k++) dst[k]! += src[srcOff + k]!;
}

/**
 * Returns `args` with args.packedB set when the backend can pack a time loop's weight operand
 * (args.b, the same matrix at every step) once for the `steps` gemms that use it, instead of once
 * per step (see gemm-prepared.ts). Skipped for a single step, where preparing would only add a
 * copy, and on backends without prepareB.
 */
export function withLoopWeight(backend: Backend, steps: number, args: GemmArgs): GemmArgs {
  if (steps >= 2 && backend.prepareB !== undefined) args.packedB = backend.prepareB(args);
  return args;
}

/** What the multiplicative cells (mLSTM, mRNN) keep from a window for their parameter gradients. */
export interface MultiplicativeWindow {
  T: number;
  B: number;
  D: number;
  H: number;
  /** Rows of whx/whm/bias: 4H for the mLSTM (gates i,f,g,o), H for the mRNN. */
  G: number;
  x: Var; // [T,B,D]
  w: { wmx: Var; wmh: Var; whx: Var; whm: Var; bias: Var };
  DZ: Storage; // [T,B,G] ∂L/∂z_t
  DXM: Storage; // [T,B,H] ∂L/∂(x_t·wmxᵀ)
  DHM: Storage; // [T,B,H] ∂L/∂(h_{t−1}·wmhᵀ)
  M: Storage; // [T,B,H] m_t
  Hprev: Storage; // [T+1,B,H] rows 0..T−1 are h_{−1} … h_{T−2}
}

/**
 * The parameter and input gradients of a multiplicative cell after its backward sweep. They are sums
 * over steps of per-step outer products, so each is ONE gemm over all T·B rows with a transposed
 * operand (accumulating, as every backward does):
 *   dwhm += DZᵀ·M, dwmh += DHMᵀ·H_prev, dwhx += DZᵀ·X, dwmx += DXMᵀ·X, dbias += Σ_rows DZ,
 *   dx += DZ·whx + DXM·wmx.
 */
export function accumulateMultiplicativeGrads(backend: Backend, win: MultiplicativeWindow, grad: (v: Var) => Storage | null): void {
  const { T, B, D, H, G, x, w, DZ, DXM, DHM, M, Hprev } = win;
  const TB = T * B;
  if (TB === 0) return;
  const xd = x.data;
  const g = { wmx: grad(w.wmx), wmh: grad(w.wmh), whx: grad(w.whx), whm: grad(w.whm), bias: grad(w.bias), x: grad(x) };
  // [G,H] += [T·B,G]ᵀ·[T·B,H]
  if (g.whm) backend.gemm({ m: G, n: H, k: TB, a: DZ, transA: true, b: M, c: g.whm, accumulate: true });
  // [H,H] += [T·B,H]ᵀ·H_prev
  if (g.wmh) backend.gemm({ m: H, n: H, k: TB, a: DHM, transA: true, b: Hprev, c: g.wmh, accumulate: true });
  // [G,D] += [T·B,G]ᵀ·[T·B,D]
  if (g.whx) backend.gemm({ m: G, n: D, k: TB, a: DZ, transA: true, b: xd, c: g.whx, accumulate: true });
  // [H,D] += [T·B,H]ᵀ·[T·B,D]
  if (g.wmx) backend.gemm({ m: H, n: D, k: TB, a: DXM, transA: true, b: xd, c: g.wmx, accumulate: true });
  if (g.bias) addColumnSums(g.bias, DZ, TB, G);
  if (g.x) {
    // [T·B,D] += [T·B,G]·[G,D] + [T·B,H]·[H,D]
    backend.gemm({ m: TB, n: D, k: G, a: DZ, b: w.whx.data, c: g.x, accumulate: true });
    backend.gemm({ m: TB, n: D, k: H, a: DXM, b: w.wmx.data, c: g.x, accumulate: true });
  }
}

/**
 * Rows 1..T of a [T+1,rowSize] state buffer (h_0 … h_{T−1} of a window, row 0 being the initial state)
 * as a VIEW, the `hs` / `cs` output of a sequence op: a copy would be T·rowSize fresh elements per call
 * for values that already sit in the buffer. Sharing is safe because nothing writes into an op's
 * output value in place (ops allocate their results, parameters are the only values updated in place,
 * and they are leaves); the backward reads the same buffer (h_prev, c_prev; the mRNN also h_t) and sees the
 * forward's values. Consumers must index from 0 of the view, never `.buffer` without `byteOffset`
 * (safetensors encoding and the gemm alias check do use byteOffset).
 */
export function stepRows(buf: Storage, rowSize: number, T: number): Storage {
  return buf.subarray(rowSize, (T + 1) * rowSize);
}

/**
 * Row T (the final state) of a [T+1,rowSize] state buffer as a COPY: the final state is what truncated
 * BPTT carries into the next window (detached), and a view would keep the whole window's buffer alive
 * until then for the sake of one row.
 */
export function lastRowCopy(buf: Storage, rowSize: number, T: number): Storage {
  return buf.slice(T * rowSize, (T + 1) * rowSize);
}
