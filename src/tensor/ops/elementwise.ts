import { allocate, promote, type Storage } from '../dtype.js';
import { broadcastShapes, sizeOf } from '../shape.js';
import { Tensor } from '../tensor.js';
import { broadcastBinary, type BinaryRowKernel } from './broadcast.js';
import { stableSigmoid } from '../kernels/stable-sigmoid.js';

/*
 * Element-wise kernels over flat arrays, and Tensor wrappers that allocate their result.
 * Unary kernels read x[0..n) and write out[0..n) (`out` may be `x`: in place is safe).
 * Binary ops broadcast as NumPy does; mixing float32 and float64 computes in float64.
 * Invalid points follow IEEE: log of a negative is NaN, log(0) = -Infinity, x/0 = ±Infinity —
 * nothing is clamped, so a NaN always shows where it came from instead of being hidden.
 */

// ------------------------------------------------------------------ unary kernels  x: [n], out: [n]

export function negKernel(x: Storage, out: Storage): void {
  for (let i = 0; i < out.length; i++) out[i] = -x[i]!;
}
export function expKernel(x: Storage, out: Storage): void {
  for (let i = 0; i < out.length; i++) out[i] = Math.exp(x[i]!);
}
export function logKernel(x: Storage, out: Storage): void {
  for (let i = 0; i < out.length; i++) out[i] = Math.log(x[i]!);
}
export function tanhKernel(x: Storage, out: Storage): void {
  for (let i = 0; i < out.length; i++) out[i] = Math.tanh(x[i]!);
}
/** σ(x), by stableSigmoid (no overflow for x < 0). */
export function sigmoidKernel(x: Storage, out: Storage): void {
  for (let i = 0; i < out.length; i++) out[i] = stableSigmoid(x[i]!);
}
/** max(x, 0); written `x < 0 ? 0 : x` so that NaN propagates instead of silently becoming 0. */
export function reluKernel(x: Storage, out: Storage): void {
  for (let i = 0; i < out.length; i++) {
    const v = x[i]!;
    out[i] = v < 0 ? 0 : v;
  }
}
export function sqrtKernel(x: Storage, out: Storage): void {
  for (let i = 0; i < out.length; i++) out[i] = Math.sqrt(x[i]!);
}
export function absKernel(x: Storage, out: Storage): void {
  for (let i = 0; i < out.length; i++) out[i] = Math.abs(x[i]!);
}
export function squareKernel(x: Storage, out: Storage): void {
  for (let i = 0; i < out.length; i++) {
    const v = x[i]!;
    out[i] = v * v;
  }
}
/** x ** p for a scalar exponent (IEEE/JS semantics: a negative base with a fractional p is NaN). */
export function powScalarKernel(x: Storage, p: number, out: Storage): void {
  if (p === 2) return squareKernel(x, out);
  for (let i = 0; i < out.length; i++) out[i] = x[i]! ** p;
}
export function scaleKernel(x: Storage, s: number, out: Storage): void {
  for (let i = 0; i < out.length; i++) out[i] = x[i]! * s;
}
export function addScalarKernel(x: Storage, s: number, out: Storage): void {
  for (let i = 0; i < out.length; i++) out[i] = x[i]! + s;
}

function unary(x: Tensor, kernel: (x: Storage, out: Storage) => void): Tensor {
  const out = allocate(x.dtype, x.size);
  kernel(x.data, out);
  return new Tensor(out, x.shape);
}

export const negTensor = (x: Tensor): Tensor => unary(x, negKernel);
export const expTensor = (x: Tensor): Tensor => unary(x, expKernel);
export const logTensor = (x: Tensor): Tensor => unary(x, logKernel);
export const tanhTensor = (x: Tensor): Tensor => unary(x, tanhKernel);
export const sigmoidTensor = (x: Tensor): Tensor => unary(x, sigmoidKernel);
export const reluTensor = (x: Tensor): Tensor => unary(x, reluKernel);
export const sqrtTensor = (x: Tensor): Tensor => unary(x, sqrtKernel);
export const absTensor = (x: Tensor): Tensor => unary(x, absKernel);
export const squareTensor = (x: Tensor): Tensor => unary(x, squareKernel);
/** x · s */
export const scaleTensor = (x: Tensor, s: number): Tensor => unary(x, (xd, out) => scaleKernel(xd, s, out));
/** x + s */
export const addScalarTensor = (x: Tensor, s: number): Tensor => unary(x, (xd, out) => addScalarKernel(xd, s, out));

/** x ** p: a scalar exponent, or a tensor exponent broadcast against x. */
export function powTensor(x: Tensor, p: number | Tensor): Tensor {
  if (typeof p === 'number') return unary(x, (xd, out) => powScalarKernel(xd, p, out));
  return binaryTensor('pow', powRow, x, p);
}

// ------------------------------------------------------------------ binary row kernels (see BinaryRowKernel)

export const addRow: BinaryRowKernel = (a, ao, as, b, bo, bs, out, oo, n) => {
  for (let i = 0; i < n; i++) out[oo + i] = a[ao + i * as]! + b[bo + i * bs]!;
};
export const subRow: BinaryRowKernel = (a, ao, as, b, bo, bs, out, oo, n) => {
  for (let i = 0; i < n; i++) out[oo + i] = a[ao + i * as]! - b[bo + i * bs]!;
};
export const mulRow: BinaryRowKernel = (a, ao, as, b, bo, bs, out, oo, n) => {
  for (let i = 0; i < n; i++) out[oo + i] = a[ao + i * as]! * b[bo + i * bs]!;
};
export const divRow: BinaryRowKernel = (a, ao, as, b, bo, bs, out, oo, n) => {
  for (let i = 0; i < n; i++) out[oo + i] = a[ao + i * as]! / b[bo + i * bs]!;
};
export const powRow: BinaryRowKernel = (a, ao, as, b, bo, bs, out, oo, n) => {
  for (let i = 0; i < n; i++) out[oo + i] = a[ao + i * as]! ** b[bo + i * bs]!;
};
/** Larger of the two; NaN if either is NaN (like NumPy's maximum, unlike a bare `>`); ties give b. */
export const maximumRow: BinaryRowKernel = (a, ao, as, b, bo, bs, out, oo, n) => {
  for (let i = 0; i < n; i++) {
    const x = a[ao + i * as]!;
    const y = b[bo + i * bs]!;
    out[oo + i] = x > y || x !== x ? x : y; // x !== x: x is NaN
  }
};
/** Smaller of the two; NaN if either is NaN; ties give b. */
export const minimumRow: BinaryRowKernel = (a, ao, as, b, bo, bs, out, oo, n) => {
  for (let i = 0; i < n; i++) {
    const x = a[ao + i * as]!;
    const y = b[bo + i * bs]!;
    out[oo + i] = x < y || x !== x ? x : y;
  }
};

function binaryTensor(op: string, row: BinaryRowKernel, a: Tensor, b: Tensor): Tensor {
  const shape = broadcastShapes(a.shape, b.shape, op);
  const out = new Tensor(allocate(promote(a.dtype, b.dtype), sizeOf(shape)), shape);
  broadcastBinary(row, a.data, a.shape, b.data, b.shape, out.data, shape);
  return out;
}

export const addTensor = (a: Tensor, b: Tensor): Tensor => binaryTensor('add', addRow, a, b);
export const subTensor = (a: Tensor, b: Tensor): Tensor => binaryTensor('sub', subRow, a, b);
export const mulTensor = (a: Tensor, b: Tensor): Tensor => binaryTensor('mul', mulRow, a, b);
export const divTensor = (a: Tensor, b: Tensor): Tensor => binaryTensor('div', divRow, a, b);
export const maximumTensor = (a: Tensor, b: Tensor): Tensor => binaryTensor('maximum', maximumRow, a, b);
export const minimumTensor = (a: Tensor, b: Tensor): Tensor => binaryTensor('minimum', minimumRow, a, b);
