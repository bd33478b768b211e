import { f32x4, i32, v128, type Local, type V128 } from './expr.js';
import type { FunctionBuilder, FunctionRef, ModuleBuilder } from './module-builder.js';

/**
 * The f32 GEMM of the WebAssembly backend: one micro-kernel template per register tile, generated
 * for every tile shape the driver needs, and the driver that walks a packed A and a packed B tile
 * by tile (XNNPACK's structure: packing routines in gemm-packing.ts, named after the layout they
 * produce; micro-kernels that only ever read those layouts).
 *
 * Register tile MR×NR = 4×8: 8 f32x4 accumulators, the 8-wide B row as two vectors and four
 * broadcast A values: 14 of the 15 xmm registers V8 allocates on x64 (it keeps xmm15 as scratch).
 * Per k step: 8 multiply-adds for 6 loads (4 `v128.load32_splat` of A, 2 of B) and 19 instructions
 * in all, V8's loop stack check included. Why not 6×8 (12 accumulators, 12 multiply-adds per 8
 * loads, the tile issue 12 proposed): V8 11.3's TurboFan places every load of the loop body first
 * (loads are on the effect chain; the pure multiply-adds sink to the end of the block), so all 6
 * splats and both B vectors are live next to the 12 accumulators, 20 values for 15 registers,
 * and 5 accumulators spill to the stack. Measured here (Node 20.20, bench/wasm-tiles.mjs: this template
 * run alone on L1-resident panels, k = 256, load ~5): 4×8 51.5 GFLOP/s with FMA and 40–41 with mul+add;
 * 6×8 18–27 and 26–28; 5×8 23 and 22–24; 3×8 43 and 35–37. Unrolling the k loop doubles the loads
 * issued up front and spills too, so it is not unrolled.
 *
 * Arithmetic, the same in every tile shape: for each element of C,
 *   s = Σ_{p=0}^{k−1} a_p·b_p  summed in float32 in the order p = 0, 1, …, k−1 (one accumulator
 *       lane per element, multiply-add fused or not as the module was built),
 *   C ← (accumulate ? C : 0) + (alpha·s + bias_j).
 * There is no k-blocking: a tile always runs over the whole k, so an element's value depends only
 * on k and the operands, never on m, n, which rows or columns a call computes, the tile shape
 * that covered it (edge kernels run the same lane arithmetic), or how a caller splits the
 * problem. This is what makes 1 and N threads bit-identical (phase 2) and row/column partitions of
 * one product exact. Error bound: gemmErrorBound in accuracy.ts.
 */

/** Rows of the register tile (A values broadcast per k step). */
export const MR = 4;
/** Columns of the register tile and width of a packed B panel. */
export const NR = 8;

/** Epilogue flags of a micro-kernel call. */
export const GEMM_FLAGS = { accumulate: 1, bias: 2 } as const;

/** How a module multiplies and adds: one fused instruction, or a multiply then an add (two roundings). */
export type MultiplyAdd = 'fma' | 'mul-add';

/** acc + a·b in the module's arithmetic. */
export function multiplyAdd(kind: MultiplyAdd, a: V128, b: V128, acc: V128): V128 {
  return kind === 'fma' ? f32x4.relaxedMadd(a, b, acc) : f32x4.add(acc, f32x4.mul(a, b));
}

const MICRO_KERNEL_PARAMS = {
  k: 'i32', // ≥ 1: the length of the dot products
  a: 'i32', // packed A panel [k][mr] (gemm-packing.ts: packA_rowPanels4)
  b: 'i32', // packed B panel [k][8] (packB_columnPanels8), zero-padded past the matrix's last column
  c: 'i32', // C(0,0) of the tile
  ldc: 'i32', // C's row stride in bytes
  cols: 'i32', // columns of the tile inside C: nr when full, fewer in the last panel
  alpha: 'f32',
  bias: 'i32', // bias[j0] of the tile's first column (read when flags has bias)
  flags: 'i32', // GEMM_FLAGS
} as const;

export type MicroKernelRef = FunctionRef<typeof MICRO_KERNEL_PARAMS>;

/** Name of the generated micro-kernel for an mr×nr tile. */
export const microKernelName = (mr: number, nr: number): string => `gemm_f32_${mr}x${nr}`;

/**
 * C[mr, cols] (+)= alpha·A[mr,k]·B[k,cols] (+ bias) for one tile, nr ∈ {4, 8}: the template every
 * tile shape is generated from (mr = 4, and 1–3 for the last rows of an m not a multiple of 4). For nr = 4 the kernel reads only the first half of each 8-wide B
 * row (the last panel of an n with n mod 8 ∈ 1..4).
 */
export function defineMicroKernel(mb: ModuleBuilder, mr: number, nr: 4 | 8, madd: MultiplyAdd): MicroKernelRef {
  const halves = nr / 4;
  return mb.function(
    microKernelName(mr, nr),
    MICRO_KERNEL_PARAMS,
    [],
    (f, { k, a, b, c, ldc, cols, alpha, bias, flags }) => {
      // acc[i][h]: row i, columns 4h..4h+3 of the tile (wasm locals start at zero).
      const acc = Array.from({ length: mr }, (_, i) => Array.from({ length: halves }, (_, h) => f.local('v128', `acc${i}${h}`)));
      const bRow = Array.from({ length: halves }, (_, h) => f.local('v128', `b${h}`));
      const aSplat = f.local('v128', 'a');
      const bEnd = f.let(i32.add(b, i32.shl(k, i32.const(5))), 'bEnd'); // k rows of 32 bytes
      f.loop((next) => {
        for (let h = 0; h < halves; h++) f.set(bRow[h]!, v128.load(b, { offset: 16 * h }));
        for (let i = 0; i < mr; i++) {
          f.set(aSplat, v128.load32Splat(a, { offset: 4 * i }));
          for (let h = 0; h < halves; h++) f.set(acc[i]![h]!, multiplyAdd(madd, aSplat, bRow[h]!, acc[i]![h]!));
        }
        f.set(a, i32.add(a, i32.const(4 * mr)));
        f.set(b, i32.add(b, i32.const(4 * NR)));
        f.brIf(next, i32.ltU(b, bEnd));
      });
      storeTile(f, acc, { c, ldc, cols, alpha, bias, flags }, nr);
    },
    { export: false },
  );
}

/**
 * The epilogue: C ← (accumulate ? C : 0) + (alpha·acc + bias) row by row, each row's vectors
 * stored whole when the tile is full and lane by lane in a ragged last panel (never writing past
 * column `cols`). Loads of C and bias may read up to 7 floats past the tile's last column (values
 * in lanes that are then not stored); the memory keeps a tail that no allocation covers
 * (heap.ts), so such a read never leaves the memory.
 */
function storeTile(
  f: FunctionBuilder,
  acc: Local<'v128'>[][],
  p: { c: Local<'i32'>; ldc: Local<'i32'>; cols: Local<'i32'>; alpha: Local<'f32'>; bias: Local<'i32'>; flags: Local<'i32'> },
  nr: number,
): void {
  const alphaV = f.let(f32x4.splat(p.alpha), 'alphaV');
  const hasBias = f.let(i32.and(p.flags, i32.const(GEMM_FLAGS.bias)), 'hasBias');
  const accumulate = f.let(i32.and(p.flags, i32.const(GEMM_FLAGS.accumulate)), 'accumulate');
  const row = f.let(p.c, 'row');
  const v = acc[0]!.map((_, h) => f.local('v128', `v${h}`));
  for (const accRow of acc) {
    accRow.forEach((x, h) => f.set(v[h]!, f32x4.mul(x, alphaV)));
    f.if(hasBias, () => v.forEach((x, h) => f.set(x, f32x4.add(x, v128.load(p.bias, { offset: 16 * h })))));
    f.if(accumulate, () => v.forEach((x, h) => f.set(x, f32x4.add(v128.load(row, { offset: 16 * h }), x))));
    f.if(
      i32.eq(p.cols, i32.const(nr)),
      () => v.forEach((x, h) => f.emit(v128.store(row, x, { offset: 16 * h }))),
      () => storeFirstColumns(f, row, v, p.cols),
    );
    f.set(row, i32.add(row, p.ldc));
  }
}

/** Stores the first `cols` (< 4·v.length) lanes of the vectors v at addr, one vector per 16 bytes. */
function storeFirstColumns(f: FunctionBuilder, addr: Local<'i32'>, v: Local<'v128'>[], cols: Local<'i32'>): void {
  const last = v.length - 1;
  for (let h = 0; h < last; h++) f.emit(v128.store(addr, v[h]!, { offset: 16 * h })); // cols > 4h + 3 for these (nr = 8: cols ≥ 5)
  const rest = f.let(i32.sub(cols, i32.const(4 * last)), 'rest'); // 1..3 lanes of the last vector
  storeLanes(f, addr, v[last]!, rest, 16 * last);
}

/** Stores lanes 0 … count−1 (count ∈ 1..3) of x at addr + offset. */
export function storeLanes(f: FunctionBuilder, addr: Local<'i32'>, x: Local<'v128'>, count: Local<'i32'>, offset = 0): void {
  f.if(
    i32.geU(count, i32.const(2)),
    () => f.emit(v128.store64Lane(addr, x, 0, { offset })),
    () => f.emit(v128.store32Lane(addr, x, 0, { offset })),
  );
  f.if(i32.eq(count, i32.const(3)), () => f.emit(v128.store32Lane(addr, x, 2, { offset: offset + 8 })));
}

const DRIVER_PARAMS = {
  m: 'i32',
  n: 'i32',
  k: 'i32', // ≥ 1
  a: 'i32', // packed A: ⌈m/4⌉ row panels (packA_rowPanels4)
  b: 'i32', // packed B: ⌈n/8⌉ column panels (packB_columnPanels8)
  c: 'i32', // C(0,0)
  ldc: 'i32', // bytes
  alpha: 'f32',
  bias: 'i32', // bias[0] (when flags has bias)
  flags: 'i32',
} as const;

/**
 * gemm_f32(m, n, k, a, b, c, ldc, alpha, bias, flags): C[m,n] (+)= alpha·A·B (+ bias) over packed
 * operands, column panel by column panel (a B panel [k][8] stays in L1 while every row panel of A
 * streams past it), each row panel with the 4×nr kernel and the last m mod 4 rows with the
 * (m mod 4)×nr edge kernel; nr = 8, or 4 for a last panel of ≤ 4 columns.
 */
export function defineGemmDriver(mb: ModuleBuilder, kernels: (mr: number, nr: 4 | 8) => MicroKernelRef): void {
  mb.function('gemm_f32', DRIVER_PARAMS, [], (f, { m, n, k, a, b, c, ldc, alpha, bias, flags }) => {
    const j = f.local('i32', 'j');
    const cols = f.local('i32', 'cols');
    const aPanel = f.local('i32', 'aPanel');
    const bPanel = f.local('i32', 'bPanel');
    const cTile = f.local('i32', 'cTile');
    const rowsLeft = f.local('i32', 'rowsLeft');
    const aPanelBytes = f.let(i32.mul(k, i32.const(4 * MR)), 'aPanelBytes'); // a full row panel [k][MR]
    const cPanelStep = f.let(i32.mul(ldc, i32.const(MR)), 'cPanelStep');
    const call = (kernel: MicroKernelRef): void =>
      f.call(kernel, k, aPanel, bPanel, cTile, ldc, cols, alpha, i32.add(bias, i32.shl(j, i32.const(2))), flags);
    f.block((done) => {
      f.loop((nextPanel) => {
        f.brIf(done, i32.geU(j, n));
        f.set(cols, i32.sub(n, j));
        f.if(i32.gtU(cols, i32.const(NR)), () => f.set(cols, i32.const(NR)));
        f.set(aPanel, a);
        f.set(bPanel, i32.add(b, i32.mul(j, i32.shl(k, i32.const(2))))); // panel j/8 starts at j·k floats
        f.set(cTile, i32.add(c, i32.shl(j, i32.const(2))));
        f.set(rowsLeft, m);
        const rowPanels = (nr: 4 | 8): void => {
          f.block((lastRows) => {
            f.loop((nextRows) => {
              f.brIf(lastRows, i32.ltU(rowsLeft, i32.const(MR)));
              call(kernels(MR, nr));
              f.set(aPanel, i32.add(aPanel, aPanelBytes));
              f.set(cTile, i32.add(cTile, cPanelStep));
              f.set(rowsLeft, i32.sub(rowsLeft, i32.const(MR)));
              f.br(nextRows);
            });
          });
          for (let mr = 1; mr < MR; mr++) f.if(i32.eq(rowsLeft, i32.const(mr)), () => call(kernels(mr, nr)));
        };
        f.if(
          i32.gtU(cols, i32.const(4)),
          () => rowPanels(8),
          () => rowPanels(4),
        );
        f.set(j, i32.add(j, i32.const(NR)));
        f.br(nextPanel);
      });
    });
  });
}
