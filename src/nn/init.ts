import type { Rng } from '../tensor/rng.js';
import { formatShape, ShapeError } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';

/**
 * Parameter initialisers. Each fills a tensor in place from a seeded Rng (so a seed fixes the whole
 * model) and returns it. Matrices are [out, in] (docs/CONTRACT.md), so fan-in is the column count.
 */

/** Normal(mean, std) in every element. */
export function initNormal(t: Tensor, rng: Rng, std = 1, mean = 0): Tensor {
  rng.fillNormal(t.data, mean, std);
  return t;
}

/** Uniform[low, high) in every element. */
export function initUniform(t: Tensor, rng: Rng, low: number, high: number): Tensor {
  if (!(high >= low)) throw new RangeError(`initUniform: need low <= high, got [${low}, ${high})`);
  rng.fillUniform(t.data, low, high);
  return t;
}

function matrixDims(op: string, t: Tensor): [number, number] {
  if (t.rank !== 2) throw new ShapeError(`${op}: expected a matrix [out,in], got ${formatShape(t.shape)}`);
  return t.shape as [number, number];
}

/**
 * Normal with std = gain/√fan_in (fan_in = columns of an [out,in] matrix): the LeCun/Kaiming-style
 * scaling that keeps x·Wᵀ at the variance of x (times gain²). The PyTorch fixtures use exactly this.
 */
export function initFanIn(t: Tensor, rng: Rng, gain = 1): Tensor {
  const [, fanIn] = matrixDims('initFanIn', t);
  if (fanIn === 0) return t;
  return initNormal(t, rng, gain / Math.sqrt(fanIn));
}

/**
 * A (semi-)orthogonal matrix times `gain`: for [rows,cols] with rows ≥ cols the columns are
 * orthonormal, otherwise the rows are. Built by modified Gram–Schmidt on a standard normal matrix,
 * which yields the Q of a QR decomposition with positive diag(R), i.e. a Haar-uniform draw.
 * Orthogonal recurrent matrices neither grow nor shrink the state in the linear regime.
 */
export function initOrthogonal(t: Tensor, rng: Rng, gain = 1): Tensor {
  const [rows, cols] = matrixDims('initOrthogonal', t);
  // Orthonormalise the `k` vectors of length `n`, stored as rows of q [k,n] (k ≤ n).
  const tall = rows >= cols;
  const k = tall ? cols : rows;
  const n = tall ? rows : cols;
  const q = new Float64Array(k * n); // [k,n]
  rng.fillNormal(q);
  for (let i = 0; i < k; i++) {
    const oi = i * n;
    for (let p = 0; p < i; p++) {
      // modified GS: project the *current* vector i on each finished vector in turn
      const op = p * n;
      let dot = 0;
      for (let j = 0; j < n; j++) dot += q[oi + j]! * q[op + j]!;
      for (let j = 0; j < n; j++) q[oi + j]! -= dot * q[op + j]!;
    }
    let ss = 0;
    for (let j = 0; j < n; j++) ss += q[oi + j]! * q[oi + j]!;
    const norm = Math.sqrt(ss);
    // A normal draw is linearly dependent with probability 0; a collapse means something is broken.
    if (!(norm > 1e-12)) throw new Error(`initOrthogonal: degenerate draw for ${formatShape(t.shape)} at vector ${i}`);
    for (let j = 0; j < n; j++) q[oi + j]! /= norm;
  }
  const d = t.data;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      // tall: the k=cols vectors are the columns of t; wide: they are its rows.
      d[r * cols + c] = gain * (tall ? q[c * n + r]! : q[r * n + c]!);
    }
  }
  return t;
}

/**
 * Set the forget-gate block (entries H..2H, gate order i,f,g,o) of a [4H] LSTM/mLSTM bias to `value`.
 * A positive forget bias (default 1, Jozefowicz et al. 2015) makes σ(f) start near 1, so the cell
 * initially remembers and gradients flow through long spans.
 */
export function initForgetBias(bias: Tensor, hidden: number, value = 1): Tensor {
  if (bias.rank !== 1 || bias.shape[0] !== 4 * hidden) {
    throw new ShapeError(`initForgetBias: bias must be [4H] = [${4 * hidden}] for H=${hidden}, got ${formatShape(bias.shape)}`);
  }
  bias.data.fill(value, hidden, 2 * hidden);
  return bias;
}
