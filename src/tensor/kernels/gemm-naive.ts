import type { GemmArgs } from '../backend.js';

/**
 * Reference GEMM: the definition in GemmArgs, written as plainly as possible (accumulating each
 * dot product in a float64 local). Every fast kernel is tested against this one.
 */
export function gemmNaive(p: GemmArgs): void {
  const { m, n, k, a, b, c } = p;
  const transA = p.transA ?? false;
  const transB = p.transB ?? false;
  const aOff = p.aOffset ?? 0;
  const bOff = p.bOffset ?? 0;
  const cOff = p.cOffset ?? 0;
  const lda = p.lda ?? (transA ? m : k); // A: [m,k] or [k,m]
  const ldb = p.ldb ?? (transB ? k : n); // B: [k,n] or [n,k]
  const ldc = p.ldc ?? n; // C: [m,n]
  const alpha = p.alpha ?? 1;
  const bias = p.bias;
  const biasOff = p.biasOffset ?? 0;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let q = 0; q < k; q++) {
        const av = transA ? a[aOff + q * lda + i]! : a[aOff + i * lda + q]!;
        const bv = transB ? b[bOff + j * ldb + q]! : b[bOff + q * ldb + j]!;
        s += av * bv;
      }
      s *= alpha;
      if (bias) s += bias[biasOff + j]!;
      const ci = cOff + i * ldc + j;
      c[ci] = p.accumulate ? c[ci]! + s : s;
    }
  }
}
