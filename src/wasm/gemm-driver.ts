import { MR } from './gemm-kernels.js';
import type { KernelExports } from './kernel-module.js';

/*
 * The driver loops of the wasm GEMM: calls of the kernel module's gemm_f32 and packing exports, over
 * byte addresses in its memory, shared by the single-thread backend (backend.ts), the parts of a
 * threaded product (parallel/gemm-parallel-wasm.ts and its workers) and the whole-window recurrent
 * loops (recurrent-window.ts).
 */

/** Which operand of a staged product is packed by the parts that compute it (StagedGemm.deferred). */
export const DeferPack = { None: 0, A: 1, B: 2 } as const;

/** Bytes of one part's block of packed op(A) rows when A is deferred: rowBlock(k) rows of [k][4] panels. */
export const slotBytesFor = (k: number): number => alignUp(rowBlock(k) * k * 4);

/**
 * Rows [s, e) of C for a staged product whose op(A) is deferred (s a multiple of 4; c = C(s, 0)):
 * rowBlock(k) rows at a time are packed into `slot`, a block of slotBytesFor(k) of this part's own,
 * and computed at once, while they are in cache. A packed block holds the same panels as the same
 * rows of the whole packed op(A), so the result is bit-identical to packing all of A first; the scratch
 * is a block per part instead of m·k floats (8 MB for the weight gradient DZᵀ·M of an H=256 window).
 */
export function gemmRowsPackingA(
  kx: KernelExports,
  n: number,
  k: number,
  src: number,
  rs: number,
  cs: number,
  s: number,
  e: number,
  slot: number,
  pb: number,
  c: number,
  ldcBytes: number,
  alpha: number,
  biasAddr: number,
  flags: number,
): void {
  const rows = rowBlock(k);
  for (let i0 = s; i0 < e; i0 += rows) {
    const r = Math.min(rows, e - i0);
    kx.packA_rowPanels4(src + i0 * rs, rs, cs, r, k, slot);
    kx.gemm_f32(r, n, k, slot, pb, c + (i0 - s) * ldcBytes, ldcBytes, alpha, biasAddr, flags);
  }
}

/**
 * Packs columns [s, e) of a staged product's deferred op(B) (s a multiple of 8) into `dst`, their
 * place in the packed operand (pb + s·k·4): the bytes packing the whole writes there, so a part of a
 * column split computes exactly what it would have. Nothing to do unless B is deferred.
 */
export function packColumnsPart(
  kx: KernelExports,
  which: number,
  k: number,
  src: number,
  rs: number,
  cs: number,
  s: number,
  e: number,
  dst: number,
): void {
  if (which === DeferPack.B) kx.packB_columnPanels8(src + s * cs, rs, cs, k, e - s, dst);
}

/** Blocks of the memory and of scratch start at multiples of this many bytes. */
const ALIGN = 64;
export const alignUp = (bytes: number): number => Math.ceil(bytes / ALIGN) * ALIGN;

/**
 * Rows of A per driver call: the packed A block of rows·k floats stays within 256 KiB (L2-resident
 * while every B panel streams past it), a multiple of the 4-row tile.
 */
export function rowBlock(k: number): number {
  return Math.max(MR, Math.floor(65536 / k / MR) * MR);
}

/**
 * C[m,n] (+)= alpha·A·B (+ bias) from packed operands, every pointer a byte address in the
 * kernels' memory: `pa` packed A rows (packA_rowPanels4), `pb` packed B columns
 * (packB_columnPanels8), C with row stride ldcBytes. The driver loop of every wasm GEMM whose
 * op(A) is packed whole (gemmRowsPackingA is the one that packs A as it goes), single-thread or a
 * thread's part of a split product: a part is this call at offsets into the
 * same panels (rows from a multiple of 4: pa + i0·k·4; columns from a multiple of 8: pb + j0·k·4),
 * and an element's arithmetic depends only on k, so any such split is bit-identical to the whole.
 */
export function gemmPacked(
  kx: KernelExports,
  m: number,
  n: number,
  k: number,
  pa: number,
  pb: number,
  cAddr: number,
  ldcBytes: number,
  alpha: number,
  biasAddr: number,
  flags: number,
): void {
  const rows = rowBlock(k);
  for (let i0 = 0; i0 < m; i0 += rows) {
    kx.gemm_f32(Math.min(rows, m - i0), n, k, pa + i0 * k * 4, pb, cAddr + i0 * ldcBytes, ldcBytes, alpha, biasAddr, flags);
  }
}
