import type { Storage } from '../dtype.js';

/**
 * Problems with m·n·k at or below this take the direct path: for them the fixed cost of packing
 * and tile epilogues exceeds what the register tile saves. Measured on Node 20 (x64): direct is
 * ~1.3× faster at 4³–5³, the blocked path ~1.4× faster from 6³ on, and at least as fast for every
 * larger shape tried, including single-row (m = 1) products.
 */
export const SMALL_GEMM_WORK = 128;

/**
 * Direct GEMM for tiny problems: one float64 dot product per element of C, same contract and
 * strides as gemmBlockedStrided (op(A)(i,p) = a[aOff + i·rsA + p·csA], op(B)(p,j) =
 * b[bOff + p·rsB + j·csB], C(i,j) = c[cOff + i·ldc + j]).
 */
export function gemmSmall(
  m: number,
  n: number,
  k: number,
  a: Storage,
  aOff: number,
  rsA: number,
  csA: number,
  b: Storage,
  bOff: number,
  rsB: number,
  csB: number,
  c: Storage,
  cOff: number,
  ldc: number,
  alpha: number,
  accumulate: boolean,
  bias: Storage | undefined,
  biasOff: number,
): void {
  for (let i = 0; i < m; i++) {
    const aRow = aOff + i * rsA;
    const cRow = cOff + i * ldc;
    for (let j = 0; j < n; j++) {
      let ai = aRow;
      let bi = bOff + j * csB;
      let s = 0;
      for (let p = 0; p < k; p++) {
        s += a[ai]! * b[bi]!;
        ai += csA;
        bi += rsB;
      }
      let v = alpha * s;
      if (bias !== undefined) v += bias[biasOff + j]!;
      c[cRow + j] = accumulate ? c[cRow + j]! + v : v;
    }
  }
}
