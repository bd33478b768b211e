import type { Storage } from '../dtype.js';
import { shapesEqual, sizeOf, type Shape } from '../shape.js';

/**
 * One strided row of a binary element-wise op:
 *   out[oOff + i] = f(a[aOff + i·aStride], b[bOff + i·bStride])   for i in 0..n
 * A stride of 0 repeats one element (a broadcast axis). `out` may be `a` or `b` (same offsets,
 * stride 1): each element is read before it is written, so in-place accumulation is safe.
 */
export type BinaryRowKernel = (
  a: Storage,
  aOff: number,
  aStride: number,
  b: Storage,
  bOff: number,
  bStride: number,
  out: Storage,
  oOff: number,
  n: number,
) => void;

/**
 * The iteration plan of a broadcast binary op: the output's dims, coalesced (adjacent dims merged
 * wherever both operands stay linear across them, so the innermost row is as long as possible),
 * with each operand's element stride per dim (0 along a broadcast dim).
 */
export interface BroadcastLayout {
  dims: number[];
  aStrides: number[];
  bStrides: number[];
}

/** Strides of `shape` right-aligned against `outShape`, 0 where the operand is broadcast. */
function broadcastStrides(shape: Shape, outShape: Shape): number[] {
  const rank = outShape.length;
  const strides = new Array<number>(rank).fill(0);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const d = shape[i]!;
    const o = i + rank - shape.length;
    strides[o] = d === 1 ? 0 : s;
    s *= d;
  }
  return strides;
}

/** Plan `outShape = broadcast(aShape, bShape)`; the shapes must already be known to broadcast. */
export function broadcastLayout(aShape: Shape, bShape: Shape, outShape: Shape): BroadcastLayout {
  const as = broadcastStrides(aShape, outShape);
  const bs = broadcastStrides(bShape, outShape);
  const dims: number[] = [];
  const aStrides: number[] = [];
  const bStrides: number[] = [];
  for (let i = 0; i < outShape.length; i++) {
    const d = outShape[i]!;
    if (d === 1) continue; // a size-1 output dim contributes nothing to any offset
    const last = dims.length - 1;
    // Merge with the previous dim when each operand's offset stays linear across the pair.
    if (last >= 0 && aStrides[last] === as[i]! * d && bStrides[last] === bs[i]! * d) {
      dims[last] = dims[last]! * d;
      aStrides[last] = as[i]!;
      bStrides[last] = bs[i]!;
    } else {
      dims.push(d);
      aStrides.push(as[i]!);
      bStrides.push(bs[i]!);
    }
  }
  if (dims.length === 0) {
    dims.push(1);
    aStrides.push(0);
    bStrides.push(0);
  }
  return { dims, aStrides, bStrides };
}

/**
 * out = f(a, b) with NumPy broadcasting, f given as a row kernel.
 * a: [aShape], b: [bShape], out: [outShape] with outShape = broadcast(aShape, bShape) (checked by the caller).
 * Fast paths for equal shapes and a one-element operand run as a single row; everything else walks the
 * coalesced layout with an odometer over all dims but the innermost, which the row kernel covers.
 */
export function broadcastBinary(
  row: BinaryRowKernel,
  a: Storage,
  aShape: Shape,
  b: Storage,
  bShape: Shape,
  out: Storage,
  outShape: Shape,
): void {
  const n = out.length;
  if (n === 0) return;
  if (a.length === n && b.length === n && shapesEqual(aShape, bShape)) return row(a, 0, 1, b, 0, 1, out, 0, n);
  if (b.length === 1 && a.length === n) return row(a, 0, 1, b, 0, 0, out, 0, n);
  if (a.length === 1 && b.length === n) return row(a, 0, 0, b, 0, 1, out, 0, n);
  broadcastBinaryStrided(row, a, aShape, b, bShape, out, outShape);
}

/** The general path of `broadcastBinary` (exported so tests can drive it on shapes the fast paths take). */
export function broadcastBinaryStrided(
  row: BinaryRowKernel,
  a: Storage,
  aShape: Shape,
  b: Storage,
  bShape: Shape,
  out: Storage,
  outShape: Shape,
): void {
  const total = sizeOf(outShape);
  if (total === 0) return;
  const { dims, aStrides, bStrides } = broadcastLayout(aShape, bShape, outShape);
  const last = dims.length - 1;
  const n = dims[last]!;
  const aInner = aStrides[last]!;
  const bInner = bStrides[last]!;
  const counter = new Array<number>(last).fill(0);
  let aOff = 0;
  let bOff = 0;
  for (let oOff = 0; oOff < total; oOff += n) {
    row(a, aOff, aInner, b, bOff, bInner, out, oOff, n);
    for (let d = last - 1; d >= 0; d--) {
      aOff += aStrides[d]!;
      bOff += bStrides[d]!;
      if (++counter[d]! < dims[d]!) break;
      aOff -= aStrides[d]! * dims[d]!;
      bOff -= bStrides[d]! * dims[d]!;
      counter[d] = 0;
    }
  }
}
