import type { Var } from '../autograd/var.js';
import { describeValue } from './validate.js';

/** PyTorch's guard in clip_grad_norm_: the coefficient is max_norm / (total_norm + 1e-6). */
export const CLIP_EPS = 1e-6;

/**
 * The global L2 norm of all gradients, as if concatenated into one vector: √(Σ g²), accumulated
 * in float64 whatever the storage. Parameters whose grad is null are skipped; no grads → 0.
 */
export function globalGradNorm(params: readonly Var[]): number {
  let sumSq = 0;
  for (const p of params) {
    const g = p.grad;
    if (g === null) continue;
    const d = g.data; // [size of p], flat
    for (let i = 0; i < d.length; i++) {
      const x = d[i]!;
      sumSq += x * x;
    }
  }
  return Math.sqrt(sumSq);
}

/**
 * torch.nn.utils.clip_grad_norm_ (norm_type 2): returns the global gradient norm BEFORE clipping
 * and scales every gradient in place by
 *     clip_coef = min(maxNorm / (norm + 1e-6), 1)
 * (PyTorch multiplies by the clamped coefficient unconditionally; multiplying by 1 is a no-op,
 * so grads change only when norm + 1e-6 > maxNorm.) The clipped norm is then
 * norm·maxNorm/(norm + 1e-6) < maxNorm.
 *
 * A non-finite norm (a NaN or Inf in some gradient, or overflow of Σg²) is returned as is and the
 * gradients are left untouched: scaling by 0 or NaN would only hide the problem. The caller
 * (the trainer) must then skip the update, as `error_if_nonfinite=False` callers of PyTorch do.
 *
 * maxNorm: ≥ 0 (0 zeroes the gradients, Infinity never clips); NaN or negative throws.
 */
export function clipGradNorm(params: readonly Var[], maxNorm: number): number {
  if (typeof maxNorm !== 'number' || Number.isNaN(maxNorm) || maxNorm < 0) {
    throw new RangeError(`clipGradNorm: invalid maxNorm ${describeValue(maxNorm)} (must be a number >= 0)`);
  }
  const norm = globalGradNorm(params);
  if (!Number.isFinite(norm)) return norm;
  const coef = maxNorm / (norm + CLIP_EPS);
  if (coef < 1) {
    for (const p of params) {
      const g = p.grad;
      if (g === null) continue;
      const d = g.data;
      for (let i = 0; i < d.length; i++) d[i] = d[i]! * coef;
    }
  }
  return norm;
}
