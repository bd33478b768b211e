/**
 * The logistic function σ(z) = 1/(1+e^{−z}) without overflow: for z < 0, exp(−z) overflows to
 * Infinity long before σ(z) underflows (1/∞ would give 0 where σ is still e^z), so that branch
 * evaluates e/(1+e) with e = exp(z) ≤ 1 instead. The one scalar σ of the JS kernels: the
 * elementwise sigmoid op and the fused LSTM gates both call it.
 */
export function stableSigmoid(z: number): number {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}
