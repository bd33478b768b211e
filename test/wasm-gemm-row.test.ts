import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { GemmArgs } from '../src/tensor/backend.js';
import type { Storage } from '../src/tensor/dtype.js';
import { Rng } from '../src/tensor/rng.js';
import { gemmNaive } from '../src/tensor/kernels/gemm-naive.js';
import {
  buildKernelModule,
  gemmErrorBound,
  WASM_GEMM_NR as NR,
  WasmHeap,
  type KernelExports,
  type MultiplyAdd,
} from '../src/wasm/index.js';
import { ROW_PANELS } from '../src/wasm/gemm-row.js';
import { wasmApi } from '../src/wasm/runtime.js';
import { FEATURES, wasmBackends } from './support/wasm.js';
import { BASE_GEMM_PROBLEM, buildGemmProblem, gemmMagnitudes, gemmProblemArb, insideC, type GemmProblem } from './support/gemm-problems.js';

/*
 * The one-row GEMM (src/wasm/gemm-row.ts), which WasmBackend.gemm runs for every m = 1 product:
 * against the naive reference (gemmNaive, float64) within the stated bound gemmErrorBound(k, M) on
 * random one-row problems (every flag, transposed B, offsets, widths around the 8-column panel and
 * the 8·ROW_PANELS-column row tile), C outside its window untouched; and what it promises beyond
 * the bound: its result is the bits of the same row of a tiled product (the 4×8 driver), so a
 * model stepping one token at a time matches one running a whole window.
 */

const { all: BACKENDS } = wasmBackends();
const W = NR * ROW_PANELS;
const WIDTHS = [1, 2, 3, 4, 5, 7, NR, NR + 1, 2 * NR - 1, 2 * NR, 2 * NR + 1, W - 1, W, W + 1, W + 4, 2 * W + NR, 3 * W + 5, 100];
const width = (max: number) => fc.oneof(fc.integer({ min: 1, max }), fc.constantFrom(...WIDTHS.filter((n) => n <= max)));
const depth = (max: number) => fc.oneof(fc.integer({ min: 1, max }), fc.constantFrom(1, 2, 3, 4, 5, 8, 9));
const rowArb = (nMax: number, kMax: number): fc.Arbitrary<GemmProblem> =>
  gemmProblemArb(fc.constant(1), width(nMax), depth(kMax), ['float32']).map((p) => ({ ...p, transA: false }));
const sameBits = (x: Storage, y: Storage): boolean => x.length === y.length && x.every((v, i) => Object.is(v, y[i]));

describe('wasm one-row GEMM against the naive reference, within gemmErrorBound', () => {
  for (const backend of BACKENDS) {
    it(`${backend.describe()}: random rows (n around the panel and the ${W}-column row tile, k up to 300), prepared or not`, () => {
      fc.assert(
        fc.property(rowArb(110, 300), fc.boolean(), (p, prepare) => {
          const built = buildGemmProblem(p);
          const { args, c0 } = built;
          const ref = Float64Array.from(c0);
          gemmNaive({ ...args, c: ref });
          if (prepare) args.packedB = backend.prepareB(args);
          backend.gemm(args);
          if (args.packedB) backend.releaseB(args.packedB);
          const M = gemmMagnitudes(built);
          for (let idx = 0; idx < args.c.length; idx++) {
            if (!insideC(args, idx)) {
              expect(Object.is(args.c[idx], c0[idx]), `C[${idx}] outside the row was written (n = ${p.n})`).toBe(true);
              continue;
            }
            const err = Math.abs(args.c[idx]! - ref[idx]!);
            if (!(err <= gemmErrorBound(p.k, M[idx]!)))
              expect.fail(
                `n=${p.n} k=${p.k}: C[${idx}] = ${args.c[idx]}, reference ${ref[idx]}, error ${err} > ${gemmErrorBound(p.k, M[idx]!)}`,
              );
          }
        }),
        { numRuns: 200 },
      );
    });
  }
});

describe('a one-row product is the same row of a tiled product, bit for bit', () => {
  for (const backend of BACKENDS) {
    it(`${backend.describe()}: row i of an [m,n] product (m = 2…9, the 4×8 tiles and their edges) equals the [1,n] product of row i alone`, () => {
      fc.assert(
        fc.property(
          gemmProblemArb(fc.integer({ min: 2, max: 9 }), width(80), depth(120), ['float32']),
          fc.nat(),
          fc.boolean(),
          (p, r, prepare) => {
            const { args, c0 } = buildGemmProblem(p);
            const packed = prepare ? backend.prepareB(args) : undefined;
            const whole = Float32Array.from(c0);
            backend.gemm({ ...args, c: whole, ...(packed ? { packedB: packed } : {}) });
            const i = r % p.m;
            const lda = args.lda!,
              ldc = args.ldc!;
            const one: GemmArgs = {
              ...args,
              m: 1,
              // Row i of op(A): a plain A's row is contiguous (the one-row kernel); a transposed A's row is a column, packed as before.
              aOffset: args.aOffset! + (p.transA ? i : i * lda),
              c: Float32Array.from(c0),
              cOffset: args.cOffset! + i * ldc,
              ...(packed ? { packedB: packed } : {}),
            };
            backend.gemm(one);
            if (packed) backend.releaseB(packed);
            for (let j = 0; j < p.n; j++) {
              const idx = args.cOffset! + i * ldc + j;
              expect(Object.is(one.c[idx], whole[idx]), `C(${i},${j}) of [${p.m},${p.n}]·k=${p.k}`).toBe(true);
            }
          },
        ),
        { numRuns: 150 },
      );
    });
  }

  it('the kernels themselves: gemm_f32_row equals gemm_f32 with m = 1 (the 1×8 and 1×4 edge kernels), every flag, both modules, nothing written past column n', () => {
    const modules: MultiplyAdd[] = FEATURES.fusedMultiplyAdd ? ['fma', 'mul-add'] : ['mul-add'];
    for (const multiplyAdd of modules) {
      const api = wasmApi()!;
      const heap = new WasmHeap();
      const kernels = new api.Instance(new api.Module(buildKernelModule({ multiplyAdd, sharedMemory: heap.shared })), {
        env: { memory: heap.memory },
      }).exports as unknown as KernelExports;
      fc.assert(
        fc.property(width(120), depth(200), fc.integer({ min: 0, max: 3 }), fc.nat(), (n, k, flags, seed) => {
          const rng = new Rng(seed);
          const alloc = (floats: number) => heap.alloc(floats * 4);
          const a = alloc(k),
            b = alloc(k * n),
            pb = alloc(Math.ceil(n / NR) * NR * k),
            bias = alloc(n),
            tiled = alloc(n),
            row = alloc(n + NR); // and a guard of NR floats after the row, which must stay as it was
          const f32 = heap.f32;
          for (let q = 0; q < k; q++) f32[(a >>> 2) + q] = rng.uniform(-1, 1);
          for (let q = 0; q < k * n; q++) f32[(b >>> 2) + q] = rng.uniform(-1, 1);
          for (let j = 0; j < n; j++) {
            f32[(bias >>> 2) + j] = rng.uniform(-1, 1);
            f32[(tiled >>> 2) + j] = f32[(row >>> 2) + j] = rng.uniform(-1, 1); // C before (accumulate)
          }
          const guard = (row >>> 2) + n;
          f32.fill(-7.25, guard, guard + NR);
          kernels.packB_columnPanels8(b, n * 4, 4, k, n, pb);
          kernels.gemm_f32(1, n, k, a, pb, tiled, n * 4, 0.75, bias, flags); // packed A of one row = the row
          kernels.gemm_f32_row(n, k, a, pb, row, 0.75, bias, flags);
          expect(sameBits(f32.subarray(tiled >>> 2, (tiled >>> 2) + n), f32.subarray(row >>> 2, (row >>> 2) + n))).toBe(true);
          expect(Array.from(f32.subarray(guard, guard + NR)), `columns past n = ${n} were written`).toEqual(
            new Array<number>(NR).fill(-7.25),
          );
          for (const x of [a, b, pb, bias, tiled, row]) heap.release(x);
        }),
        { numRuns: 120 },
      );
    }
  });

  it('a dropped or repeated term is caught: the bit-identity test compares real sums (a row of a product differs from its neighbour)', () => {
    const backend = BACKENDS[0]!;
    const p: GemmProblem = { ...BASE_GEMM_PROBLEM, m: 2, n: 30, k: 50, transB: true, seed: 4 };
    const { args } = buildGemmProblem(p);
    backend.gemm(args);
    const row1 = new Float32Array(30);
    backend.gemm({ ...args, m: 1, aOffset: 50, c: row1, cOffset: 0, ldc: 30 });
    expect(sameBits(row1, args.c.subarray(30, 60))).toBe(true);
    const k49 = new Float32Array(30); // one term fewer
    backend.gemm({ ...args, m: 1, k: 49, aOffset: 50, lda: 50, ldb: 50, c: k49, cOffset: 0, ldc: 30 });
    expect(sameBits(k49, row1)).toBe(false);
  });
});
