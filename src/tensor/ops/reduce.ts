import { allocate, type Storage } from '../dtype.js';
import { broadcastShapes, formatShape, normalizeAxis, ShapeError, shapesEqual, stridesOf, type Shape } from '../shape.js';
import { Tensor } from '../tensor.js';

/*
 * Reductions (sum, mean, max, argmax) over any set of axes, and reduceToShape — the gradient of
 * broadcasting. Each reduction walks the input once in memory order over a coalesced layout
 * (adjacent dims merged when both are reduced or both kept), so the innermost loop is either a
 * contiguous row folded into one output (reduce the last axes) or a contiguous row added element-wise
 * into a contiguous output row (reduce leading axes, e.g. a bias gradient over the batch).
 */

/** Which axes to reduce: one axis, a list (negative counts from the end), or undefined for all. */
export type Axes = number | readonly number[] | undefined;

/** Normalised, sorted, duplicate-free axes; the error names the op. */
export function resolveAxes(axes: Axes, rank: number, op: string): number[] {
  if (axes === undefined) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof axes === 'number' ? [axes] : axes;
  const seen = new Set<number>();
  for (const a of list) {
    const n = normalizeAxis(a, rank, op);
    if (seen.has(n)) throw new ShapeError(`${op}: axis ${a} repeated in [${list.join(',')}] (rank ${rank})`);
    seen.add(n);
  }
  return [...seen].sort((x, y) => x - y);
}

/** Shape of reducing `shape` over sorted `axes`: reduced dims become 1 (keepdims) or disappear. */
export function reducedShape(shape: Shape, axes: readonly number[], keepdims: boolean): number[] {
  const out: number[] = [];
  for (let i = 0; i < shape.length; i++) {
    if (!axes.includes(i)) out.push(shape[i]!);
    else if (keepdims) out.push(1);
  }
  return out;
}

export interface ReductionLayout {
  /** Coalesced input dims, outermost first (the input is contiguous over them). */
  dims: number[];
  /** Whether each coalesced dim is reduced. */
  reduced: boolean[];
  /** Output element stride per coalesced dim (0 where reduced). */
  outStrides: number[];
  /** Number of output elements. */
  outSize: number;
  /** Number of input elements folded into each output element. */
  count: number;
}

/** Plan a reduction of a contiguous tensor of `shape` over sorted, valid `axes`. */
export function reductionLayout(shape: Shape, axes: readonly number[]): ReductionLayout {
  const dims: number[] = [];
  const reduced: boolean[] = [];
  let outSize = 1;
  let count = 1;
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i]!;
    const r = axes.includes(i);
    if (r) count *= d;
    else outSize *= d;
    if (d === 1) continue;
    const last = dims.length - 1;
    if (last >= 0 && reduced[last] === r) dims[last] = dims[last]! * d;
    else {
      dims.push(d);
      reduced.push(r);
    }
  }
  if (dims.length === 0) {
    dims.push(1);
    reduced.push(false);
  }
  const outStrides = new Array<number>(dims.length);
  let s = 1;
  for (let i = dims.length - 1; i >= 0; i--) {
    outStrides[i] = reduced[i] ? 0 : s;
    if (!reduced[i]) s *= dims[i]!;
  }
  return { dims, reduced, outStrides, outSize, count };
}

/**
 * acc[o] += Σ of the input elements that reduce into o.  x: [input size], acc: [layout.outSize].
 * Pass a Float64Array `acc` to sum float32 data without float32 rounding at every step.
 */
export function sumKernel(x: Storage, layout: ReductionLayout, acc: Storage): void {
  const { dims, reduced, outStrides } = layout;
  const last = dims.length - 1;
  const n = dims[last]!;
  const rowReduced = reduced[last]!;
  const counter = new Array<number>(last).fill(0);
  let oOff = 0;
  for (let xOff = 0; xOff < x.length; xOff += n) {
    if (rowReduced) {
      let s = 0;
      for (let i = 0; i < n; i++) s += x[xOff + i]!;
      acc[oOff]! += s;
    } else {
      for (let i = 0; i < n; i++) acc[oOff + i]! += x[xOff + i]!;
    }
    for (let d = last - 1; d >= 0; d--) {
      oOff += outStrides[d]!;
      if (++counter[d]! < dims[d]!) break;
      oOff -= outStrides[d]! * dims[d]!;
      counter[d] = 0;
    }
  }
}

/**
 * out[o] = max of the input elements that reduce into o; arg[o] = flat input offset of the FIRST
 * maximal element in memory order (ties resolve to the lowest offset). NaN propagates: the first NaN
 * wins and stays. x: [input size], out: [outSize], arg: [outSize]. Every output must reduce ≥ 1 element.
 */
export function maxKernel(x: Storage, layout: ReductionLayout, out: Storage, arg: Int32Array): void {
  const { dims, reduced, outStrides } = layout;
  out.fill(-Infinity);
  arg.fill(-1);
  const last = dims.length - 1;
  const n = dims[last]!;
  const rowReduced = reduced[last]!;
  const counter = new Array<number>(last).fill(0);
  let oOff = 0;
  for (let xOff = 0; xOff < x.length; xOff += n) {
    if (rowReduced) {
      let m = out[oOff]!;
      let k = arg[oOff]!;
      for (let i = 0; i < n; i++) {
        const v = x[xOff + i]!;
        // strict > keeps the first of equal maxima; (v !== v && m === m) lets the first NaN in
        if (k < 0 || v > m || (v !== v && m === m)) {
          m = v;
          k = xOff + i;
        }
      }
      out[oOff] = m;
      arg[oOff] = k;
    } else {
      for (let i = 0; i < n; i++) {
        const v = x[xOff + i]!;
        const m = out[oOff + i]!;
        if (arg[oOff + i]! < 0 || v > m || (v !== v && m === m)) {
          out[oOff + i] = v;
          arg[oOff + i] = xOff + i;
        }
      }
    }
    for (let d = last - 1; d >= 0; d--) {
      oOff += outStrides[d]!;
      if (++counter[d]! < dims[d]!) break;
      oOff -= outStrides[d]! * dims[d]!;
      counter[d] = 0;
    }
  }
}

// ------------------------------------------------------------------ Tensor wrappers

function sumInto(x: Tensor, axes: readonly number[], divisor: number, keepdims: boolean): Tensor {
  const layout = reductionLayout(x.shape, axes);
  const out = allocate(x.dtype, layout.outSize);
  // float32 sums go through a float64 accumulator; float64 ones accumulate in place
  const acc = out instanceof Float64Array ? out : new Float64Array(layout.outSize);
  sumKernel(x.data, layout, acc);
  if (divisor !== 1) for (let i = 0; i < acc.length; i++) acc[i]! /= divisor;
  if (acc !== out) out.set(acc);
  return new Tensor(out, reducedShape(x.shape, axes, keepdims));
}

/** Σ over `axes` (default all). The sum over zero elements is 0. */
export function sumTensor(x: Tensor, axes?: Axes, keepdims = false): Tensor {
  return sumInto(x, resolveAxes(axes, x.rank, 'sum'), 1, keepdims);
}

/** Mean over `axes` (default all); averaging zero elements is an error, not a silent NaN. */
export function meanTensor(x: Tensor, axes?: Axes, keepdims = false): Tensor {
  const ax = resolveAxes(axes, x.rank, 'mean');
  const layout = reductionLayout(x.shape, ax);
  if (layout.count === 0 && layout.outSize > 0) {
    throw new ShapeError(`mean: cannot average zero elements (shape ${formatShape(x.shape)}, axes [${ax.join(',')}])`);
  }
  return sumInto(x, ax, layout.count, keepdims);
}

/**
 * Maximum over `axes` (default all) with, for each output, the flat input offset of the first
 * maximal element (what the gradient of max is routed to).
 */
export function maxWithIndices(x: Tensor, axes?: Axes, keepdims = false, op = 'max'): { values: Tensor; indices: Int32Array } {
  const ax = resolveAxes(axes, x.rank, op);
  const layout = reductionLayout(x.shape, ax);
  if (layout.count === 0 && layout.outSize > 0) {
    throw new ShapeError(`${op}: reduction over zero elements has no maximum (shape ${formatShape(x.shape)}, axes [${ax.join(',')}])`);
  }
  const out = allocate(x.dtype, layout.outSize);
  const indices = new Int32Array(layout.outSize);
  maxKernel(x.data, layout, out, indices);
  return { values: new Tensor(out, reducedShape(x.shape, ax, keepdims)), indices };
}

/** Maximum over `axes` (default all); NaN if any reduced element is NaN. */
export function maxTensor(x: Tensor, axes?: Axes, keepdims = false): Tensor {
  return maxWithIndices(x, axes, keepdims).values;
}

/**
 * Index of the first maximum along `axis` (an index into that axis), or over the whole tensor
 * (a flat row-major index, scalar shape) when `axis` is undefined. Returned as float64 so any index is exact.
 */
export function argmaxTensor(x: Tensor, axis?: number, keepdims = false): Tensor {
  const { values, indices } = maxWithIndices(x, axis, keepdims, 'argmax');
  const out = new Float64Array(indices.length);
  if (axis === undefined) {
    out.set(indices);
  } else {
    const a = normalizeAxis(axis, x.rank, 'argmax');
    const stride = stridesOf(x.shape)[a]!;
    const len = x.shape[a]!;
    for (let i = 0; i < out.length; i++) out[i] = Math.floor(indices[i]! / stride) % len;
  }
  return new Tensor(out, values.shape);
}

/**
 * Sum `t` down to `shape`, which must broadcast to t's shape: the gradient of broadcasting. Sums over
 * the leading dims `shape` lacks and over the dims where `shape` has 1. Returns `t` itself (no copy)
 * when the shapes already match.
 */
export function reduceToShape(t: Tensor, shape: Shape): Tensor {
  if (shapesEqual(t.shape, shape)) return t;
  let ok = shape.length <= t.rank;
  if (ok) {
    try {
      ok = shapesEqual(broadcastShapes(shape, t.shape, 'reduceToShape'), t.shape);
    } catch {
      ok = false;
    }
  }
  if (!ok) throw new ShapeError(`reduceToShape: cannot reduce ${formatShape(t.shape)} to ${formatShape(shape)}`);
  const lead = t.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < t.rank; i++) {
    if (i < lead || (shape[i - lead] === 1 && t.shape[i] !== 1)) axes.push(i);
  }
  return sumInto(t, axes, 1, false).reshape(shape);
}
