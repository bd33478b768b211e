import type { Backend } from '../backend.js';
import { allocate, promote, type Storage } from '../dtype.js';
import { defaultBackend } from '../kernels/index.js';
import { formatShape, ShapeError, shapesEqual, sizeOf, type Shape } from '../shape.js';
import { Tensor } from '../tensor.js';

/**
 * Matrix products over the Backend's gemm. Transposes are never materialised: op(A) and op(B) are
 * expressed with gemm's transpose flags, batches with offsets into the contiguous buffers.
 */

export interface MatmulOptions {
  /** Use Aᵀ: a's last two axes are [k, m] instead of [m, k]. */
  transA?: boolean;
  /** Use Bᵀ: b's last two axes are [n, k] instead of [k, n]. */
  transB?: boolean;
}

/** The resolved geometry of op(A)·op(B), shared by the forward and the differentiable backward. */
export interface MatmulPlan {
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
  /** Number of matrix products. */
  batch: number;
  /** The leading (batch) axes of the output. */
  batchShape: number[];
  /** a (resp. b) is a single 2-D matrix used by every batch item. */
  aShared: boolean;
  bShared: boolean;
  outShape: number[];
}

function describeOperands(a: Shape, b: Shape, transA: boolean, transB: boolean): string {
  return `shapes ${formatShape(a)}${transA ? ' (transA)' : ''} and ${formatShape(b)}${transB ? ' (transB)' : ''}`;
}

/**
 * Resolve shapes: a is [...batch, m, k] (or [..., k, m] with transA), b is [...batch, k, n] (or
 * [..., n, k] with transB). The batch axes must be equal, or one operand 2-D and shared by every
 * batch item of the other. No other broadcasting: it would hide shape bugs.
 */
export function planMatmul(aShape: Shape, bShape: Shape, options: MatmulOptions = {}, op = 'matmul'): MatmulPlan {
  const transA = options.transA ?? false;
  const transB = options.transB ?? false;
  const what = (): string => describeOperands(aShape, bShape, transA, transB);
  if (aShape.length < 2 || bShape.length < 2) {
    throw new ShapeError(`${op}: ${what()} — both operands need rank ≥ 2 ([..., rows, cols])`);
  }
  const ra = aShape.length;
  const rb = bShape.length;
  const m = transA ? aShape[ra - 1]! : aShape[ra - 2]!;
  const ka = transA ? aShape[ra - 2]! : aShape[ra - 1]!;
  const kb = transB ? bShape[rb - 1]! : bShape[rb - 2]!;
  const n = transB ? bShape[rb - 2]! : bShape[rb - 1]!;
  if (ka !== kb) throw new ShapeError(`${op}: ${what()} are incompatible (inner dims ${ka} ≠ ${kb})`);
  const aBatch = aShape.slice(0, -2);
  const bBatch = bShape.slice(0, -2);
  const aShared = aBatch.length === 0 && bBatch.length > 0;
  const bShared = bBatch.length === 0 && aBatch.length > 0;
  if (!aShared && !bShared && !shapesEqual(aBatch, bBatch)) {
    throw new ShapeError(
      `${op}: ${what()} have different batch axes ${formatShape(aBatch)} and ${formatShape(bBatch)} (they must be equal, or one operand 2-D)`,
    );
  }
  const batchShape = aBatch.length > 0 ? aBatch : bBatch;
  return { m, n, k: ka, transA, transB, batch: sizeOf(batchShape), batchShape, aShared, bShared, outShape: [...batchShape, m, n] };
}

/**
 * C = op(A)·op(B) (=|+=) per batch item. With b shared and no transA, all of a's batch rows form one
 * tall [batch·m, k] matrix, so a single gemm call does the whole batch.
 */
export function matmulInto(
  backend: Backend,
  plan: MatmulPlan,
  a: Storage, // [...batch?, m, k] or [..., k, m]
  b: Storage, // [...batch?, k, n] or [..., n, k]
  c: Storage, // [...batch, m, n]
  accumulate = false,
): void {
  const { m, n, k, transA, transB, batch, aShared, bShared } = plan;
  if (bShared && !transA) {
    backend.gemm({ m: batch * m, n, k, a, b, transB, c, accumulate });
    return;
  }
  const aStride = aShared ? 0 : m * k;
  const bStride = bShared ? 0 : k * n;
  for (let i = 0; i < batch; i++) {
    backend.gemm({
      m,
      n,
      k,
      a,
      aOffset: i * aStride,
      transA,
      b,
      bOffset: i * bStride,
      transB,
      c,
      cOffset: i * m * n,
      accumulate,
    });
  }
}

/** Both storages in the promoted dtype (gemm is handed arrays of one kind). */
export function commonStorage(a: Tensor, b: Tensor): [Storage, Storage] {
  const dtype = promote(a.dtype, b.dtype);
  return [a.dtype === dtype ? a.data : a.astype(dtype).data, b.dtype === dtype ? b.data : b.astype(dtype).data];
}

/**
 * op(a)·op(b) for 2-D or batched operands, e.g. [2,3]·[3,4] → [2,4], [B,m,k]·[k,n] → [B,m,n],
 * [B,m,k]·[B,k,n] → [B,m,n]. Errors name both shapes and the flags.
 */
export function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}, backend: Backend = defaultBackend): Tensor {
  const plan = planMatmul(a.shape, b.shape, options);
  const [ad, bd] = commonStorage(a, b);
  const out = allocate(promote(a.dtype, b.dtype), sizeOf(plan.outShape));
  matmulInto(backend, plan, ad, bd, out);
  return new Tensor(out, plan.outShape);
}

/** Validate x [..., in], weight [out, in], bias [out]; returns the row count and sizes. */
export function planLinear(
  xShape: Shape,
  wShape: Shape,
  biasShape: Shape | undefined,
  op = 'linear',
): { rows: number; inF: number; outF: number; outShape: number[] } {
  if (wShape.length !== 2) throw new ShapeError(`${op}: weight must be 2-D [out, in], got shape ${formatShape(wShape)}`);
  if (xShape.length < 1) throw new ShapeError(`${op}: input must have rank ≥ 1 ([..., in]), got shape ${formatShape(xShape)}`);
  const [outF, inF] = wShape as [number, number];
  const xIn = xShape[xShape.length - 1]!;
  if (xIn !== inF) {
    throw new ShapeError(
      `${op}: input of shape ${formatShape(xShape)} and weight of shape ${formatShape(wShape)} are incompatible (in features ${xIn} ≠ ${inF})`,
    );
  }
  if (biasShape !== undefined && !shapesEqual(biasShape, [outF])) {
    throw new ShapeError(
      `${op}: bias of shape ${formatShape(biasShape)} does not match weight of shape ${formatShape(wShape)} (expected [${outF}])`,
    );
  }
  const outShape = [...xShape.slice(0, -1), outF];
  return { rows: sizeOf(xShape.slice(0, -1)), inF, outF, outShape };
}

/** y = x·weightᵀ + bias (PyTorch layout, weight [out, in]): one gemm with the bias epilogue. */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor, backend: Backend = defaultBackend): Tensor {
  const { rows, inF, outF, outShape } = planLinear(x.shape, weight.shape, bias?.shape);
  const dtype = promote(promote(x.dtype, weight.dtype), bias?.dtype ?? x.dtype);
  const xd = x.dtype === dtype ? x.data : x.astype(dtype).data;
  const wd = weight.dtype === dtype ? weight.data : weight.astype(dtype).data;
  const bd = bias === undefined ? undefined : bias.dtype === dtype ? bias.data : bias.astype(dtype).data;
  const out = allocate(dtype, rows * outF);
  backend.gemm({ m: rows, n: outF, k: inF, a: xd, b: wd, transB: true, c: out, ...(bd ? { bias: bd } : {}) });
  return new Tensor(out, outShape);
}
