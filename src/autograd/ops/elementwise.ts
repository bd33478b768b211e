import { allocate, type Storage } from '../../tensor/dtype.js';
import { broadcastBinary, type BinaryRowKernel } from '../../tensor/ops/broadcast.js';
import {
  absTensor,
  addScalarTensor,
  addTensor,
  divTensor,
  expTensor,
  logTensor,
  maximumTensor,
  minimumTensor,
  mulTensor,
  negTensor,
  powTensor,
  reluTensor,
  scaleTensor,
  sigmoidTensor,
  sqrtTensor,
  squareTensor,
  subTensor,
  tanhTensor,
} from '../../tensor/ops/elementwise.js';
import { reduceToShape } from '../../tensor/ops/reduce.js';
import { broadcastShapes, sizeOf } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import type { Tape } from '../tape.js';
import { accumulateGrad, gradBuffer, Var } from '../var.js';

/*
 * Differentiable element-wise ops: forward (a tensor kernel) and backward side by side; every backward
 * accumulates (+=). Binary ops broadcast like NumPy and send each operand the gradient summed back to
 * its own shape (reduceToShape). At points where an op is undefined or not differentiable the
 * arithmetic is plain IEEE, with no extra checks: log(0) gives -Infinity and a gradient of Infinity,
 * sqrt(0) a gradient of Infinity, x/0 Infinity or NaN, log/sqrt of a negative NaN — so a bad input
 * shows up as a non-finite value instead of being clamped away. Documented choices at kinks:
 * relu'(0) = 0, abs'(0) = 0, and maximum/minimum split the gradient equally between tied operands.
 */

/** Accumulate a gradient computed at the broadcast output shape into `v`, summing broadcast dims. */
function accumulateBroadcast(v: Var, g: Tensor, op: string): void {
  if (v.requiresGrad) accumulateGrad(v, reduceToShape(g, v.shape), op);
}

/**
 * Record a unary op whose backward is dx += g ⊙ f'(…): `local(gx, g, x, y)` adds into gx given the
 * upstream g, the input x and the output y (all flat, same length). No allocation in backward.
 */
function unary(tape: Tape, op: string, x: Var, value: Tensor, local: (gx: Storage, g: Storage, x: Storage, y: Storage) => void): Var {
  const out = new Var(value);
  if (tape.needsGrad(x)) {
    tape.record(op, [x], [out], () => {
      const gx = gradBuffer(x);
      if (gx) local(gx, out.grad!.data, x.value.data, out.value.data);
    });
  }
  return out;
}

export function neg(tape: Tape, x: Var): Var {
  return unary(tape, 'neg', x, negTensor(x.value), (gx, g) => {
    for (let i = 0; i < gx.length; i++) gx[i]! -= g[i]!;
  });
}

export function exp(tape: Tape, x: Var): Var {
  return unary(tape, 'exp', x, expTensor(x.value), (gx, g, _x, y) => {
    for (let i = 0; i < gx.length; i++) gx[i]! += g[i]! * y[i]!;
  });
}

/** log x; d/dx = 1/x (IEEE at x ≤ 0). */
export function log(tape: Tape, x: Var): Var {
  return unary(tape, 'log', x, logTensor(x.value), (gx, g, xv) => {
    for (let i = 0; i < gx.length; i++) gx[i]! += g[i]! / xv[i]!;
  });
}

export function tanh(tape: Tape, x: Var): Var {
  return unary(tape, 'tanh', x, tanhTensor(x.value), (gx, g, _x, y) => {
    for (let i = 0; i < gx.length; i++) gx[i]! += g[i]! * (1 - y[i]! * y[i]!);
  });
}

/** Logistic sigmoid, stable for large |x|; d/dx = σ(1−σ). */
export function sigmoid(tape: Tape, x: Var): Var {
  return unary(tape, 'sigmoid', x, sigmoidTensor(x.value), (gx, g, _x, y) => {
    for (let i = 0; i < gx.length; i++) gx[i]! += g[i]! * y[i]! * (1 - y[i]!);
  });
}

/** max(x, 0); the gradient at exactly 0 is taken as 0. */
export function relu(tape: Tape, x: Var): Var {
  return unary(tape, 'relu', x, reluTensor(x.value), (gx, g, xv) => {
    for (let i = 0; i < gx.length; i++) if (xv[i]! > 0) gx[i]! += g[i]!;
  });
}

/** √x; d/dx = 1/(2√x) (Infinity at 0, NaN below). */
export function sqrt(tape: Tape, x: Var): Var {
  return unary(tape, 'sqrt', x, sqrtTensor(x.value), (gx, g, _x, y) => {
    for (let i = 0; i < gx.length; i++) gx[i]! += (0.5 * g[i]!) / y[i]!;
  });
}

/** |x|; the gradient at exactly 0 is 0 (sign(0)). */
export function abs(tape: Tape, x: Var): Var {
  return unary(tape, 'abs', x, absTensor(x.value), (gx, g, xv) => {
    for (let i = 0; i < gx.length; i++) gx[i]! += g[i]! * Math.sign(xv[i]!);
  });
}

export function square(tape: Tape, x: Var): Var {
  return unary(tape, 'square', x, squareTensor(x.value), (gx, g, xv) => {
    for (let i = 0; i < gx.length; i++) gx[i]! += 2 * g[i]! * xv[i]!;
  });
}

/** x · s for a constant s. */
export function scale(tape: Tape, x: Var, s: number): Var {
  return unary(tape, 'scale', x, scaleTensor(x.value, s), (gx, g) => {
    for (let i = 0; i < gx.length; i++) gx[i]! += s * g[i]!;
  });
}

/** x + s for a constant s. */
export function addScalar(tape: Tape, x: Var, s: number): Var {
  return unary(tape, 'addScalar', x, addScalarTensor(x.value, s), (gx, g) => {
    for (let i = 0; i < gx.length; i++) gx[i]! += g[i]!;
  });
}

/**
 * x ** p. With a constant exponent, d/dx = p·x^(p−1) (and exactly 0 when p = 0, as PyTorch does,
 * instead of 0·x^−1 = NaN at x = 0). With a Var exponent (broadcast against x), also
 * d/dp = x^p·ln x, taken as 0 where x = 0 and p ≥ 0 (the limit PyTorch uses); a negative base with a
 * Var exponent gives NaN, as IEEE says.
 */
export function pow(tape: Tape, x: Var, p: number | Var): Var {
  if (typeof p === 'number') {
    return unary(tape, 'pow', x, powTensor(x.value, p), (gx, g, xv) => {
      if (p === 0) return;
      for (let i = 0; i < gx.length; i++) gx[i]! += g[i]! * p * xv[i]! ** (p - 1);
    });
  }
  const out = new Var(powTensor(x.value, p.value));
  if (tape.needsGrad(x, p)) {
    tape.record('pow', [x, p], [out], () => {
      const g = out.grad!;
      if (x.requiresGrad) accumulateBroadcast(x, gradTimesLocal(powBaseGradRow, g, x.value, p.value), 'pow');
      if (p.requiresGrad) accumulateBroadcast(p, gradTimesLocal(powExponentGradRow, g, x.value, p.value), 'pow');
    });
  }
  return out;
}

// local derivatives of base^e at each broadcast position (the caller multiplies by g):
// d/dbase = e·base^(e−1), 0 when e = 0
const powBaseGradRow: BinaryRowKernel = (a, ao, as, b, bo, bs, out, oo, n) => {
  for (let i = 0; i < n; i++) {
    const e = b[bo + i * bs]!;
    out[oo + i] = e === 0 ? 0 : e * a[ao + i * as]! ** (e - 1);
  }
};
// d/de = base^e·ln(base), 0 when base = 0 and e ≥ 0
const powExponentGradRow: BinaryRowKernel = (a, ao, as, b, bo, bs, out, oo, n) => {
  for (let i = 0; i < n; i++) {
    const base = a[ao + i * as]!;
    const e = b[bo + i * bs]!;
    out[oo + i] = base === 0 && e >= 0 ? 0 : base ** e * Math.log(base);
  }
};

/** g ⊙ row(a, b), with a and b broadcast to g's shape. g: [out], a and b broadcast to [out]. */
function gradTimesLocal(row: BinaryRowKernel, g: Tensor, a: Tensor, b: Tensor): Tensor {
  const local = allocate(g.dtype, g.size); // [out]
  broadcastBinary(row, a.data, a.shape, b.data, b.shape, local, g.shape);
  const gd = g.data;
  for (let i = 0; i < local.length; i++) local[i]! *= gd[i]!;
  return new Tensor(local, g.shape);
}

// ------------------------------------------------------------------ binary ops with broadcasting

export function add(tape: Tape, a: Var, b: Var): Var {
  const out = new Var(addTensor(a.value, b.value));
  if (tape.needsGrad(a, b)) {
    tape.record('add', [a, b], [out], () => {
      accumulateBroadcast(a, out.grad!, 'add');
      accumulateBroadcast(b, out.grad!, 'add');
    });
  }
  return out;
}

export function sub(tape: Tape, a: Var, b: Var): Var {
  const out = new Var(subTensor(a.value, b.value));
  if (tape.needsGrad(a, b)) {
    tape.record('sub', [a, b], [out], () => {
      accumulateBroadcast(a, out.grad!, 'sub');
      if (b.requiresGrad) accumulateBroadcast(b, negTensor(out.grad!), 'sub');
    });
  }
  return out;
}

export function mul(tape: Tape, a: Var, b: Var): Var {
  const out = new Var(mulTensor(a.value, b.value));
  if (tape.needsGrad(a, b)) {
    tape.record('mul', [a, b], [out], () => {
      const g = out.grad!;
      if (a.requiresGrad) accumulateBroadcast(a, mulTensor(g, b.value), 'mul');
      if (b.requiresGrad) accumulateBroadcast(b, mulTensor(g, a.value), 'mul');
    });
  }
  return out;
}

/** a / b; d/da = 1/b, d/db = −a/b² = −(a/b)/b (IEEE at b = 0). */
export function div(tape: Tape, a: Var, b: Var): Var {
  const out = new Var(divTensor(a.value, b.value));
  if (tape.needsGrad(a, b)) {
    tape.record('div', [a, b], [out], () => {
      const g = out.grad!;
      if (a.requiresGrad) accumulateBroadcast(a, divTensor(g, b.value), 'div');
      if (b.requiresGrad) accumulateBroadcast(b, negTensor(divTensor(mulTensor(g, out.value), b.value)), 'div');
    });
  }
  return out;
}

// share of the gradient that goes to a: 1 where a wins, ½ on a tie, 0 where b wins
const maximumShareRow: BinaryRowKernel = (a, ao, as, b, bo, bs, out, oo, n) => {
  for (let i = 0; i < n; i++) {
    const x = a[ao + i * as]!;
    const y = b[bo + i * bs]!;
    out[oo + i] = x > y ? 1 : x === y ? 0.5 : 0;
  }
};
const minimumShareRow: BinaryRowKernel = (a, ao, as, b, bo, bs, out, oo, n) => {
  for (let i = 0; i < n; i++) {
    const x = a[ao + i * as]!;
    const y = b[bo + i * bs]!;
    out[oo + i] = x < y ? 1 : x === y ? 0.5 : 0;
  }
};

function selectBinary(tape: Tape, op: string, a: Var, b: Var, value: Tensor, shareRow: BinaryRowKernel): Var {
  const out = new Var(value);
  if (tape.needsGrad(a, b)) {
    tape.record(op, [a, b], [out], () => {
      const g = out.grad!;
      const shape = broadcastShapes(a.shape, b.shape, op);
      const share = new Float64Array(sizeOf(shape)); // [out] fraction of g that goes to a
      broadcastBinary(shareRow, a.value.data, a.shape, b.value.data, b.shape, share, shape);
      const ga = new Tensor(new Float64Array(share.length), shape);
      const gb = new Tensor(new Float64Array(share.length), shape);
      const gd = g.data;
      for (let i = 0; i < share.length; i++) {
        ga.data[i] = gd[i]! * share[i]!;
        gb.data[i] = gd[i]! * (1 - share[i]!);
      }
      accumulateBroadcast(a, ga, op);
      accumulateBroadcast(b, gb, op);
    });
  }
  return out;
}

/** Element-wise larger of a and b; the gradient goes to the larger, split equally on a tie. */
export function maximum(tape: Tape, a: Var, b: Var): Var {
  return selectBinary(tape, 'maximum', a, b, maximumTensor(a.value, b.value), maximumShareRow);
}

/** Element-wise smaller of a and b; the gradient goes to the smaller, split equally on a tie. */
export function minimum(tape: Tape, a: Var, b: Var): Var {
  return selectBinary(tape, 'minimum', a, b, minimumTensor(a.value, b.value), minimumShareRow);
}
