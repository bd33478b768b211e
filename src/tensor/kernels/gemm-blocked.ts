import type { Backend, GemmArgs } from '../backend.js';
import type { Storage } from '../dtype.js';
import { checkGemmArgs } from './gemm-check.js';
import {
  KC,
  MC,
  MR,
  NC,
  NR,
  loadPackedB,
  microKernel,
  microKernelInto,
  microKernelTailInto,
  packA,
  packB,
  rowTimesPackedBlock,
  storeTile,
} from './gemm-panels.js';
import { BlockedPackedB, prepareBlockedB, type PackedBlocks } from './gemm-prepared.js';
import { jsRecurrentKernels } from './recurrent-kernels.js';

/**
 * C[m,n] = (accumulate ? C : 0) + alpha·op(A)·op(B) (+ bias[n] per row), the GemmArgs contract,
 * with operands given by strides: op(A)(i,p) = a[aOff + i·rsA + p·csA] and
 * op(B)(p,j) = b[bOff + p·rsB + j·csB]; C(i,j) = c[cOff + i·ldc + j]. Arguments are assumed
 * valid (see checkGemmArgs). Each C element's arithmetic (k-block order, summation order inside
 * a block) depends only on k, never on m, n or which rows are computed, so any row partition of
 * one problem gives bit-identical results (the parallel backend relies on this).
 * `packed`, when given, is op(B) prepared from exactly these b, bOff, rsB, csB, k and n (the caller
 * has checked), or those columns of a larger prepared op(B) (packedColumns): its blocks replace
 * packing B, with the same values. b is then never read.
 */
export function gemmBlockedStrided(
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
  packed?: PackedBlocks,
): void {
  if (m === 0 || n === 0) return;
  if (k === 0) {
    epilogueOnly(m, n, c, cOff, ldc, accumulate, bias, biasOff);
    return;
  }
  if (m === 1 && packed !== undefined) {
    rowTimesPacked(n, k, a, aOff, csA, packed, c, cOff, alpha, accumulate, bias, biasOff);
    return;
  }
  // Locals, not the module constants: module bindings are reloaded (with a TDZ check) per use.
  const mrStep = MR,
    nrStep = NR,
    kcMax = KC,
    mcMax = MC,
    ncMax = NC;
  let block = 0; // index of the (jc, pc) block in packed.blocks (jc outer, pc inner, as here)
  for (let jc = 0; jc < n; jc += ncMax) {
    const nc = Math.min(ncMax, n - jc);
    for (let pc = 0; pc < k; pc += kcMax) {
      const kc = Math.min(kcMax, k - pc);
      const first = pc === 0;
      const keep = accumulate || !first;
      const blockBias = first ? bias : undefined;
      // Full tiles of this k-block can take the fused kernel+store (no scaling, no bias to add).
      const plain = alpha === 1 && blockBias === undefined;
      if (packed === undefined) packB(b, bOff + pc * rsB + jc * csB, rsB, csB, kc, nc);
      else loadPackedB(packed.blocks[block]!);
      block++;
      for (let ic = 0; ic < m; ic += mcMax) {
        const mc = Math.min(mcMax, m - ic);
        packA(a, aOff + ic * rsA + pc * csA, rsA, csA, mc, kc);
        for (let jr = 0; jr < nc; jr += nrStep) {
          const nr = Math.min(nrStep, nc - jr);
          const bPanel = jr * kc;
          for (let ir = 0; ir < mc; ir += mrStep) {
            const cIdx = cOff + (ic + ir) * ldc + jc + jr;
            const rows = mc - ir;
            if (plain && nr === nrStep && rows >= mrStep) {
              microKernelInto(kc, ir * kc, bPanel, c, cIdx, ldc, keep);
            } else if (plain && nr === nrStep) {
              microKernelTailInto(rows, kc, ir * kc, bPanel, c, cIdx, ldc, keep);
            } else {
              microKernel(kc, ir * kc, bPanel);
              storeTile(Math.min(mrStep, mc - ir), nr, alpha, c, cIdx, ldc, keep, blockBias, biasOff + jc + jr);
            }
          }
        }
      }
    }
  }
}

/**
 * m = 1 with a prepared op(B): the driver's (jc, pc) block order and merging, each block multiplied
 * in place by rowTimesPackedBlock instead of being copied into the kernel's panel first.
 */
function rowTimesPacked(
  n: number,
  k: number,
  a: Storage,
  aOff: number,
  csA: number,
  packed: PackedBlocks,
  c: Storage,
  cOff: number,
  alpha: number,
  accumulate: boolean,
  bias: Storage | undefined,
  biasOff: number,
): void {
  let block = 0;
  for (let jc = 0; jc < n; jc += NC) {
    const nc = Math.min(NC, n - jc);
    for (let pc = 0; pc < k; pc += KC) {
      const kc = Math.min(KC, k - pc);
      const first = pc === 0;
      const blockBias = first ? bias : undefined;
      rowTimesPackedBlock(
        kc,
        nc,
        a,
        aOff + pc * csA,
        csA,
        packed.blocks[block++]!,
        alpha,
        c,
        cOff + jc,
        accumulate || !first,
        blockBias,
        biasOff + jc,
      );
    }
  }
}

/** k = 0: the product is empty, so C = (accumulate ? C : 0) + bias. */
function epilogueOnly(
  m: number,
  n: number,
  c: Storage,
  cOff: number,
  ldc: number,
  accumulate: boolean,
  bias: Storage | undefined,
  biasOff: number,
): void {
  for (let i = 0; i < m; i++) {
    const row = cOff + i * ldc;
    for (let j = 0; j < n; j++) {
      const v = bias === undefined ? 0 : bias[biasOff + j]!;
      c[row + j] = accumulate ? c[row + j]! + v : v;
    }
  }
}

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
function gemmSmall(
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

/**
 * The blocked GEMM behind GemmArgs: validates, resolves defaults and transposes into strides,
 * then takes the direct path for tiny problems (packing would cost more than it saves) or the
 * packed, register-blocked path.
 */
export function gemmBlocked(p: GemmArgs): void {
  checkGemmArgs(p, 'gemm');
  const { m, n, k, a, b, c } = p;
  const transA = p.transA ?? false;
  const transB = p.transB ?? false;
  const lda = p.lda ?? (transA ? m : k); // A: [m,k] or [k,m]
  const ldb = p.ldb ?? (transB ? k : n); // B: [k,n] or [n,k]
  // A prepared operand of another backend is ignored (b is read), as the GemmArgs contract says.
  const packed = p.packedB instanceof BlockedPackedB ? p.packedB : undefined;
  if (packed !== undefined) packed.check('gemm', k, n, b, p.bOffset ?? 0, ldb, transB);
  const rsA = transA ? 1 : lda;
  const csA = transA ? lda : 1;
  const rsB = transB ? 1 : ldb;
  const csB = transB ? ldb : 1;
  if (k === 0 || m === 0 || n === 0) {
    gemmBlockedStrided(m, n, 0, a, 0, 0, 0, b, 0, 0, 0, c, p.cOffset ?? 0, p.ldc ?? n, 1, p.accumulate ?? false, p.bias, p.biasOffset ?? 0);
    return;
  }
  if (m * n * k <= SMALL_GEMM_WORK) {
    gemmSmall(
      m,
      n,
      k,
      a,
      p.aOffset ?? 0,
      rsA,
      csA,
      b,
      p.bOffset ?? 0,
      rsB,
      csB,
      c,
      p.cOffset ?? 0,
      p.ldc ?? n,
      p.alpha ?? 1,
      p.accumulate ?? false,
      p.bias,
      p.biasOffset ?? 0,
    );
    return;
  }
  gemmBlockedStrided(
    m,
    n,
    k,
    a,
    p.aOffset ?? 0,
    rsA,
    csA,
    b,
    p.bOffset ?? 0,
    rsB,
    csB,
    c,
    p.cOffset ?? 0,
    p.ldc ?? n,
    p.alpha ?? 1,
    p.accumulate ?? false,
    p.bias,
    p.biasOffset ?? 0,
    packed,
  );
}

/**
 * The packed, register-blocked single-thread GEMM as a Backend (with prepareB: see gemm-prepared.ts).
 * describe() says which kernels run, as the wasm backend's does ('wasm-simd fma', 'wasm-simd').
 */
export const blockedBackend: Backend = Object.freeze({
  name: 'blocked',
  describe: () => 'js',
  gemm: gemmBlocked,
  prepareB: prepareBlockedB,
  recurrent: jsRecurrentKernels,
  close: () => {},
});
