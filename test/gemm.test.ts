import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { GemmArgs } from '../src/tensor/backend.js';
import { Rng } from '../src/tensor/rng.js';
import { gemmBlocked, gemmBlockedStrided, SMALL_GEMM_WORK } from '../src/tensor/kernels/gemm-blocked.js';
import { gemmNaive } from '../src/tensor/kernels/gemm-naive.js';
import { KC, MC, MR, NC, NR } from '../src/tensor/kernels/gemm-panels.js';
import { blockedBackend, defaultBackend, naiveBackend } from '../src/tensor/kernels/index.js';
import { buildGemmProblem, gemmMagnitudes, gemmProblemArb, insideC, type GemmProblem } from './support/gemm-problems.js';

/*
 * The blocked GEMM against the naive reference (gemmNaive) on random problems: every transpose
 * combination, offsets, padded leading dimensions, accumulate, bias, alpha, float32/float64
 * storage per operand. Elements of C outside the m×n window must come back bit-for-bit untouched.
 * Tolerance per element is relative to its magnitude M = |alpha|·Σ|A||B| + |bias| + |C_old| (a
 * naive GEMM on absolute values): both kernels sum exact float64 products in float64 (error
 * ≤ k·2⁻⁵³·M each); a float32 C is also rounded once per k-block of KC (≤ 2⁻²⁴·M each).
 */

/** Block-edge sizes: exact multiples of the register and cache blocks, one either side, and 1. */
const edge = (limit: number) =>
  fc.constantFrom(...[1, 2, MR, MR + 1, NR, NR + 1, 2 * MR * NR, MC - 1, MC, MC + 1, 128, 129, 130].filter((d) => d <= limit));
const dim = (limit: number) => fc.oneof(fc.integer({ min: 1, max: limit }), edge(limit));

const problemArb = gemmProblemArb;
const build = buildGemmProblem;

/** Blocked vs naive on one problem; returns a description of the first bad element, or null. */
function compare(p: GemmProblem): string | null {
  const built = build(p);
  const { args, c0 } = built;
  const expected = c0.slice();
  gemmNaive({ ...args, c: expected });
  gemmBlocked(args);
  const got = args.c;
  // Magnitude bound per element: |alpha|·|A|·|B| + |bias| + |C_old| (a naive GEMM on |·|).
  const mag = gemmMagnitudes(built);
  const kBlocks = Math.ceil(p.k / KC);
  const rel = p.dtC === 'float64' ? 4e-16 * (p.k + 2) : 4e-16 * (p.k + 2) + 1.2e-7 * (kBlocks + 1);
  const ldc = args.ldc!;
  for (let idx = 0; idx < got.length; idx++) {
    const r = idx - p.cOffset;
    if (!insideC(args, idx)) {
      if (!Object.is(got[idx], c0[idx])) return `element ${idx} outside the C window changed: ${c0[idx]} → ${got[idx]}`;
      continue;
    }
    const tol = rel * mag[idx]! + 1e-300;
    if (!(Math.abs(got[idx]! - expected[idx]!) <= tol)) {
      return `C[${Math.floor(r / ldc)},${r % ldc}] = ${got[idx]} but naive gives ${expected[idx]} (|diff| ${Math.abs(got[idx]! - expected[idx]!)} > tol ${tol})`;
    }
  }
  return null;
}

describe('blocked GEMM equals the naive reference', () => {
  it('on random problems with m, n, k in 1..130 (all transposes, offsets, lds, accumulate, bias, alpha, dtypes)', () => {
    fc.assert(
      fc.property(problemArb(dim(130), dim(130), dim(130)), (p) => {
        expect(compare(p)).toBeNull();
      }),
      { numRuns: 150 },
    );
  });

  it('across k-blocks and n-blocks (k around multiples of KC, n around NC)', () => {
    const kArb = fc.constantFrom(KC - 1, KC, KC + 1, 2 * KC + 3);
    const nArb = fc.oneof(fc.integer({ min: 1, max: 40 }), fc.constantFrom(NC - 1, NC, NC + 1));
    fc.assert(
      fc.property(problemArb(fc.integer({ min: 1, max: 7 }), nArb, kArb), (p) => {
        expect(compare(p)).toBeNull();
      }),
      { numRuns: 25 },
    );
  });

  it('on tiny problems (the direct path) including m·n·k at the threshold', () => {
    const t = Math.round(Math.cbrt(SMALL_GEMM_WORK));
    fc.assert(
      fc.property(problemArb(dim(t + 1), dim(t + 1), dim(t + 1)), (p) => {
        expect(compare(p)).toBeNull();
      }),
      { numRuns: 100 },
    );
  });
});

describe('blocked GEMM edge cases', () => {
  it('k = 0 gives C = bias, or C + bias with accumulate, or leaves C when there is no bias', () => {
    for (const accumulate of [false, true]) {
      for (const withBias of [false, true]) {
        const c = new Float32Array([1, 2, 3, 4, 5, 6]);
        const bias = new Float32Array([10, 20, 30]);
        gemmBlocked({ m: 2, n: 3, k: 0, a: new Float32Array(0), b: new Float32Array(0), c, accumulate, ...(withBias ? { bias } : {}) });
        const expected = new Float32Array([1, 2, 3, 4, 5, 6]);
        gemmNaive({
          m: 2,
          n: 3,
          k: 0,
          a: new Float32Array(0),
          b: new Float32Array(0),
          c: expected,
          accumulate,
          ...(withBias ? { bias } : {}),
        });
        expect(Array.from(c)).toEqual(Array.from(expected));
      }
    }
  });

  it('m = 0 or n = 0 touches nothing', () => {
    const c = new Float64Array([7, 7]);
    gemmBlocked({ m: 0, n: 2, k: 3, a: new Float64Array(0), b: new Float64Array(6), c });
    gemmBlocked({ m: 1, n: 0, k: 3, a: new Float64Array(3), b: new Float64Array(0), c });
    expect(Array.from(c)).toEqual([7, 7]);
  });

  it('accumulate does not read C when off: NaN garbage in C is overwritten', () => {
    const m = 20,
      n = 20,
      k = 20;
    const a = new Float64Array(m * k).fill(0.5),
      b = new Float64Array(k * n).fill(2);
    const c = new Float64Array(m * n).fill(NaN);
    gemmBlocked({ m, n, k, a, b, c });
    expect(c.every((v) => v === k)).toBe(true);
  });

  it('is deterministic: two calls give bit-identical results', () => {
    fc.assert(
      fc.property(problemArb(dim(130), dim(130), fc.oneof(dim(130), fc.constant(KC + 7))), (p) => {
        const first = build(p);
        const second = build(p);
        gemmBlocked(first.args);
        gemmBlocked(second.args);
        const x = first.args.c,
          y = second.args.c;
        for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) return false;
        return true;
      }),
      { numRuns: 30 },
    );
  });

  it('computes each row independently of the others: any row split is bit-identical (what the parallel backend relies on)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 200 }),
        fc.integer({ min: 1, max: 70 }),
        fc.integer({ min: 1, max: 300 }),
        fc.boolean(),
        fc.boolean(),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 0, max: 1e9 }),
        (m, n, k, transA, transB, at, seed) => {
          const rng = new Rng(seed);
          const a = Float32Array.from({ length: m * k }, () => rng.uniform(-1, 1));
          const b = Float32Array.from({ length: k * n }, () => rng.uniform(-1, 1));
          const rsA = transA ? 1 : k,
            csA = transA ? m : 1;
          const rsB = transB ? 1 : n,
            csB = transB ? k : 1;
          const whole = new Float32Array(m * n);
          gemmBlockedStrided(m, n, k, a, 0, rsA, csA, b, 0, rsB, csB, whole, 0, n, 1, false, undefined, 0);
          const split = Math.max(1, Math.min(m - 1, Math.floor(at * m)));
          const parts = new Float32Array(m * n);
          gemmBlockedStrided(split, n, k, a, 0, rsA, csA, b, 0, rsB, csB, parts, 0, n, 1, false, undefined, 0);
          gemmBlockedStrided(m - split, n, k, a, split * rsA, rsA, csA, b, 0, rsB, csB, parts, split * n, n, 1, false, undefined, 0);
          return whole.every((v, i) => Object.is(v, parts[i]));
        },
      ),
      { numRuns: 30 },
    );
  });
});

describe('blocked GEMM rejects bad arguments with a message naming gemm and the parameter', () => {
  const ok = (): GemmArgs => ({ m: 2, n: 3, k: 4, a: new Float32Array(8), b: new Float32Array(12), c: new Float32Array(6) });
  const cases: [string, Partial<GemmArgs>, RegExp][] = [
    ['negative m', { m: -1 }, /gemm: m must be a non-negative integer/],
    ['fractional k', { k: 1.5 }, /gemm: k must be/],
    ['lda below the column count', { lda: 3 }, /gemm: lda = 3 is smaller than the 4 columns of a stored as \[2,4\]/],
    ['short a', { a: new Float32Array(7) }, /gemm: a stored as \[2,4\].*needs 8 elements, has 7/],
    ['short b with transB', { transB: true, b: new Float32Array(11) }, /gemm: transB b stored as \[3,4\].*needs 12 elements, has 11/],
    ['c past its end through cOffset', { cOffset: 1 }, /gemm: c stored as \[2,3\].*from offset 1 needs 7 elements, has 6/],
    ['short bias', { bias: new Float32Array(2) }, /gemm: bias needs 3 elements/],
    ['not a typed array', { a: [1, 2] as unknown as Float32Array }, /gemm: a must be a Float32Array or Float64Array/],
  ];
  for (const [name, patch, message] of cases) {
    it(name, () => expect(() => gemmBlocked({ ...ok(), ...patch })).toThrow(message));
  }

  it('C overlapping A in one buffer', () => {
    const buf = new Float32Array(20);
    expect(() => gemmBlocked({ m: 2, n: 3, k: 4, a: buf, b: new Float32Array(12), c: buf, cOffset: 4 })).toThrow(
      /gemm: c \[2,3\] overlaps a/,
    );
    // Disjoint regions of one buffer are fine.
    expect(() => gemmBlocked({ m: 2, n: 3, k: 4, a: buf, b: new Float32Array(12), c: buf, cOffset: 8 })).not.toThrow();
  });
});

describe('backends', () => {
  it('default is the blocked kernel; the naive reference stays available', () => {
    expect(defaultBackend).toBe(blockedBackend);
    expect(blockedBackend.name).toBe('blocked');
    expect(naiveBackend.name).toBe('naive');
  });
});
