import type { Storage } from '../dtype.js';

/**
 * The inner machinery of the blocked GEMM: packed panels, the register-tile micro-kernel and its
 * epilogue. The driver (gemm-blocked.ts) only sequences these.
 *
 * Register tile MR×NR = 3×4, measured on V8 11 (Node 20, x64, Zen 4): TurboFan schedules a loop
 * body in layers (all loads, then all multiplies, then all adds), so accumulators AND products
 * are live together and x64 has 16 xmm registers. With 12 accumulators (3×4 or 2×6) few values
 * spill and the kernel sustains ~6 GFLOP/s; 4×4 and 4×8 load less per flop but spill every
 * product (~4 GFLOP/s); 8×8 is worse; unrolling the k loop by two lengthens live ranges (−30%).
 *
 * Cache blocking (Goto/BLIS order jc → pc → [pack B] → ic → [pack A] → jr → ir → kernel). Panels
 * hold float64, 8 bytes per element; sizes for the target (Zen 4: 32 KiB L1d, 1 MiB L2 per core):
 *  - KC = 256: a B micro-panel [KC,NR] is 8 KiB and an A micro-panel [KC,MR] 6 KiB, so the B
 *    panel that the inner ir-loop reuses stays in L1 while A panels stream past it; a long KC
 *    amortises the tile epilogue (12 stores per 3·4·KC multiply-adds) and rounds a float32 C
 *    less often between k-blocks.
 *  - MC = 96 (multiple of MR): the packed A block [MC,KC] is 192 KiB, resident in L2, where it
 *    is reread once per B micro-panel.
 *  - NC = 1024 (multiple of NR): the packed B block [KC,NC] is 2 MiB (L2/L3); 4·H up to 1024
 *    fits one block, so B is packed once per k-block.
 * At ~2 flops/cycle the kernel needs < 1 byte/cycle from L2: bandwidth is not the limit, blocking
 * keeps large problems out of DRAM.
 */
export const MR = 3;
export const NR = 4;
export const KC = 256;
export const MC = 96;
export const NC = 1024;

/*
 * Scratch panels: module-private constants on purpose. TurboFan folds a typed array that is a
 * module `const` into the code (its length becomes an immediate in the bounds check, its data
 * pointer a register set once), which takes the kernel's k-step from 97 to 72 instructions and
 * from ~4.4 to ~6 GFLOP/s; the same arrays passed as arguments or held in an object are not folded.
 * They are pure scratch: every call overwrites what it later reads, so no state leaks between
 * calls, and calls cannot interleave (synchronous, no callbacks). Each worker thread has its own
 * module instance, hence its own panels. Fixed size: 2.2 MiB per thread, allocated on import.
 */
const PACKED_A = new Float64Array(MC * KC); // [MC,KC] as ⌈MC/MR⌉ panels [KC,MR]
const PACKED_B = new Float64Array(KC * NC); // [KC,NC] as ⌈NC/NR⌉ panels [KC,NR]
const TILE = new Float64Array(MR * NR); // [MR,NR] accumulators of the last kernel call

/**
 * Packing copies a block of op(A) or op(B) into contiguous float64 micro-panels in the exact
 * order the micro-kernel reads them, so its inner loop does unit-stride loads. A transposed
 * operand is just other strides here (never materialised), and float32 → float64 widening happens
 * once per element instead of once per use. Partial panels are zero-padded, so the kernel always
 * computes a full MR×NR tile and the padding never reaches C.
 */

/**
 * PACKED_A ← op(A)[mc,kc], mc ≤ MC, kc ≤ KC; panel r at r·MR·kc, laid out [kc,MR].
 * op(A)(i,p) = a[base + i·rs + p·cs]: (rs,cs) = (lda,1) for A stored [m,k], (1,lda) with transA.
 */
export function packA(a: Storage, base: number, rs: number, cs: number, mc: number, kc: number): void {
  const dst = PACKED_A;
  let o = 0;
  for (let ir = 0; ir < mc; ir += 3) {
    const rows = Math.min(3, mc - ir); // 3 = MR (literal: a module binding is reloaded per use)
    let src = base + ir * rs;
    if (rows === 3) {
      const rs2 = 2 * rs;
      for (let p = 0; p < kc; p++) {
        dst[o] = a[src]!;
        dst[o + 1] = a[src + rs]!;
        dst[o + 2] = a[src + rs2]!;
        o += 3;
        src += cs;
      }
    } else {
      for (let p = 0; p < kc; p++) {
        for (let i = 0; i < 3; i++) dst[o + i] = i < rows ? a[src + i * rs]! : 0;
        o += 3;
        src += cs;
      }
    }
  }
}

/**
 * PACKED_B ← op(B)[kc,nc], kc ≤ KC, nc ≤ NC; panel r at r·NR·kc, laid out [kc,NR].
 * op(B)(p,j) = b[base + p·rs + j·cs]: (rs,cs) = (ldb,1) for B stored [k,n], (1,ldb) with transB.
 */
export function packB(b: Storage, base: number, rs: number, cs: number, kc: number, nc: number): void {
  const dst = PACKED_B;
  let o = 0;
  for (let jr = 0; jr < nc; jr += 4) {
    const cols = Math.min(4, nc - jr); // 4 = NR
    let src = base + jr * cs;
    if (cols === 4) {
      const cs2 = 2 * cs;
      const cs3 = 3 * cs;
      for (let p = 0; p < kc; p++) {
        dst[o] = b[src]!;
        dst[o + 1] = b[src + cs]!;
        dst[o + 2] = b[src + cs2]!;
        dst[o + 3] = b[src + cs3]!;
        o += 4;
        src += rs;
      }
    } else {
      for (let p = 0; p < kc; p++) {
        for (let j = 0; j < 4; j++) dst[o + j] = j < cols ? b[src + j * cs]! : 0;
        o += 4;
        src += rs;
      }
    }
  }
}

/**
 * PACKED_B ← a block that packB wrote earlier and copyPackedB saved (gemm-prepared.ts): a memcpy,
 * ~4× cheaper than the strided, widening pack it replaces (measured for [256,1024]: 50 vs 185 µs).
 */
export function loadPackedB(block: Float64Array): void {
  PACKED_B.set(block);
}

/** dst[dstOff, dstOff + len) ← the first len elements of PACKED_B (what the last packB wrote). */
export function copyPackedB(dst: Float64Array, dstOff: number, len: number): void {
  dst.set(PACKED_B.subarray(0, len), dstOff);
}

/**
 * TILE[MR,NR] ← Σ_p PACKED_A[ai + p·MR + i] · PACKED_B[bi + p·NR + j] over kc steps: the A
 * micro-panel from index ai times the B micro-panel from index bi. The `| 0` on the indices lets
 * V8 drop int32 overflow checks (indices stay below the panel sizes, far under 2³¹).
 */
// prettier-ignore: one line per row of the register tile, so the code reads as the tile it computes
export function microKernel(kc: number, ai: number, bi: number): void {
  const ap = PACKED_A;
  const bp = PACKED_B;
  let c00 = 0,
    c01 = 0,
    c02 = 0,
    c03 = 0;
  let c10 = 0,
    c11 = 0,
    c12 = 0,
    c13 = 0;
  let c20 = 0,
    c21 = 0,
    c22 = 0,
    c23 = 0;
  for (let p = 0; p < kc; p++) {
    const a0 = ap[ai]!,
      a1 = ap[(ai + 1) | 0]!,
      a2 = ap[(ai + 2) | 0]!;
    const b0 = bp[bi]!,
      b1 = bp[(bi + 1) | 0]!,
      b2 = bp[(bi + 2) | 0]!,
      b3 = bp[(bi + 3) | 0]!;
    c00 += a0 * b0;
    c01 += a0 * b1;
    c02 += a0 * b2;
    c03 += a0 * b3;
    c10 += a1 * b0;
    c11 += a1 * b1;
    c12 += a1 * b2;
    c13 += a1 * b3;
    c20 += a2 * b0;
    c21 += a2 * b1;
    c22 += a2 * b2;
    c23 += a2 * b3;
    ai = (ai + 3) | 0; // MR
    bi = (bi + 4) | 0; // NR
  }
  const t = TILE;
  t[0] = c00;
  t[1] = c01;
  t[2] = c02;
  t[3] = c03;
  t[4] = c10;
  t[5] = c11;
  t[6] = c12;
  t[7] = c13;
  t[8] = c20;
  t[9] = c21;
  t[10] = c22;
  t[11] = c23;
}

/**
 * microKernel fused with the common epilogue: a full MR×NR tile, alpha = 1, no bias. The sums go
 * from registers straight into C (C ← sum, or C + sum when `keep`) instead of through TILE and
 * storeTile's general loops; the values are the ones storeTile would write (1·x = x exactly).
 * The k-loop is microKernel's, duplicated because a shared helper would not keep the
 * accumulators in registers.
 */
// prettier-ignore: one line per row of the register tile, so the code reads as the tile it computes
export function microKernelInto(kc: number, ai: number, bi: number, c: Storage, cIdx: number, ldc: number, keep: boolean): void {
  const ap = PACKED_A;
  const bp = PACKED_B;
  let c00 = 0,
    c01 = 0,
    c02 = 0,
    c03 = 0;
  let c10 = 0,
    c11 = 0,
    c12 = 0,
    c13 = 0;
  let c20 = 0,
    c21 = 0,
    c22 = 0,
    c23 = 0;
  for (let p = 0; p < kc; p++) {
    const a0 = ap[ai]!,
      a1 = ap[(ai + 1) | 0]!,
      a2 = ap[(ai + 2) | 0]!;
    const b0 = bp[bi]!,
      b1 = bp[(bi + 1) | 0]!,
      b2 = bp[(bi + 2) | 0]!,
      b3 = bp[(bi + 3) | 0]!;
    c00 += a0 * b0;
    c01 += a0 * b1;
    c02 += a0 * b2;
    c03 += a0 * b3;
    c10 += a1 * b0;
    c11 += a1 * b1;
    c12 += a1 * b2;
    c13 += a1 * b3;
    c20 += a2 * b0;
    c21 += a2 * b1;
    c22 += a2 * b2;
    c23 += a2 * b3;
    ai = (ai + 3) | 0; // MR
    bi = (bi + 4) | 0; // NR
  }
  const r1 = cIdx + ldc,
    r2 = r1 + ldc;
  if (keep) {
    c[cIdx] += c00;
    c[cIdx + 1] += c01;
    c[cIdx + 2] += c02;
    c[cIdx + 3] += c03;
    c[r1] += c10;
    c[r1 + 1] += c11;
    c[r1 + 2] += c12;
    c[r1 + 3] += c13;
    c[r2] += c20;
    c[r2 + 1] += c21;
    c[r2 + 2] += c22;
    c[r2 + 3] += c23;
  } else {
    c[cIdx] = c00;
    c[cIdx + 1] = c01;
    c[cIdx + 2] = c02;
    c[cIdx + 3] = c03;
    c[r1] = c10;
    c[r1 + 1] = c11;
    c[r1 + 2] = c12;
    c[r1 + 3] = c13;
    c[r2] = c20;
    c[r2 + 1] = c21;
    c[r2 + 2] = c22;
    c[r2 + 3] = c23;
  }
}

/**
 * The bottom tile of an m that is not a multiple of MR (m = 32 rows of a training batch leaves 2;
 * m = 1 when sampling one stream): like microKernelInto but for the first `rows` (1 or 2) rows of
 * the A panel only, so the zero padding rows cost nothing (the 3-row kernel would spend 1/3 or 2/3
 * of its multiplies on them). Same sums in the same order, hence the same values.
 */
// prettier-ignore: one line per row of the register tile, so the code reads as the tile it computes
export function microKernelTailInto(
  rows: number,
  kc: number,
  ai: number,
  bi: number,
  c: Storage,
  cIdx: number,
  ldc: number,
  keep: boolean,
): void {
  const ap = PACKED_A;
  const bp = PACKED_B;
  let c00 = 0,
    c01 = 0,
    c02 = 0,
    c03 = 0;
  let c10 = 0,
    c11 = 0,
    c12 = 0,
    c13 = 0;
  if (rows === 2) {
    for (let p = 0; p < kc; p++) {
      const a0 = ap[ai]!,
        a1 = ap[(ai + 1) | 0]!;
      const b0 = bp[bi]!,
        b1 = bp[(bi + 1) | 0]!,
        b2 = bp[(bi + 2) | 0]!,
        b3 = bp[(bi + 3) | 0]!;
      c00 += a0 * b0;
      c01 += a0 * b1;
      c02 += a0 * b2;
      c03 += a0 * b3;
      c10 += a1 * b0;
      c11 += a1 * b1;
      c12 += a1 * b2;
      c13 += a1 * b3;
      ai = (ai + 3) | 0; // MR
      bi = (bi + 4) | 0; // NR
    }
  } else {
    for (let p = 0; p < kc; p++) {
      const a0 = ap[ai]!;
      c00 += a0 * bp[bi]!;
      c01 += a0 * bp[(bi + 1) | 0]!;
      c02 += a0 * bp[(bi + 2) | 0]!;
      c03 += a0 * bp[(bi + 3) | 0]!;
      ai = (ai + 3) | 0;
      bi = (bi + 4) | 0;
    }
  }
  const r1 = cIdx + ldc;
  if (keep) {
    c[cIdx] += c00;
    c[cIdx + 1] += c01;
    c[cIdx + 2] += c02;
    c[cIdx + 3] += c03;
    if (rows === 2) {
      c[r1] += c10;
      c[r1 + 1] += c11;
      c[r1 + 2] += c12;
      c[r1 + 3] += c13;
    }
  } else {
    c[cIdx] = c00;
    c[cIdx + 1] = c01;
    c[cIdx + 2] = c02;
    c[cIdx + 3] = c03;
    if (rows === 2) {
      c[r1] = c10;
      c[r1 + 1] = c11;
      c[r1 + 2] = c12;
      c[r1 + 3] = c13;
    }
  }
}

/**
 * One row of A (m = 1) times one prepared block of op(B) — what a single stream's recurrent step and
 * its head are (sampling, scoring, evaluation with one stream):
 *
 *   C[0, jc + j] ← (keep ? C : 0) + (alpha·Σ_{p<kc} a[aIdx + p·csA]·block[panel(j)] + bias[j])   j < nc
 *
 * For one row every packed element of B is used once, so copying the block into PACKED_B first
 * (loadPackedB, what the tiled path does) would cost as much again as the product itself; this kernel
 * reads the block where it lies and A unpacked. The sums are microKernelTailInto's (rows = 1): each
 * from 0, p = 0..kc−1 in order, in float64, merged into C as storeTile does, so the values are the
 * ones the tiled path writes, bit for bit.
 *
 * @param block  ⌈nc/NR⌉ panels [kc,NR] (a BlockedPackedB block, zero-padded past nc)
 * @param c      C's row at cIdx (nc elements written)
 * @param bias   [nc] at biasIdx, or undefined (first k-block only)
 */
export function rowTimesPackedBlock(
  kc: number,
  nc: number,
  a: Storage,
  aIdx: number,
  csA: number,
  block: Float64Array,
  alpha: number,
  c: Storage,
  cIdx: number,
  keep: boolean,
  bias: Storage | undefined,
  biasIdx: number,
): void {
  // Two panels (8 columns) per pass while both are whole: each a[p] loaded once serves 8 products
  // (measured ~20% faster than one panel per pass); then one panel at a time, the last possibly partial.
  let jr = 0;
  for (; jr + 8 <= nc; jr += 8) {
    let c0 = 0,
      c1 = 0,
      c2 = 0,
      c3 = 0,
      c4 = 0,
      c5 = 0,
      c6 = 0,
      c7 = 0;
    let bi = jr * kc; // panel jr/4
    let bj = (jr + 4) * kc; // the next panel
    let ai = aIdx;
    for (let p = 0; p < kc; p++) {
      const a0 = a[ai]!;
      c0 += a0 * block[bi]!;
      c1 += a0 * block[(bi + 1) | 0]!;
      c2 += a0 * block[(bi + 2) | 0]!;
      c3 += a0 * block[(bi + 3) | 0]!;
      c4 += a0 * block[bj]!;
      c5 += a0 * block[(bj + 1) | 0]!;
      c6 += a0 * block[(bj + 2) | 0]!;
      c7 += a0 * block[(bj + 3) | 0]!;
      ai += csA;
      bi = (bi + 4) | 0;
      bj = (bj + 4) | 0;
    }
    const o = cIdx + jr;
    const b = biasIdx + jr;
    mergeOne(c, o, c0, alpha, keep, bias, b);
    mergeOne(c, o + 1, c1, alpha, keep, bias, b + 1);
    mergeOne(c, o + 2, c2, alpha, keep, bias, b + 2);
    mergeOne(c, o + 3, c3, alpha, keep, bias, b + 3);
    mergeOne(c, o + 4, c4, alpha, keep, bias, b + 4);
    mergeOne(c, o + 5, c5, alpha, keep, bias, b + 5);
    mergeOne(c, o + 6, c6, alpha, keep, bias, b + 6);
    mergeOne(c, o + 7, c7, alpha, keep, bias, b + 7);
  }
  for (; jr < nc; jr += 4) {
    // NR = 4 columns per panel
    let c0 = 0,
      c1 = 0,
      c2 = 0,
      c3 = 0;
    let bi = jr * kc;
    let ai = aIdx;
    for (let p = 0; p < kc; p++) {
      const a0 = a[ai]!;
      c0 += a0 * block[bi]!;
      c1 += a0 * block[(bi + 1) | 0]!;
      c2 += a0 * block[(bi + 2) | 0]!;
      c3 += a0 * block[(bi + 3) | 0]!;
      ai += csA;
      bi = (bi + 4) | 0;
    }
    const o = cIdx + jr;
    const b = biasIdx + jr;
    const cols = nc - jr;
    mergeOne(c, o, c0, alpha, keep, bias, b);
    if (cols > 1) mergeOne(c, o + 1, c1, alpha, keep, bias, b + 1);
    if (cols > 2) mergeOne(c, o + 2, c2, alpha, keep, bias, b + 2);
    if (cols > 3) mergeOne(c, o + 3, c3, alpha, keep, bias, b + 3);
  }
}

/** storeTile's merge for one element: c[i] ← (keep ? c[i] : 0) + (alpha·sum + bias[b]). */
function mergeOne(c: Storage, i: number, sum: number, alpha: number, keep: boolean, bias: Storage | undefined, b: number): void {
  let v = alpha * sum;
  if (bias !== undefined) v += bias[b]!;
  c[i] = keep ? c[i]! + v : v;
}

/**
 * Merges TILE into C[mr,nr] (row stride ldc, from cIdx): the epilogue of one k-block. On the
 * first k-block C is overwritten (or added to when `keep`, i.e. accumulate) and bias[nr] from
 * biasIdx is added; later k-blocks add their partial product to what the earlier ones left.
 * The order per element is the reference's: c + (alpha·sum + bias). C's dtype rounds the result.
 */
export function storeTile(
  mr: number,
  nr: number,
  alpha: number,
  c: Storage, // C[mr,nr] at cIdx, row stride ldc
  cIdx: number,
  ldc: number,
  keep: boolean,
  bias: Storage | undefined, // [nr] at biasIdx, first k-block only
  biasIdx: number,
): void {
  const t = TILE;
  for (let i = 0; i < mr; i++) {
    const row = cIdx + i * ldc;
    const ti = i * 4; // NR
    for (let j = 0; j < nr; j++) {
      let v = alpha * t[ti + j]!;
      if (bias !== undefined) v += bias[biasIdx + j]!;
      c[row + j] = keep ? c[row + j]! + v : v;
    }
  }
}
