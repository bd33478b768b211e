import { broadcastBinary, type BinaryRowKernel } from '../../tensor/ops/broadcast.js';
import { maxWithIndices, meanTensor, reducedShape, reductionLayout, resolveAxes, sumTensor, type Axes } from '../../tensor/ops/reduce.js';
import type { Tape } from '../tape.js';
import { gradBuffer, Var } from '../var.js';

/*
 * Differentiable reductions. The gradient of a sum or mean is the upstream gradient broadcast back
 * over the reduced axes (scaled by 1/count for the mean), accumulated straight into x's gradient
 * buffer without a temporary. The gradient of max goes entirely to the FIRST maximal element of each
 * reduced group (lowest row-major offset) — a valid subgradient, and the same element argmax reports;
 * other tied elements get 0.
 */

// out[i] += scale · b[i]   (a is `out` itself, read at the same offsets)
function accumulateScaledRow(scale: number): BinaryRowKernel {
  return (a, ao, as, b, bo, bs, out, oo, n) => {
    for (let i = 0; i < n; i++) out[oo + i] = a[ao + i * as]! + scale * b[bo + i * bs]!;
  };
}

function broadcastReduction(tape: Tape, op: string, x: Var, axes: Axes, keepdims: boolean, mean: boolean): Var {
  const ax = resolveAxes(axes, x.value.rank, op);
  const count = reductionLayout(x.shape, ax).count;
  const out = new Var(mean ? meanTensor(x.value, ax, keepdims) : sumTensor(x.value, ax, keepdims));
  if (tape.needsGrad(x)) {
    const keepShape = reducedShape(x.shape, ax, true); // g viewed with the reduced axes as size 1
    const row = accumulateScaledRow(mean ? 1 / count : 1);
    tape.record(op, [x], [out], () => {
      const gx = gradBuffer(x);
      if (gx) broadcastBinary(row, gx, x.shape, out.grad!.data, keepShape, gx, x.shape);
    });
  }
  return out;
}

/** Σ over `axes` (default all; negative allowed), dropping them unless `keepdims`. */
export function sum(tape: Tape, x: Var, axes?: Axes, keepdims = false): Var {
  return broadcastReduction(tape, 'sum', x, axes, keepdims, false);
}

/** Mean over `axes` (default all; negative allowed), dropping them unless `keepdims`. */
export function mean(tape: Tape, x: Var, axes?: Axes, keepdims = false): Var {
  return broadcastReduction(tape, 'mean', x, axes, keepdims, true);
}

/** Maximum over `axes` (default all); the gradient goes to the first maximal element of each group. */
export function max(tape: Tape, x: Var, axes?: Axes, keepdims = false): Var {
  const { values, indices } = maxWithIndices(x.value, axes, keepdims);
  const out = new Var(values);
  if (tape.needsGrad(x)) {
    tape.record('max', [x], [out], () => {
      const gx = gradBuffer(x);
      if (!gx) return;
      const g = out.grad!.data;
      for (let o = 0; o < indices.length; o++) gx[indices[o]!]! += g[o]!;
    });
  }
  return out;
}
