import { f32, i32, v128, type I32, type Local, type V128 } from './expr.js';
import type { FunctionBuilder, ModuleBuilder } from './module-builder.js';
import { MR, NR } from './gemm-kernels.js';

/**
 * Packing routines of the wasm GEMM, each named after the layout it produces (the layouts the
 * micro-kernels of gemm-kernels.ts read). Operands are addressed by byte strides, so a transposed
 * operand is just other strides, never materialised: op(X)(r, c) = f32 at src + r·rs + c·cs.
 * Every stored matrix has unit stride along its rows, so rs = 4 (a transposed operand) or cs = 4
 * (a plain one) always holds; each routine has a vector path for both and a scalar path only for
 * a ragged last panel.
 *
 *   packA_rowPanels4:    op(A) [m,k] → ⌈m/4⌉ row panels; panel r = rows 4r…4r+3 as [k][4]
 *                        (k consecutive groups of the 4 rows' values), the last one [k][m mod 4].
 *   packB_columnPanels8: op(B) [k,n] → ⌈n/8⌉ column panels; panel q = columns 8q…8q+7 as [k][8],
 *                        the last one zero-padded to 8 columns.
 *
 * Bytes: packed A is m·k·4, packed B ⌈n/8⌉·8·k·4 (packedBBytes).
 */

/** Bytes of op(B) [k,n] packed by packB_columnPanels8. */
export const packedBBytes = (k: number, n: number): number => Math.ceil(n / NR) * NR * k * 4;
/** Bytes of op(A) [m,k] packed by packA_rowPanels4. */
export const packedABytes = (m: number, k: number): number => m * k * 4;

const PACK_PARAMS = { src: 'i32', rs: 'i32', cs: 'i32', rows: 'i32', cols: 'i32', dst: 'i32' } as const;

/** Shuffle of 32-bit lanes: lanes 0–3 of a, 4–7 of b. */
function shuffle32(a: V128, b: V128, lanes: readonly [number, number, number, number]): V128 {
  return v128.shuffle(
    a,
    b,
    lanes.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]),
  );
}

/** The 4×4 transpose of rows r0..r3 (each 4 f32 lanes) into columns, with two stages of shuffles. */
function transpose4(f: FunctionBuilder, r: readonly Local<'v128'>[]): Local<'v128'>[] {
  const t0 = f.let(shuffle32(r[0]!, r[1]!, [0, 4, 1, 5]));
  const t1 = f.let(shuffle32(r[0]!, r[1]!, [2, 6, 3, 7]));
  const t2 = f.let(shuffle32(r[2]!, r[3]!, [0, 4, 1, 5]));
  const t3 = f.let(shuffle32(r[2]!, r[3]!, [2, 6, 3, 7]));
  return [
    f.let(shuffle32(t0, t2, [0, 1, 4, 5])),
    f.let(shuffle32(t0, t2, [2, 3, 6, 7])),
    f.let(shuffle32(t1, t3, [0, 1, 4, 5])),
    f.let(shuffle32(t1, t3, [2, 3, 6, 7])),
  ];
}

/** `for (v = from; v < to; v += step) body()` with unsigned compares (the loop runs zero times when from ≥ to). */
export function forRange(f: FunctionBuilder, v: Local<'i32'>, from: I32, to: I32, step: number, body: () => void): void {
  f.set(v, from);
  f.block((done) => {
    f.loop((next) => {
      f.brIf(done, i32.geU(v, to));
      body();
      f.set(v, i32.add(v, i32.const(step)));
      f.br(next);
    });
  });
}

/** packA_rowPanels4(src, rs, cs, m, k, dst): see the layout above. rows = m, cols = k. */
export function definePackA(mb: ModuleBuilder): void {
  mb.function('packA_rowPanels4', PACK_PARAMS, [], (f, { src, rs, cs, rows: m, cols: k, dst }) => {
    const i = f.local('i32', 'i');
    const p = f.local('i32', 'p');
    const s = f.local('i32', 's');
    const panelRows = f.local('i32', 'panelRows');
    const r = f.local('i32', 'r');
    const rowOffset = Array.from({ length: MR }, (_, q) => f.let(i32.mul(rs, i32.const(q)), `rs${q}`));
    const stepsIn4 = f.let(i32.and(k, i32.const(~3)), 'stepsIn4');
    const rows = Array.from({ length: MR }, (_, q) => f.local('v128', `row${q}`));
    const panelBytes = f.let(i32.mul(k, i32.const(4 * MR)), 'panelBytes');
    const panelOffset = Array.from({ length: 4 }, (_, q) => f.let(i32.mul(panelBytes, i32.const(q)), `panel${q}`));
    const d = f.local('i32', 'd');
    f.set(i, i32.const(0));
    f.if(i32.eq(rs, i32.const(4)), () => {
      // Transposed A, four panels (16 rows) per pass: each k step reads one whole 64-byte line
      // (one panel per pass would use a quarter of each line, and revisit it three times).
      f.block((done) => {
        f.loop((next) => {
          f.brIf(done, i32.ltU(i32.sub(m, i), i32.const(4 * MR)));
          f.set(s, i32.add(src, i32.shl(i, i32.const(2))));
          f.set(d, dst);
          forRange(f, p, i32.const(0), k, 1, () => {
            for (let q = 0; q < 4; q++) f.emit(v128.store(i32.add(d, panelOffset[q]!), v128.load(s, { offset: 16 * q })));
            f.set(s, i32.add(s, cs));
            f.set(d, i32.add(d, i32.const(4 * MR)));
          });
          f.set(dst, i32.add(dst, panelOffset[3]!));
          f.set(dst, i32.add(dst, panelBytes));
          f.set(i, i32.add(i, i32.const(4 * MR)));
          f.br(next);
        });
      });
    });
    forRange(f, i, i, m, MR, () => {
      f.set(s, i32.add(src, i32.mul(i, rs)));
      f.set(panelRows, i32.sub(m, i));
      f.if(
        i32.geU(panelRows, i32.const(MR)),
        () => {
          f.if(
            i32.eq(rs, i32.const(4)),
            // Transposed A: the 4 values of one k step are consecutive.
            () =>
              forRange(f, p, i32.const(0), k, 1, () => {
                f.emit(v128.store(dst, v128.load(s)));
                f.set(s, i32.add(s, cs));
                f.set(dst, i32.add(dst, i32.const(4 * MR)));
              }),
            // A stored [m,k]: 4 k steps of the 4 rows at a time, one 4×4 transpose.
            () => {
              forRange(f, p, i32.const(0), stepsIn4, 4, () => {
                for (let q = 0; q < MR; q++) f.set(rows[q]!, v128.load(i32.add(s, rowOffset[q]!)));
                transpose4(f, rows).forEach((column, t) => f.emit(v128.store(dst, column, { offset: 16 * t })));
                f.set(s, i32.add(s, i32.const(16)));
                f.set(dst, i32.add(dst, i32.const(16 * MR)));
              });
              forRange(f, p, stepsIn4, k, 1, () => {
                for (let q = 0; q < MR; q++) f.emit(f32.store(dst, f32.load(i32.add(s, rowOffset[q]!)), { offset: 4 * q }));
                f.set(s, i32.add(s, i32.const(4)));
                f.set(dst, i32.add(dst, i32.const(4 * MR)));
              });
            },
          );
        },
        () => {
          // The last m mod 4 rows, [k][m mod 4].
          forRange(f, p, i32.const(0), k, 1, () => {
            forRange(f, r, i32.const(0), panelRows, 1, () => {
              f.emit(f32.store(dst, f32.load(i32.add(s, i32.mul(r, rs)))));
              f.set(dst, i32.add(dst, i32.const(4)));
            });
            f.set(s, i32.add(s, cs));
          });
        },
      );
    });
  });
}

/** packB_columnPanels8(src, rs, cs, k, n, dst): see the layout above. rows = k, cols = n. */
export function definePackB(mb: ModuleBuilder): void {
  mb.function('packB_columnPanels8', PACK_PARAMS, [], (f, { src, rs, cs, rows: k, cols: n, dst }) => {
    const j = f.local('i32', 'j');
    const p = f.local('i32', 'p');
    const q = f.local('i32', 'q');
    const s = f.local('i32', 's');
    const panelCols = f.local('i32', 'panelCols');
    const colOffset = Array.from({ length: NR }, (_, c) => f.let(i32.mul(cs, i32.const(c)), `cs${c}`));
    const rowsIn4 = f.let(i32.and(k, i32.const(~3)), 'rowsIn4');
    const r = Array.from({ length: NR }, (_, c) => f.local('v128', `r${c}`));
    const panelBytes = f.let(i32.mul(k, i32.const(4 * NR)), 'panelBytes');
    const d = f.local('i32', 'd');
    f.set(j, i32.const(0));
    f.if(i32.eq(cs, i32.const(4)), () => {
      // B stored [k,n], two panels (16 columns) per pass: each row step reads one whole 64-byte line
      // (with one panel per pass a long row stride, e.g. 4 KiB, makes every row of the panel collide
      // in one L1 set).
      f.block((done) => {
        f.loop((next) => {
          f.brIf(done, i32.ltU(i32.sub(n, j), i32.const(2 * NR)));
          f.set(s, i32.add(src, i32.shl(j, i32.const(2))));
          f.set(d, dst);
          forRange(f, p, i32.const(0), k, 1, () => {
            f.emit(v128.store(d, v128.load(s)));
            f.emit(v128.store(d, v128.load(s, { offset: 16 }), { offset: 16 }));
            const second = f.let(i32.add(d, panelBytes));
            f.emit(v128.store(second, v128.load(s, { offset: 32 })));
            f.emit(v128.store(second, v128.load(s, { offset: 48 }), { offset: 16 }));
            f.set(s, i32.add(s, rs));
            f.set(d, i32.add(d, i32.const(4 * NR)));
          });
          f.set(dst, i32.add(dst, i32.shl(panelBytes, i32.const(1))));
          f.set(j, i32.add(j, i32.const(2 * NR)));
          f.br(next);
        });
      });
    });
    forRange(f, j, j, n, NR, () => {
      f.set(s, i32.add(src, i32.mul(j, cs)));
      f.set(panelCols, i32.sub(n, j));
      f.if(
        i32.geU(panelCols, i32.const(NR)),
        () => {
          f.if(
            i32.eq(cs, i32.const(4)),
            // B stored [k,n]: each row of the panel is 8 consecutive floats.
            () =>
              forRange(f, p, i32.const(0), k, 1, () => {
                f.emit(v128.store(dst, v128.load(s)));
                f.emit(v128.store(dst, v128.load(s, { offset: 16 }), { offset: 16 }));
                f.set(s, i32.add(s, rs));
                f.set(dst, i32.add(dst, i32.const(4 * NR)));
              }),
            // B stored [n,k] (transB): 8 stored rows; 4 k steps at a time, two 4×4 transposes.
            () => {
              forRange(f, p, i32.const(0), rowsIn4, 4, () => {
                for (let c = 0; c < NR; c++) f.set(r[c]!, v128.load(i32.add(s, colOffset[c]!)));
                const low = transpose4(f, r.slice(0, 4));
                const high = transpose4(f, r.slice(4, 8));
                for (let t = 0; t < 4; t++) {
                  f.emit(v128.store(dst, low[t]!, { offset: 32 * t }));
                  f.emit(v128.store(dst, high[t]!, { offset: 32 * t + 16 }));
                }
                f.set(s, i32.add(s, i32.const(16)));
                f.set(dst, i32.add(dst, i32.const(4 * 4 * NR)));
              });
              forRange(f, p, rowsIn4, k, 1, () => {
                for (let c = 0; c < NR; c++) f.emit(f32.store(dst, f32.load(i32.add(s, colOffset[c]!)), { offset: 4 * c }));
                f.set(s, i32.add(s, i32.const(4)));
                f.set(dst, i32.add(dst, i32.const(4 * NR)));
              });
            },
          );
        },
        () => {
          // The last n mod 8 columns, zero-padded to 8.
          forRange(f, p, i32.const(0), k, 1, () => {
            forRange(f, q, i32.const(0), i32.const(NR), 1, () => {
              f.if(
                i32.ltU(q, panelCols),
                () => f.emit(f32.store(dst, f32.load(i32.add(s, i32.mul(q, cs))))),
                () => f.emit(f32.store(dst, f32.const(0))),
              );
              f.set(dst, i32.add(dst, i32.const(4)));
            });
            f.set(s, i32.add(s, rs));
          });
        },
      );
    });
  });
}
