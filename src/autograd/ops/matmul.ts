import type { Backend } from '../../tensor/backend.js';
import { allocate, promote, type Storage } from '../../tensor/dtype.js';
import { commonStorage, matmulInto, planLinear, planMatmul, type MatmulOptions, type MatmulPlan } from '../../tensor/ops/matmul.js';
import { Tensor } from '../../tensor/tensor.js';
import type { Tape } from '../tape.js';
import { gradBuffer, Var } from '../var.js';

/**
 * Differentiable matrix products on `tape.backend`. Both gradients of C = op(A)·op(B) are again
 * gemm calls with transpose flags, accumulating (`accumulate: true`) straight into the inputs'
 * gradient buffers: no transpose and no temporary is ever materialised.
 *
 *   d op(A) = dC·op(B)ᵀ      so  dA = dC·op(B)ᵀ      or, with transA,  dA = op(B)·dCᵀ
 *   d op(B) = op(A)ᵀ·dC      so  dB = op(A)ᵀ·dC      or, with transB,  dB = dCᵀ·op(A)
 */

/**
 * Accumulate dA and/or dB of C = op(A)·op(B) (per batch item; a shared operand's gradient sums over
 * the batch because every call accumulates). Null targets are skipped.
 */
export function matmulBackwardInto(
  backend: Backend,
  plan: MatmulPlan,
  a: Storage, // [...batch?, m, k] or [..., k, m]
  b: Storage, // [...batch?, k, n] or [..., n, k]
  dC: Storage, // [...batch, m, n]
  dA: Storage | null, // like a
  dB: Storage | null, // like b
): void {
  const { m, n, k, transA, transB, batch, aShared, bShared } = plan;
  if (bShared && !transA) {
    // a's batch rows form one [M,k] matrix (M = batch·m), and the whole batch is one product.
    const rows = batch * m;
    if (dA) backend.gemm({ m: rows, n: k, k: n, a: dC, b, transB: !transB, c: dA, accumulate: true });
    if (dB) {
      if (!transB) backend.gemm({ m: k, n, k: rows, a, transA: true, b: dC, c: dB, accumulate: true });
      else backend.gemm({ m: n, n: k, k: rows, a: dC, transA: true, b: a, c: dB, accumulate: true });
    }
    return;
  }
  const aStride = aShared ? 0 : m * k;
  const bStride = bShared ? 0 : k * n;
  for (let i = 0; i < batch; i++) {
    const aOffset = i * aStride;
    const bOffset = i * bStride;
    const cOffset = i * m * n;
    if (dA) {
      if (!transA) {
        backend.gemm({ m, n: k, k: n, a: dC, aOffset: cOffset, b, bOffset, transB: !transB, c: dA, cOffset: aOffset, accumulate: true });
      } else {
        backend.gemm({
          m: k,
          n: m,
          k: n,
          a: b,
          aOffset: bOffset,
          transA: transB,
          b: dC,
          bOffset: cOffset,
          transB: true,
          c: dA,
          cOffset: aOffset,
          accumulate: true,
        });
      }
    }
    if (dB) {
      if (!transB) {
        backend.gemm({ m: k, n, k: m, a, aOffset, transA: !transA, b: dC, bOffset: cOffset, c: dB, cOffset: bOffset, accumulate: true });
      } else {
        backend.gemm({
          m: n,
          n: k,
          k: m,
          a: dC,
          aOffset: cOffset,
          transA: true,
          b: a,
          bOffset: aOffset,
          transB: transA,
          c: dB,
          cOffset: bOffset,
          accumulate: true,
        });
      }
    }
  }
}

/**
 * op(a)·op(b), 2-D or batched (equal batch axes, or one operand 2-D and shared): see the
 * tensor-level matmul for the shape rules.
 */
export function matmul(tape: Tape, a: Var, b: Var, options: MatmulOptions = {}): Var {
  const plan = planMatmul(a.shape, b.shape, options);
  const [ad, bd] = commonStorage(a.value, b.value);
  const out = allocate(promote(a.value.dtype, b.value.dtype), plan.batch * plan.m * plan.n);
  matmulInto(tape.backend, plan, ad, bd, out);
  const result = new Var(new Tensor(out, plan.outShape));
  if (tape.needsGrad(a, b)) {
    tape.record('matmul', [a, b], [result], () => {
      matmulBackwardInto(tape.backend, plan, ad, bd, result.grad!.data, gradBuffer(a), gradBuffer(b));
    });
  }
  return result;
}

/**
 * y = x·weightᵀ + bias for x [..., in], weight [out, in] (PyTorch layout), bias [out]: the forward
 * is one gemm with the bias epilogue; dx = dy·W, dW = dyᵀ·x (both gemm, accumulating), dbias = the
 * column sums of dy.
 */
export function linear(tape: Tape, x: Var, weight: Var, bias?: Var): Var {
  const { rows, inF, outF, outShape } = planLinear(x.shape, weight.shape, bias?.shape);
  const dtype = promote(promote(x.value.dtype, weight.value.dtype), bias?.value.dtype ?? x.value.dtype);
  const xd = x.value.dtype === dtype ? x.data : x.value.astype(dtype).data; // [rows,in]
  const wd = weight.value.dtype === dtype ? weight.data : weight.value.astype(dtype).data; // [out,in]
  const bd = bias === undefined ? undefined : bias.value.dtype === dtype ? bias.data : bias.value.astype(dtype).data; // [out]
  const y = allocate(dtype, rows * outF); // [rows,out]
  tape.backend.gemm({ m: rows, n: outF, k: inF, a: xd, b: wd, transB: true, c: y, ...(bd ? { bias: bd } : {}) });
  const out = new Var(new Tensor(y, outShape));
  const inputs = bias ? [x, weight, bias] : [x, weight];
  if (tape.needsGrad(...inputs)) {
    tape.record('linear', inputs, [out], () => {
      const dy = out.grad!.data; // [rows,out]
      const dx = gradBuffer(x);
      if (dx) tape.backend.gemm({ m: rows, n: inF, k: outF, a: dy, b: wd, c: dx, accumulate: true });
      const dw = gradBuffer(weight);
      if (dw) tape.backend.gemm({ m: outF, n: inF, k: rows, a: dy, transA: true, b: xd, c: dw, accumulate: true });
      const db = bias ? gradBuffer(bias) : null;
      if (db) {
        for (let r = 0, off = 0; r < rows; r++, off += outF) {
          for (let j = 0; j < outF; j++) db[j]! += dy[off + j]!;
        }
      }
    });
  }
  return out;
}
