import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { GemmArgs, PreparedB } from '../src/tensor/backend.js';
import type { Storage } from '../src/tensor/dtype.js';
import { Rng } from '../src/tensor/rng.js';
import { gemmBlocked } from '../src/tensor/kernels/gemm-blocked.js';
import { gemmNaive } from '../src/tensor/kernels/gemm-naive.js';
import { prepareBlockedB } from '../src/tensor/kernels/gemm-prepared.js';
import {
  buildKernelModule,
  gemmErrorBound,
  WASM_GEMM_MR as MR,
  WASM_GEMM_NR as NR,
  WasmBackend,
  WasmHeap,
  type KernelExports,
  type MultiplyAdd,
} from '../src/wasm/index.js';
import { wasmApi } from '../src/wasm/runtime.js';
import { createWasmBackendSync } from '../src/node/wasm.js';
import { FEATURES, wasmBackends } from './support/wasm.js';
import {
  BASE_GEMM_PROBLEM,
  buildGemmProblem,
  gemmMagnitudes,
  gemmProblemArb,
  insideC,
  type BuiltGemm,
  type GemmProblem,
} from './support/gemm-problems.js';

/*
 * The wasm GEMM against the naive reference (gemmNaive, float64) on random problems: every
 * transpose, offsets, padded leading dimensions, accumulate, alpha, bias, sizes 1 and sizes around
 * the 4×8 tile. Each element must be within the stated bound gemmErrorBound(k, M) (accuracy.ts),
 * M = |alpha|·Σ|a||b| + |bias| + |C_old|; C outside the m×n window must come back untouched. Both
 * modules run: fused multiply-add (where the machine has it) and mul+add. Then what makes the
 * results reproducible: a prepared B and an operand living in wasm memory change nothing, a row or
 * column slice of a product equals the same slice of the whole, bit for bit, and so do repeated
 * calls (the engine recompiles hot code midway).
 */

const { all: BACKENDS, fma: FMA, mulAdd: MUL_ADD } = wasmBackends();
const label = (b: WasmBackend): string => b.describe();

type Problem = GemmProblem;
const EDGES = [1, 2, 3, MR, MR + 1, NR - 1, NR, NR + 1, 2 * NR + 3, 31, 33];
const dim = (max: number) => fc.oneof(fc.integer({ min: 1, max }), fc.constantFrom(...EDGES.filter((d) => d <= max)));
/** Float32 problems (float64 operands take the JS kernel: tested separately below). */
const problemArb = (mMax: number, nMax: number, kMax: number): fc.Arbitrary<Problem> =>
  gemmProblemArb(dim(mMax), dim(nMax), dim(kMax), ['float32']);

function fill(rng: Rng, x: Storage): Storage {
  for (let i = 0; i < x.length; i++) x[i] = rng.uniform(-1, 1);
  return x;
}

const build = (p: Problem, alloc?: (n: number) => Float32Array): BuiltGemm =>
  buildGemmProblem(p, alloc === undefined ? undefined : (_dtype, length) => alloc(length));

/** Runs `backend` on the problem and checks every element against the reference and the bound. */
function checkAgainstReference(backend: WasmBackend, built: BuiltGemm): void {
  const { args, c0 } = built;
  const ref = Float64Array.from(c0);
  gemmNaive({ ...args, c: ref });
  backend.gemm(args);
  const M = gemmMagnitudes(built);
  for (let idx = 0; idx < args.c.length; idx++) {
    if (!insideC(args, idx)) {
      expect(Object.is(args.c[idx], c0[idx]), `${label(backend)}: C[${idx}] outside the window was written`).toBe(true);
      continue;
    }
    const err = Math.abs(args.c[idx]! - ref[idx]!);
    const bound = gemmErrorBound(args.k, M[idx]!);
    if (!(err <= bound)) {
      expect.fail(
        `${label(backend)} m=${args.m} n=${args.n} k=${args.k}: C[${idx}] = ${args.c[idx]}, reference ${ref[idx]}, error ${err} > bound ${bound}`,
      );
    }
  }
}

describe('wasm GEMM against the naive reference, within gemmErrorBound', () => {
  for (const backend of BACKENDS) {
    it(`${label(backend)}: random problems around the tile sizes`, () => {
      fc.assert(
        fc.property(problemArb(40, 40, 40), (p) => {
          checkAgainstReference(backend, build(p));
        }),
        { numRuns: 150 },
      );
    });

    it(`${label(backend)}: long dot products (k up to 700) and wide rows`, () => {
      fc.assert(
        fc.property(problemArb(9, 70, 700), (p) => {
          checkAgainstReference(backend, build(p));
        }),
        { numRuns: 30 },
      );
    });

    it(`${label(backend)}: the per-step shape [32,256]·[256,1024] and its transposes`, () => {
      for (const transB of [false, true]) {
        const p: Problem = { ...baseProblem, m: 32, k: 256, n: 1024, transB, accumulate: true, withBias: true, seed: 7 };
        checkAgainstReference(backend, build(p));
      }
    });
  }

  it('the bound is meaningful: errors are measured against it, and a dropped product term lies far outside it', () => {
    const built = build({ ...baseProblem, m: 16, n: 16, k: 512, seed: 3 });
    const ref = new Float64Array(built.args.c.length);
    gemmNaive({ ...built.args, c: ref });
    MUL_ADD.gemm(built.args);
    const M = gemmMagnitudes(built);
    let worstRatio = 0;
    for (let i = 0; i < 256; i++) worstRatio = Math.max(worstRatio, Math.abs(built.args.c[i]! - ref[i]!) / gemmErrorBound(512, M[i]!));
    console.log(`mul+add, k = 512: the largest error is ${(100 * worstRatio).toFixed(1)}% of gemmErrorBound`);
    expect(worstRatio).toBeGreaterThan(1e-4); // errors are real, and measured against the bound
    expect(worstRatio).toBeLessThan(1);
    // Dropping the largest product term of an element (an indexing bug) lands far outside the bound.
    const { a, b } = built.args;
    let largest = 0;
    for (let q = 0; q < 512; q++) largest = Math.max(largest, Math.abs(a[q]! * b[q * 16]!));
    expect(largest).toBeGreaterThan(10 * gemmErrorBound(512, M[0]!));
  });
});

const baseProblem: Problem = BASE_GEMM_PROBLEM;

/** The exports of a newly compiled kernel module on a memory of its own (the factories reuse one compiled module per variant, already tiered up). */
function freshlyCompiledParts(multiplyAdd: MultiplyAdd): { kernels: KernelExports; heap: WasmHeap } {
  const api = wasmApi()!;
  const heap = new WasmHeap();
  const module = new api.Module(buildKernelModule({ multiplyAdd, sharedMemory: heap.shared }));
  const instance = new api.Instance(module, { env: { memory: heap.memory } });
  return { kernels: instance.exports as unknown as KernelExports, heap };
}

/** A backend on a newly compiled module. */
function freshlyCompiled(multiplyAdd: MultiplyAdd): WasmBackend {
  const { kernels, heap } = freshlyCompiledParts(multiplyAdd);
  return new WasmBackend(kernels, heap, multiplyAdd);
}

const sameBits = (x: Storage, y: Storage): boolean => x.length === y.length && x.every((v, i) => Object.is(v, y[i]));

describe('what makes wasm GEMM results reproducible', () => {
  for (const backend of BACKENDS) {
    it(`${label(backend)}: an element depends only on k and its row and column: slices of a product are bit-identical`, () => {
      fc.assert(
        fc.property(problemArb(20, 40, 60), fc.nat(), fc.nat(), (p, r0, c0) => {
          const whole = build({ ...p, accumulate: false });
          backend.gemm(whole.args);
          const { m, n } = p;
          const i0 = r0 % m,
            j0 = c0 % n;
          // Rows i0.. and columns j0.. as their own product (offsets into the same operands).
          const { args } = build({ ...p, accumulate: false });
          const lda = args.lda!,
            ldb = args.ldb!,
            ldc = args.ldc!;
          const part: GemmArgs = {
            ...args,
            m: m - i0,
            n: n - j0,
            aOffset: args.aOffset! + (p.transA ? i0 : i0 * lda),
            bOffset: args.bOffset! + (p.transB ? j0 * ldb : j0),
            cOffset: args.cOffset! + i0 * ldc + j0,
            ...(args.bias ? { biasOffset: args.biasOffset! + j0 } : {}),
          };
          backend.gemm(part);
          for (let i = i0; i < m; i++)
            for (let j = j0; j < n; j++) {
              const idx = args.cOffset! + i * ldc + j;
              expect(Object.is(part.c[idx], whole.args.c[idx]), `C(${i},${j}) of the slice from (${i0},${j0})`).toBe(true);
            }
        }),
        { numRuns: 60 },
      );
    });

    it(`${label(backend)}: taller than one row block (op(A) packed a block at a time): bit-identical to products of at most 16 rows, and within the bound`, () => {
      // rowBlock(k) = ⌊65536/k/4⌋·4 rows: 44–108 for k in 600..1400, so m up to 3 blocks and a ragged panel.
      const tall = gemmProblemArb(fc.integer({ min: 109, max: 330 }), dim(40), fc.integer({ min: 600, max: 1400 }), ['float32']);
      fc.assert(
        fc.property(tall, (p) => {
          const whole = build({ ...p });
          checkAgainstReference(backend, whole);
          const { args } = build({ ...p });
          const lda = args.lda!,
            ldc = args.ldc!;
          for (let i0 = 0; i0 < p.m; i0 += 16) {
            backend.gemm({
              ...args,
              m: Math.min(16, p.m - i0),
              aOffset: args.aOffset! + (p.transA ? i0 : i0 * lda),
              cOffset: args.cOffset! + i0 * ldc,
            });
          }
          return sameBits(args.c, whole.args.c);
        }),
        { numRuns: 12 },
      );
    });

    it(`${label(backend)}: a prepared B gives the same bits as packing B per call, call after call`, () => {
      fc.assert(
        fc.property(problemArb(12, 50, 50), fc.integer({ min: 1, max: 3 }), (p, calls) => {
          const plain = build(p);
          const prepared = build(p);
          const packedB = backend.prepareB(prepared.args);
          prepared.args.packedB = packedB;
          for (let t = 0; t < calls; t++) {
            backend.gemm(plain.args);
            backend.gemm(prepared.args);
            expect(sameBits(plain.args.c, prepared.args.c)).toBe(true);
          }
          backend.releaseB(packedB);
        }),
        { numRuns: 60 },
      );
    });

    it(`${label(backend)}: operands allocated in wasm memory give the same bits as ordinary arrays`, () => {
      fc.assert(
        fc.property(problemArb(20, 40, 40), fc.boolean(), (p, prepare) => {
          const ordinary = build(p);
          const inMemory = build(p, (len) => backend.allocate(len));
          expect(backend.owns(inMemory.args.a)).toBe(true);
          if (prepare) inMemory.args.packedB = backend.prepareB(inMemory.args);
          backend.gemm(ordinary.args);
          backend.gemm(inMemory.args);
          expect(sameBits(ordinary.args.c, inMemory.args.c)).toBe(true);
          if (inMemory.args.packedB) backend.releaseB(inMemory.args.packedB);
          for (const x of [inMemory.args.a, inMemory.args.b, inMemory.args.c, inMemory.args.bias]) if (x) backend.free(x as Float32Array);
        }),
        { numRuns: 40 },
      );
    });

    it(`${label(backend)}: repeated calls stay bit-identical while the engine tiers the kernels up`, () => {
      const fresh = freshlyCompiled(backend.multiplyAdd); // its first calls run V8's baseline code (Liftoff), later ones TurboFan's
      const built = build({ ...baseProblem, m: 13, n: 21, k: 77, transB: true, withBias: true, alpha: 0.75, seed: 11 });
      const first = Float32Array.from(built.args.c);
      fresh.gemm({ ...built.args, c: first });
      const later = Float32Array.from(built.args.c);
      for (let t = 0; t < 400; t++) {
        later.set(built.c0);
        fresh.gemm({ ...built.args, c: later });
      }
      expect(sameBits(first, later)).toBe(true);
      const other = Float32Array.from(built.c0);
      backend.gemm({ ...built.args, c: other });
      expect(sameBits(first, other)).toBe(true); // and the same as another instance of the module
      fresh.close();
    });
  }

  it('column and row blocks of one packed product, by pointer offsets into the same panels (how threads will split it), are bit-identical to the whole', () => {
    for (const multiplyAdd of ['fma', 'mul-add'] as const) {
      if (multiplyAdd === 'fma' && FMA === null) continue;
      const { kernels, heap } = freshlyCompiledParts(multiplyAdd);
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 23 }),
          fc.integer({ min: 1, max: 70 }),
          fc.integer({ min: 1, max: 90 }),
          fc.nat(),
          fc.nat(),
          (m, n, k, cut, seed) => {
            const rng = new Rng(seed);
            const f32 = () => heap.f32;
            const alloc = (floats: number) => heap.alloc(floats * 4 + 64);
            const a = alloc(m * k),
              b = alloc(k * n),
              pa = alloc(m * k),
              pb = alloc(Math.ceil(n / NR) * NR * k),
              bias = alloc(n),
              whole = alloc(m * n),
              parts = alloc(m * n);
            for (let i = 0; i < m * k; i++) f32()[(a >>> 2) + i] = rng.uniform(-1, 1);
            for (let i = 0; i < k * n; i++) f32()[(b >>> 2) + i] = rng.uniform(-1, 1);
            for (let i = 0; i < n; i++) f32()[(bias >>> 2) + i] = rng.uniform(-1, 1);
            kernels.packA_rowPanels4(a, k * 4, 4, m, k, pa);
            kernels.packB_columnPanels8(b, n * 4, 4, k, n, pb);
            const flags = 2; // with bias
            kernels.gemm_f32(m, n, k, pa, pb, whole, n * 4, 0.5, bias, flags);
            // Columns [0, j0) and [j0, n) with j0 a multiple of 16; rows [0, i0) and [i0, m) with i0 a multiple of 4.
            const j0 = Math.min(n, 16 * (cut % 5));
            const i0 = Math.min(m, MR * (cut % 7));
            const block = (r0: number, r1: number, c0: number, c1: number) => {
              if (r1 > r0 && c1 > c0)
                kernels.gemm_f32(
                  r1 - r0,
                  c1 - c0,
                  k,
                  pa + r0 * k * 4,
                  pb + c0 * k * 4,
                  parts + (r0 * n + c0) * 4,
                  n * 4,
                  0.5,
                  bias + c0 * 4,
                  flags,
                );
            };
            block(0, i0, 0, j0);
            block(0, i0, j0, n);
            block(i0, m, 0, j0);
            block(i0, m, j0, n);
            const w = f32().subarray(whole >>> 2, (whole >>> 2) + m * n);
            const q = f32().subarray(parts >>> 2, (parts >>> 2) + m * n);
            expect(sameBits(w, q)).toBe(true);
            for (const x of [a, b, pa, pb, bias, whole, parts]) heap.release(x);
          },
        ),
        { numRuns: 60 },
      );
    }
  });

  it('views allocated before the memory grew stay valid (shared memory), and operands in it are used in place', () => {
    const backend = createWasmBackendSync({ fma: false, memory: { initialBytes: 1 << 16 } });
    expect(backend.heap.shared).toBe(true);
    const a = backend.allocate(6 * 5).fill(0.5);
    const b = backend.allocate(5 * 7).fill(2);
    const before = backend.heap.byteLength;
    const big = backend.allocate(1 << 20); // forces a grow
    expect(backend.heap.byteLength).toBeGreaterThan(before);
    const c = backend.allocate(6 * 7);
    backend.gemm({ m: 6, n: 7, k: 5, a, b, c });
    expect(Array.from(c)).toEqual(new Array<number>(42).fill(5));
    // C overlapping A is refused even when the two views come from different buffer objects (before and after the grow).
    const overlapping = new Float32Array(c.buffer, a.byteOffset, 6 * 7);
    expect(overlapping.buffer).not.toBe(a.buffer);
    expect(() => backend.gemm({ m: 6, n: 7, k: 5, a, b, c: overlapping })).toThrow(/overlaps a/);
    for (const x of [a, b, big, c]) backend.free(x);
    expect(backend.heap.allocatedBytes).toBeLessThan(1 << 16); // only the scratch block is left
    backend.close();
  });

  it.runIf(FMA !== null)('the fma module rounds once, the mul+add module twice (a case where they differ)', () => {
    // k = 2: acc = −(1 + 2⁻¹¹), then acc + (1 + 2⁻¹²)²: exactly 2⁻²⁴, but 0 once the square is rounded.
    const a = Float32Array.of(1, 1 + 2 ** -12);
    const b = Float32Array.of(-(1 + 2 ** -11), 1 + 2 ** -12);
    const run = (be: WasmBackend) => {
      const c = new Float32Array(1);
      be.gemm({ m: 1, n: 1, k: 2, a, b, c });
      return c[0];
    };
    expect(run(FMA!)).toBe(2 ** -24);
    expect(run(MUL_ADD)).toBe(0);
  });
});

describe('wasm GEMM: prepared operands, fallbacks and errors', () => {
  const backend = MUL_ADD;
  const args = (): GemmArgs => {
    const rng = new Rng(5);
    return { m: 3, n: 10, k: 6, a: fill(rng, new Float32Array(18)), b: fill(rng, new Float32Array(60)), c: new Float32Array(30) };
  };

  it('a prepared operand that does not describe the call, or was released, is refused; foreign ones are ignored', () => {
    const p = args();
    const packed = backend.prepareB(p);
    expect(() => backend.gemm({ ...p, packedB: packed, n: 9, ldb: 10, ldc: 10 })).toThrow(/packedB was prepared for op\(B\) \[6,10\]/);
    expect(() => backend.gemm({ ...p, packedB: packed, b: Float32Array.from(p.b) })).toThrow(/from another b/);
    backend.releaseB(packed);
    expect(() => backend.gemm({ ...p, packedB: packed })).toThrow(/packedB was released/);
    expect(() => backend.releaseB(packed)).toThrow(/already released/);
    // Made by another backend (the JS kernel, another wasm instance): read b instead.
    const expected = args();
    backend.gemm(expected);
    const other = createWasmBackendSync({ fma: false });
    for (const foreign of [prepareBlockedB(p), other.prepareB(p)] as PreparedB[]) {
      const q = args();
      backend.gemm({ ...q, packedB: foreign });
      expect(sameBits(q.c, expected.c)).toBe(true);
    }
    other.close();
  });

  it('float64 operands run the JS kernel, bit-identical to it, prepared or not', () => {
    const rng = new Rng(9);
    const a = fill(rng, new Float64Array(5 * 7));
    const b = fill(rng, new Float64Array(7 * 11));
    const expected = new Float64Array(55);
    gemmBlocked({ m: 5, n: 11, k: 7, a, b, c: expected, alpha: 0.5 });
    const c = new Float64Array(55);
    backend.gemm({ m: 5, n: 11, k: 7, a, b, c, alpha: 0.5, packedB: backend.prepareB({ k: 7, n: 11, b }) });
    expect(sameBits(c, expected)).toBe(true);
    const mixed = new Float64Array(55);
    backend.gemm({ m: 5, n: 11, k: 7, a: Float32Array.from(a), b, c: mixed, alpha: 0.5 });
    const ref = new Float64Array(55);
    gemmBlocked({ m: 5, n: 11, k: 7, a: Float32Array.from(a), b, c: ref, alpha: 0.5 });
    expect(sameBits(mixed, ref)).toBe(true);
  });

  it('k = 0 leaves C = (accumulate ? C : 0) + bias; m = 0 or n = 0 does nothing', () => {
    const c = Float32Array.of(1, 2, 3, 4);
    backend.gemm({ m: 2, n: 2, k: 0, a: new Float32Array(0), b: new Float32Array(0), c, accumulate: true, bias: Float32Array.of(10, 20) });
    expect(Array.from(c)).toEqual([11, 22, 13, 24]);
    backend.gemm({ m: 0, n: 2, k: 3, a: new Float32Array(0), b: new Float32Array(6), c });
    expect(Array.from(c)).toEqual([11, 22, 13, 24]);
    const packed = backend.prepareB({ k: 0, n: 2, b: new Float32Array(0) });
    backend.releaseB(packed);
  });

  it('bad arguments get the same one-line errors as the JS kernel; a closed backend says so', () => {
    expect(() => backend.gemm({ m: 2, n: 2, k: 2, a: new Float32Array(3), b: new Float32Array(4), c: new Float32Array(4) })).toThrow(
      /gemm: a stored as \[2,2\].*needs 4 elements, has 3/,
    );
    const closed = createWasmBackendSync({ fma: false });
    closed.close();
    expect(() => closed.gemm(args())).toThrow(/the wasm backend is closed/);
    expect(() => closed.prepareB(args())).toThrow(/closed/);
  });

  it('describe() says which kernels run', () => {
    expect(MUL_ADD.describe()).toBe('wasm-simd');
    if (FMA) expect(FMA.describe()).toBe('wasm-simd fma');
    expect(FEATURES.simd).toBe(true);
  });
});
