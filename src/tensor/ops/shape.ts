import { allocate, promote, type DType, type Storage } from '../dtype.js';
import { formatShape, normalizeAxis, ShapeError, shapesEqual, sizeOf, stridesOf, type Shape } from '../shape.js';
import { Tensor } from '../tensor.js';

/**
 * Shape ops over contiguous row-major tensors: every op that moves data returns a fresh tensor;
 * only `reshape` is a view. Each op is built on one of two flat kernels, `permuteInto` and
 * `copyAxisRange`, which the differentiable versions reuse (with `accumulate`) for their backward.
 */

// ------------------------------------------------------------------ kernels over flat arrays

/**
 * dst[permuted] (=|+=) src: dst has shape `srcShape` permuted by `axes`, i.e. dst.shape[i] =
 * srcShape[axes[i]], and dst[j₀,…] = src[i] where i[axes[d]] = j_d.
 * Walks dst in row-major order, stepping the src offset with an odometer (no per-element division).
 */
export function permuteInto(
  src: Storage, // [...srcShape]
  srcShape: Shape,
  axes: readonly number[],
  dst: Storage, // [...srcShape permuted by axes]
  accumulate = false,
): void {
  const rank = srcShape.length;
  const n = sizeOf(srcShape);
  if (n === 0) return;
  const srcStrides = stridesOf(srcShape);
  const dims = axes.map((a) => srcShape[a]!); // dst shape
  const steps = axes.map((a) => srcStrides[a]!); // src stride of each dst axis
  if (rank === 0) {
    dst[0] = accumulate ? dst[0]! + src[0]! : src[0]!;
    return;
  }
  const innerDim = dims[rank - 1]!;
  const innerStep = steps[rank - 1]!;
  const counter = new Array<number>(rank).fill(0);
  let srcOff = 0;
  for (let d = 0; d < n; d += innerDim) {
    if (accumulate) {
      for (let j = 0, s = srcOff; j < innerDim; j++, s += innerStep) dst[d + j]! += src[s]!;
    } else {
      for (let j = 0, s = srcOff; j < innerDim; j++, s += innerStep) dst[d + j] = src[s]!;
    }
    // advance the odometer over the outer dst axes
    for (let ax = rank - 2; ax >= 0; ax--) {
      counter[ax]!++;
      srcOff += steps[ax]!;
      if (counter[ax]! < dims[ax]!) break;
      srcOff -= steps[ax]! * dims[ax]!;
      counter[ax] = 0;
    }
  }
}

/**
 * Copy (or add) a range along one axis between two tensors that agree on every other axis.
 * Both are viewed as [outer, axisLen, inner]; `len` rows of `inner` values starting at `srcStart`
 * in src go to `dstStart` in dst, for every outer index.
 */
export function copyAxisRange(
  src: Storage, // [outer, srcAxisLen, inner]
  srcAxisLen: number,
  srcStart: number,
  dst: Storage, // [outer, dstAxisLen, inner]
  dstAxisLen: number,
  dstStart: number,
  outer: number,
  len: number,
  inner: number,
  accumulate = false,
): void {
  const block = len * inner;
  for (let o = 0; o < outer; o++) {
    const s = (o * srcAxisLen + srcStart) * inner;
    const d = (o * dstAxisLen + dstStart) * inner;
    if (accumulate) {
      for (let j = 0; j < block; j++) dst[d + j]! += src[s + j]!;
    } else if (block > 0) {
      dst.set(src.subarray(s, s + block), d);
    }
  }
}

/** Product of shape[from..to). */
export function dimsProduct(shape: Shape, from: number, to: number): number {
  let p = 1;
  for (let i = from; i < to; i++) p *= shape[i]!;
  return p;
}

// ------------------------------------------------------------------ reshape, transpose, permute

/** A view of `t` with another shape (one dimension may be -1); shares t's data. */
export function reshape(t: Tensor, shape: Shape): Tensor {
  return t.reshape(shape);
}

/**
 * Check that `axes` is a permutation of 0..rank-1 (negative axes allowed) and return it normalised.
 * The error names the op, the axes and the shape.
 */
export function validatePermutation(axes: readonly number[], shape: Shape, op: string): number[] {
  const rank = shape.length;
  const bad = (): ShapeError =>
    new ShapeError(`${op}: axes [${axes.join(',')}] are not a permutation of the ${rank} axes of shape ${formatShape(shape)}`);
  if (axes.length !== rank) throw bad();
  const seen = new Array<boolean>(rank).fill(false);
  const out = new Array<number>(rank);
  for (let i = 0; i < rank; i++) {
    const raw = axes[i]!;
    const a = raw < 0 ? raw + rank : raw;
    if (!Number.isInteger(a) || a < 0 || a >= rank || seen[a]) throw bad();
    seen[a] = true;
    out[i] = a;
  }
  return out;
}

/** The permutation that undoes `axes`. */
export function inversePermutation(axes: readonly number[]): number[] {
  const inv = new Array<number>(axes.length);
  for (let i = 0; i < axes.length; i++) inv[axes[i]!] = i;
  return inv;
}

/** Reorder the axes: out.shape[i] = t.shape[axes[i]]. */
export function permute(t: Tensor, axes: readonly number[]): Tensor {
  const perm = validatePermutation(axes, t.shape, 'permute');
  const outShape = perm.map((a) => t.shape[a]!);
  const out = allocate(t.dtype, t.size);
  permuteInto(t.data, t.shape, perm, out);
  return new Tensor(out, outShape);
}

/** The permutation of `rank` axes that swaps two of them (resolving negative axes; throws naming `op`). */
export function swapAxesPermutation(shape: Shape, axis0: number, axis1: number, op: string): number[] {
  const rank = shape.length;
  if (rank < 2) {
    throw new ShapeError(`${op}: needs a tensor of rank ≥ 2, got shape ${formatShape(shape)}`);
  }
  const a0 = normalizeAxis(axis0, rank, op);
  const a1 = normalizeAxis(axis1, rank, op);
  const perm = Array.from({ length: rank }, (_, i) => i);
  perm[a0] = a1;
  perm[a1] = a0;
  return perm;
}

/**
 * Swap two axes; by default the last two, which for a matrix is the ordinary transpose.
 * (Matmul never needs this: it passes transpose flags to gemm instead.)
 */
export function transpose(t: Tensor, axis0 = -2, axis1 = -1): Tensor {
  return permute(t, swapAxesPermutation(t.shape, axis0, axis1, 'transpose'));
}

// ------------------------------------------------------------------ slice, concat, split, stack

/**
 * Resolve a [start, end) range on an axis of length `dim`; negative bounds count from the end.
 * Out-of-range or reversed bounds throw (no silent clamping: a wrong bound is a bug upstream).
 */
export function resolveRange(start: number, end: number, dim: number, shape: Shape, axis: number, op: string): [number, number] {
  const s = start < 0 ? start + dim : start;
  const e = end < 0 ? end + dim : end;
  if (!Number.isInteger(s) || !Number.isInteger(e) || s < 0 || e > dim || s > e) {
    throw new ShapeError(
      `${op}: range [${start}, ${end}) is out of bounds for axis ${axis} of shape ${formatShape(shape)} (length ${dim})`,
    );
  }
  return [s, e];
}

/** t[..., start:end, ...] along `axis` (end defaults to the axis length). */
export function slice(t: Tensor, axis: number, start: number, end?: number): Tensor {
  const ax = normalizeAxis(axis, t.rank, 'slice');
  const dim = t.shape[ax]!;
  const [s, e] = resolveRange(start, end ?? dim, dim, t.shape, ax, 'slice');
  const outShape = t.shape.slice();
  outShape[ax] = e - s;
  const out = allocate(t.dtype, sizeOf(outShape));
  const outer = dimsProduct(t.shape, 0, ax);
  const inner = dimsProduct(t.shape, ax + 1, t.rank);
  copyAxisRange(t.data, dim, s, out, e - s, 0, outer, e - s, inner);
  return new Tensor(out, outShape);
}

/**
 * Validate that `shapes` agree on every axis except `axis` (same rank too) and return the
 * normalised axis; the error names the op and the first mismatching shapes.
 */
export function checkConcatShapes(shapes: readonly Shape[], axis: number, op: string): number {
  if (shapes.length === 0) throw new ShapeError(`${op}: needs at least one tensor`);
  const first = shapes[0]!;
  const ax = normalizeAxis(axis, first.length, op);
  for (let i = 1; i < shapes.length; i++) {
    const s = shapes[i]!;
    const ok = s.length === first.length && s.every((d, j) => j === ax || d === first[j]);
    if (!ok) {
      throw new ShapeError(`${op}: shapes ${formatShape(first)} (tensor 0) and ${formatShape(s)} (tensor ${i}) differ outside axis ${ax}`);
    }
  }
  return ax;
}

/** Join tensors along an existing axis; mixed float32/float64 inputs give float64. */
export function concat(tensors: readonly Tensor[], axis = 0): Tensor {
  const ax = checkConcatShapes(
    tensors.map((t) => t.shape),
    axis,
    'concat',
  );
  const first = tensors[0]!.shape;
  let total = 0;
  let dtype: DType = tensors[0]!.dtype;
  for (const t of tensors) {
    total += t.shape[ax]!;
    dtype = promote(dtype, t.dtype);
  }
  const outShape = first.slice();
  outShape[ax] = total;
  const out = allocate(dtype, sizeOf(outShape));
  const outer = dimsProduct(first, 0, ax);
  const inner = dimsProduct(first, ax + 1, first.length);
  let at = 0;
  for (const t of tensors) {
    const len = t.shape[ax]!;
    copyAxisRange(t.data, len, 0, out, total, at, outer, len, inner);
    at += len;
  }
  return new Tensor(out, outShape);
}

/**
 * Resolve the `sizes` of a split: an array of part lengths that must sum to the axis length, or a
 * count of equal parts that must divide it.
 */
export function resolveSplitSizes(sizesOrCount: number | readonly number[], dim: number, shape: Shape, axis: number, op: string): number[] {
  if (typeof sizesOrCount === 'number') {
    const count = sizesOrCount;
    if (!Number.isInteger(count) || count < 1 || dim % count !== 0) {
      throw new ShapeError(`${op}: cannot split axis ${axis} of shape ${formatShape(shape)} (length ${dim}) into ${count} equal parts`);
    }
    return new Array<number>(count).fill(dim / count);
  }
  const sizes = sizesOrCount.slice();
  const sum = sizes.reduce((p, s) => p + s, 0);
  if (sizes.length === 0 || sizes.some((s) => !Number.isInteger(s) || s < 0) || sum !== dim) {
    throw new ShapeError(`${op}: sizes [${sizes.join(',')}] do not partition axis ${axis} of shape ${formatShape(shape)} (length ${dim})`);
  }
  return sizes;
}

/** Cut `t` along `axis` into parts of the given sizes, or into `count` equal parts. */
export function split(t: Tensor, sizesOrCount: number | readonly number[], axis = 0): Tensor[] {
  const ax = normalizeAxis(axis, t.rank, 'split');
  const dim = t.shape[ax]!;
  const sizes = resolveSplitSizes(sizesOrCount, dim, t.shape, ax, 'split');
  const outer = dimsProduct(t.shape, 0, ax);
  const inner = dimsProduct(t.shape, ax + 1, t.rank);
  const parts: Tensor[] = [];
  let at = 0;
  for (const len of sizes) {
    const shape = t.shape.slice();
    shape[ax] = len;
    const out = allocate(t.dtype, sizeOf(shape));
    copyAxisRange(t.data, dim, at, out, len, 0, outer, len, inner);
    parts.push(new Tensor(out, shape));
    at += len;
  }
  return parts;
}

/** The shapes `stack` sees: each input with a 1 inserted at `axis` (which ranges over rank + 1 slots). */
export function stackAxis(shapes: readonly Shape[], axis: number, op: string): number {
  if (shapes.length === 0) throw new ShapeError(`${op}: needs at least one tensor`);
  const first = shapes[0]!;
  const ax = normalizeAxis(axis, first.length + 1, op);
  for (let i = 1; i < shapes.length; i++) {
    if (!shapesEqual(shapes[i]!, first)) {
      throw new ShapeError(
        `${op}: shapes ${formatShape(first)} (tensor 0) and ${formatShape(shapes[i]!)} (tensor ${i}) differ; stack needs equal shapes`,
      );
    }
  }
  return ax;
}

/** Join equal-shaped tensors along a new axis. */
export function stack(tensors: readonly Tensor[], axis = 0): Tensor {
  const ax = stackAxis(
    tensors.map((t) => t.shape),
    axis,
    'stack',
  );
  const expanded = tensors.map((t) => {
    const s = t.shape.slice();
    s.splice(ax, 0, 1);
    return t.reshape(s);
  });
  return concat(expanded, ax);
}
