import { normalizeAxis, type Shape } from '../../tensor/shape.js';
import {
  checkConcatShapes,
  concat as concatTensor,
  copyAxisRange,
  dimsProduct,
  inversePermutation,
  permute as permuteTensor,
  permuteInto,
  resolveRange,
  resolveSplitSizes,
  slice as sliceTensor,
  split as splitTensor,
  stack as stackTensor,
  stackAxis,
  swapAxesPermutation,
  validatePermutation,
} from '../../tensor/ops/shape.js';
import type { Tape } from '../tape.js';
import { gradBuffer, Var } from '../var.js';

/**
 * Differentiable shape ops. Each backward moves the upstream gradient back through the same flat
 * kernel as the forward (inverse permutation, or the same axis range) with `accumulate`, straight
 * into the input's gradient buffer.
 */

/** A view with another shape; the gradient is the upstream gradient read with the input's shape. */
export function reshape(tape: Tape, x: Var, shape: Shape): Var {
  const out = new Var(x.value.reshape(shape));
  if (tape.needsGrad(x)) {
    tape.record('reshape', [x], [out], () => {
      const g = out.grad!.data;
      const gx = gradBuffer(x)!;
      for (let i = 0; i < gx.length; i++) gx[i]! += g[i]!;
    });
  }
  return out;
}

/** out.shape[i] = x.shape[axes[i]]; the gradient is permuted back by the inverse permutation. */
export function permute(tape: Tape, x: Var, axes: readonly number[]): Var {
  const perm = validatePermutation(axes, x.shape, 'permute');
  const out = new Var(permuteTensor(x.value, perm));
  if (tape.needsGrad(x)) {
    const inverse = inversePermutation(perm);
    tape.record('permute', [x], [out], () => {
      // out.grad has out's shape; permuting it by the inverse lands in x's layout.
      permuteInto(out.grad!.data, out.shape, inverse, gradBuffer(x)!, true);
    });
  }
  return out;
}

/** Swap two axes (default the last two). */
export function transpose(tape: Tape, x: Var, axis0 = -2, axis1 = -1): Var {
  return permute(tape, x, swapAxesPermutation(x.shape, axis0, axis1, 'transpose'));
}

/** x[..., start:end, ...] along `axis`; the gradient is added into that range of x's gradient. */
export function slice(tape: Tape, x: Var, axis: number, start: number, end?: number): Var {
  const ax = normalizeAxis(axis, x.value.rank, 'slice');
  const dim = x.shape[ax]!;
  const [s, e] = resolveRange(start, end ?? dim, dim, x.shape, ax, 'slice');
  const out = new Var(sliceTensor(x.value, ax, s, e));
  if (tape.needsGrad(x)) {
    const outer = dimsProduct(x.shape, 0, ax);
    const inner = dimsProduct(x.shape, ax + 1, x.shape.length);
    tape.record('slice', [x], [out], () => {
      copyAxisRange(out.grad!.data, e - s, 0, gradBuffer(x)!, dim, s, outer, e - s, inner, true);
    });
  }
  return out;
}

/** Join along an existing axis; each input receives its own range of the gradient. */
export function concat(tape: Tape, list: readonly Var[], axis = 0): Var {
  const xs = list.slice(); // the closure keeps its own copy: the caller may reuse its array
  const ax = checkConcatShapes(
    xs.map((x) => x.shape),
    axis,
    'concat',
  );
  const out = new Var(
    concatTensor(
      xs.map((x) => x.value),
      ax,
    ),
  );
  if (tape.needsGrad(...xs)) {
    const shape = out.shape;
    const total = shape[ax]!;
    const outer = dimsProduct(shape, 0, ax);
    const inner = dimsProduct(shape, ax + 1, shape.length);
    tape.record('concat', xs, [out], () => {
      const g = out.grad!.data;
      let at = 0;
      for (const x of xs) {
        const len = x.shape[ax]!;
        const gx = gradBuffer(x);
        if (gx) copyAxisRange(g, total, at, gx, len, 0, outer, len, inner, true);
        at += len;
      }
    });
  }
  return out;
}

/**
 * Cut along `axis` into parts of the given sizes or `count` equal parts. One tape node with several
 * outputs: parts that received no gradient contribute zero.
 */
export function split(tape: Tape, x: Var, sizesOrCount: number | readonly number[], axis = 0): Var[] {
  const ax = normalizeAxis(axis, x.value.rank, 'split');
  const dim = x.shape[ax]!;
  const sizes = resolveSplitSizes(sizesOrCount, dim, x.shape, ax, 'split');
  const outs = splitTensor(x.value, sizes, ax).map((t) => new Var(t));
  if (tape.needsGrad(x)) {
    const outer = dimsProduct(x.shape, 0, ax);
    const inner = dimsProduct(x.shape, ax + 1, x.shape.length);
    tape.record('split', [x], outs, () => {
      const gx = gradBuffer(x)!;
      let at = 0;
      for (let p = 0; p < outs.length; p++) {
        const len = sizes[p]!;
        const g = outs[p]!.grad;
        if (g) copyAxisRange(g.data, len, 0, gx, dim, at, outer, len, inner, true);
        at += len;
      }
    });
  }
  return outs.slice(); // a fresh array: the caller may reorder it without disturbing the closure's copy
}

/** Join equal-shaped Vars along a new axis; input i receives index i of that axis of the gradient. */
export function stack(tape: Tape, list: readonly Var[], axis = 0): Var {
  const xs = list.slice(); // the closure keeps its own copy: the caller may reuse its array
  const ax = stackAxis(
    xs.map((x) => x.shape),
    axis,
    'stack',
  );
  const out = new Var(
    stackTensor(
      xs.map((x) => x.value),
      ax,
    ),
  );
  if (tape.needsGrad(...xs)) {
    const count = xs.length;
    const outer = dimsProduct(out.shape, 0, ax);
    const inner = dimsProduct(out.shape, ax + 1, out.shape.length);
    tape.record('stack', xs, [out], () => {
      const g = out.grad!.data;
      for (let i = 0; i < count; i++) {
        const gx = gradBuffer(xs[i]!);
        if (gx) copyAxisRange(g, count, i, gx, 1, 0, outer, 1, inner, true);
      }
    });
  }
  return out;
}
