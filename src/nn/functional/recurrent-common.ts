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
