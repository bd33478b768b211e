import { f32x4, i32, v128, type Local } from './expr.js';
import { GEMM_FLAGS, multiplyAdd, NR, storeLanes, type MultiplyAdd } from './gemm-kernels.js';
import type { FunctionBuilder, FunctionRef, ModuleBuilder } from './module-builder.js';

/**
 * The one-row GEMM of the wasm backend, C[1,n] (+)= alpha·a[1,k]·B[k,n] (+ bias): a model reading
 * one stream, one token at a time (src/model/stepper.ts), multiplies one row by each prepared
 * weight, 349 k multiply-adds per character at H = 256.
 *
 * Why not the tiled driver (gemm-kernels.ts) with its 1×8 edge kernel: a 1×8 tile has only 2
 * accumulators, so every k step waits for the previous step's multiply-add (latency ~4 cycles,
 * two issued per cycle: a quarter of the machine), and nothing reuses a loaded B vector anyway.
 * A row tile of P packed panels (1×8P) keeps 2P independent accumulators in flight, streaming P
 * panels side by side. P is bounded by V8's register allocation as for the tiled kernel (every
 * load of the loop body is placed first, so the P·2 B vectors, the broadcast a value and the 2P
 * accumulators are all live at once, 4P + 1 of 15 registers): P ≤ 3 does not spill, P = 4 does.
 * Measured (bench/wasm-row.mjs, Node 20.20, k = 256, two runs at load 15–18, GFLOP/s, fma module):
 * the per-character product [1,256]·[256,1056] (1 MiB of panels), tiled 1×8 edge kernel 7.7 / 5.8,
 * row 1×8 7.1 / 5.8, 1×16 7.1 / 9.4, 1×24 12.4 / 13.1, 1×32 6.4 / 5.4 (spilled); on 96 KiB of panels
 * 1×16 and 1×24 14–16, the edge kernel 6–8. mul+add module: 1×16 and 1×24 10–12, the edge kernel 7.
 *
 * Arithmetic: exactly the tiled kernels' (gemm-kernels.ts) for every element: one accumulator
 * lane per element, summed in float32 in the order p = 0, 1, …, k−1 with the module's
 * multiply-add, then C ← (accumulate ? C : 0) + (alpha·s + bias_j) in the same operations. So a
 * one-row product is bit-identical to the same row of any tiled product (test/wasm-gemm-row.test.ts),
 * which is what lets a model stepping one token at a time give CharLM.forward's bits.
 *
 * Operands: a is the row itself, k contiguous floats (the packed A of a single row,
 * packA_rowPanels4 with m = 1, is the row unchanged, so it is never packed); B is packed by
 * packB_columnPanels8 (panel q, columns 8q…8q+7, as [k][8] at b + q·k·32 bytes).
 */

/** Panels per row tile of the driver's main loop: 1×(8·ROW_PANELS) columns per pass over a. */
export const ROW_PANELS = 3;

const ROW_KERNEL_PARAMS = {
  k: 'i32', // ≥ 1
  a: 'i32', // the row a[0..k)
  b: 'i32', // packed B panel of the tile's first column
  panelBytes: 'i32', // k·32: from one packed panel to the next
  c: 'i32', // C(0, j0) of the tile
  cols: 'i32', // 8(P−1) < cols ≤ 8P: columns of the tile inside C
  alpha: 'f32',
  bias: 'i32', // bias[j0] (read when flags has bias)
  flags: 'i32', // GEMM_FLAGS
} as const;

export type RowKernelRef = FunctionRef<typeof ROW_KERNEL_PARAMS>;

/** Name of the generated row kernel of `panels` panels (1×8·panels). */
export const rowKernelName = (panels: number): string => `gemm_f32_row1x${NR * panels}`;

/**
 * The 1×8P row tile: the template every row kernel is generated from (P = ROW_PANELS for the
 * main loop, fewer for the last columns of the row). Every panel but the last is full; the last
 * holds 1–8 of the row's columns (the packed panel is zero-padded, so the loop never branches).
 */
export function defineRowKernel(mb: ModuleBuilder, panels: number, madd: MultiplyAdd): RowKernelRef {
  return mb.function(
    rowKernelName(panels),
    ROW_KERNEL_PARAMS,
    [],
    (f, { k, a, b, panelBytes, c, cols, alpha, bias, flags }) => {
      // acc[q][h]: columns 8q + 4h … 8q + 4h + 3 of the tile (wasm locals start at zero).
      const acc = Array.from({ length: panels }, (_, q) => [0, 1].map((h) => f.local('v128', `acc${q}${h}`)));
      // One pointer per panel: the panels are k·32 bytes apart, not a constant a load offset could hold.
      const bp = Array.from({ length: panels }, (_, q) => f.local('i32', `b${q}`));
      for (let q = 0; q < panels; q++) f.set(bp[q]!, q === 0 ? b : i32.add(bp[q - 1]!, panelBytes));
      const aSplat = f.local('v128', 'a');
      const aEnd = f.let(i32.add(a, i32.shl(k, i32.const(2))), 'aEnd');
      f.loop((next) => {
        f.set(aSplat, v128.load32Splat(a));
        for (let q = 0; q < panels; q++) {
          for (let h = 0; h < 2; h++) f.set(acc[q]![h]!, multiplyAdd(madd, aSplat, v128.load(bp[q]!, { offset: 16 * h }), acc[q]![h]!));
        }
        f.set(a, i32.add(a, i32.const(4)));
        for (let q = 0; q < panels; q++) f.set(bp[q]!, i32.add(bp[q]!, i32.const(4 * NR)));
        f.brIf(next, i32.ltU(a, aEnd));
      });
      storeRow(f, acc, { c, cols, alpha, bias, flags });
    },
    { export: false },
  );
}

/**
 * The epilogue of a row tile, the operations of gemm-kernels.ts's storeTile: v = alpha·acc,
 * v += bias, v = C + v (accumulate), stored whole for full panels and lane by lane for the
 * ragged last one (never past column `cols`; loads of C and bias may read up to 7 floats past it,
 * inside the memory's unallocated tail, heap.ts).
 */
function storeRow(
  f: FunctionBuilder,
  acc: Local<'v128'>[][],
  p: { c: Local<'i32'>; cols: Local<'i32'>; alpha: Local<'f32'>; bias: Local<'i32'>; flags: Local<'i32'> },
): void {
  const alphaV = f.let(f32x4.splat(p.alpha), 'alphaV');
  const hasBias = f.let(i32.and(p.flags, i32.const(GEMM_FLAGS.bias)), 'hasBias');
  const accumulate = f.let(i32.and(p.flags, i32.const(GEMM_FLAGS.accumulate)), 'accumulate');
  const v = [0, 1].map((h) => f.local('v128', `v${h}`));
  const last = acc.length - 1;
  acc.forEach((panel, q) => {
    const offset = (h: number): number => 4 * NR * q + 16 * h;
    panel.forEach((x, h) => f.set(v[h]!, f32x4.mul(x, alphaV)));
    f.if(hasBias, () => v.forEach((x, h) => f.set(x, f32x4.add(x, v128.load(p.bias, { offset: offset(h) })))));
    f.if(accumulate, () => v.forEach((x, h) => f.set(x, f32x4.add(v128.load(p.c, { offset: offset(h) }), x))));
    if (q < last) v.forEach((x, h) => f.emit(v128.store(p.c, x, { offset: offset(h) })));
    else {
      const rest = f.let(i32.sub(p.cols, i32.const(NR * last)), 'rest'); // 1..8 columns in the last panel
      f.if(
        i32.eq(rest, i32.const(NR)),
        () => v.forEach((x, h) => f.emit(v128.store(p.c, x, { offset: offset(h) }))),
        () =>
          f.if(
            i32.geU(rest, i32.const(4)),
            () => {
              f.emit(v128.store(p.c, v[0]!, { offset: offset(0) }));
              f.set(rest, i32.sub(rest, i32.const(4)));
              f.if(rest, () => storeLanes(f, p.c, v[1]!, rest, offset(1)));
            },
            () => storeLanes(f, p.c, v[0]!, rest, offset(0)),
          ),
      );
    }
  });
}

const ROW_DRIVER_PARAMS = {
  n: 'i32',
  k: 'i32', // ≥ 1
  a: 'i32', // the row a[0..k)
  b: 'i32', // packed B: ⌈n/8⌉ column panels (packB_columnPanels8)
  c: 'i32', // C(0,0)
  alpha: 'f32',
  bias: 'i32', // bias[0] (when flags has bias)
  flags: 'i32',
} as const;

/**
 * gemm_f32_row(n, k, a, b, c, alpha, bias, flags): C[1,n] (+)= alpha·a·B (+ bias), 8·ROW_PANELS
 * columns per row tile, then one tile of ⌈r/8⌉ panels for the last r columns.
 */
export function defineRowDriver(mb: ModuleBuilder, kernels: (panels: number) => RowKernelRef): void {
  mb.function('gemm_f32_row', ROW_DRIVER_PARAMS, [], (f, { n, k, a, b, c, alpha, bias, flags }) => {
    const width = NR * ROW_PANELS;
    const panelBytes = f.let(i32.shl(k, i32.const(5)), 'panelBytes'); // k rows of 8 floats
    const j = f.local('i32', 'j');
    const rest = f.local('i32', 'rest');
    const call = (panels: number, cols: Local<'i32'> | number): void =>
      f.call(
        kernels(panels),
        k,
        a,
        i32.add(b, i32.mul(j, i32.shl(k, i32.const(2)))), // panel j/8 starts at j·k floats
        panelBytes,
        i32.add(c, i32.shl(j, i32.const(2))),
        typeof cols === 'number' ? i32.const(cols) : cols,
        alpha,
        i32.add(bias, i32.shl(j, i32.const(2))),
        flags,
      );
    f.block((done) => {
      f.loop((next) => {
        f.brIf(done, i32.ltU(i32.sub(n, j), i32.const(width)));
        call(ROW_PANELS, width);
        f.set(j, i32.add(j, i32.const(width)));
        f.br(next);
      });
    });
    f.set(rest, i32.sub(n, j)); // 0 ≤ rest < width
    for (let panels = 1; panels < ROW_PANELS; panels++) {
      f.if(i32.and(i32.gtU(rest, i32.const(NR * (panels - 1))), i32.leU(rest, i32.const(NR * panels))), () => call(panels, rest));
    }
    if (ROW_PANELS > 1) f.if(i32.gtU(rest, i32.const(NR * (ROW_PANELS - 1))), () => call(ROW_PANELS, rest));
  });
}
