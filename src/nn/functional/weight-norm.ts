import { allocate, promote } from '../../tensor/dtype.js';
import { formatShape, ShapeError } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import type { Tape } from '../../autograd/tape.js';
import { gradBuffer, Var } from '../../autograd/var.js';

/**
 * Weight normalisation (Salimans & Kingma 2016), one norm per output row as in docs/CONTRACT.md:
 *
 *   W[r,:] = g[r] · v[r,:] / ‖v[r,:]‖₂          v [rows,cols], g [rows] → W [rows,cols]
 *
 * Backward, per row with n = ‖v_r‖, ŵ = v_r/n and upstream dW_r:
 *   W_r = g·ŵ                         ⇒ dg = ŵ·dW_r
 *   ∂ŵ/∂v = (I − ŵŵᵀ)/n               ⇒ dv_r = (g/n)·(dW_r − ŵ·(ŵ·dW_r))
 * i.e. the direction's gradient is dW projected off ŵ (scaling v leaves W unchanged, so the
 * gradient has no component along v), scaled by g/n.
 *
 * `name` (e.g. "wmx") only makes error messages say which matrix failed.
 */
export function weightNorm(tape: Tape, v: Var, g: Var, name = 'weight'): Var {
  const op = 'weightNorm';
  if (v.shape.length !== 2) throw new ShapeError(`${op}: '${name}.v' must be a matrix [rows,cols], got ${formatShape(v.shape)}`);
  const [rows, cols] = v.shape as [number, number];
  if (g.shape.length !== 1 || g.shape[0] !== rows) {
    throw new ShapeError(
      `${op}: '${name}.g' must be [rows] = [${rows}] to match '${name}.v' ${formatShape(v.shape)}, got ${formatShape(g.shape)}`,
    );
  }
  const dtype = promote(v.value.dtype, g.value.dtype);
  const vd = v.data; // [rows,cols]
  const gd = g.data; // [rows]
  const invNorm = new Float64Array(rows); // [rows] 1/‖v_r‖, kept for the backward
  const W = allocate(dtype, rows * cols); // [rows,cols]
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let ss = 0;
    for (let j = 0; j < cols; j++) ss += vd[o + j]! * vd[o + j]!;
    const n = Math.sqrt(ss);
    // A zero (or non-finite) row has no direction: refuse rather than emit NaN.
    if (!(n > 0) || !Number.isFinite(n)) {
      throw new RangeError(
        `${op}: row ${r} of '${name}.v' ${formatShape(v.shape)} has norm ${n}; weight normalisation needs a non-zero finite direction`,
      );
    }
    const inv = 1 / n;
    invNorm[r] = inv;
    const scale = gd[r]! * inv;
    for (let j = 0; j < cols; j++) W[o + j] = scale * vd[o + j]!;
  }
  const out = new Var(new Tensor(W, [rows, cols]));
  if (tape.needsGrad(v, g)) {
    tape.record(op, [v, g], [out], () => {
      const dW = out.grad!.data; // [rows,cols]
      const dv = gradBuffer(v);
      const dg = gradBuffer(g);
      for (let r = 0; r < rows; r++) {
        const o = r * cols;
        const inv = invNorm[r]!;
        let proj = 0; // ŵ·dW_r
        for (let j = 0; j < cols; j++) proj += vd[o + j]! * inv * dW[o + j]!;
        if (dg) dg[r]! += proj;
        if (dv) {
          const scale = gd[r]! * inv;
          for (let j = 0; j < cols; j++) dv[o + j]! += scale * (dW[o + j]! - vd[o + j]! * inv * proj);
        }
      }
    });
  }
  return out;
}
