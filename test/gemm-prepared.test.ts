import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { jsBackendBase } from './support/counting-backend.js';
import type { Backend, GemmArgs, PreparedB } from '../src/tensor/backend.js';
import type { Storage } from '../src/tensor/dtype.js';
import { Rng } from '../src/tensor/rng.js';
import { Tensor } from '../src/tensor/tensor.js';
import { Tape } from '../src/autograd/tape.js';
import { gemmBlocked, gemmBlockedStrided } from '../src/tensor/kernels/gemm-blocked.js';
import { packedColumns, prepareBlockedB } from '../src/tensor/kernels/gemm-prepared.js';
import { gemmNaive } from '../src/tensor/kernels/gemm-naive.js';
import { KC, MR, NC, NR } from '../src/tensor/kernels/gemm-panels.js';
import { blockedBackend, naiveBackend } from '../src/tensor/kernels/index.js';
import { lstmSequence } from '../src/nn/functional/lstm.js';
import { mlstmSequence } from '../src/nn/functional/mlstm.js';
import { mrnnSequence } from '../src/nn/functional/mrnn.js';

/*
 * Backend.prepareB / GemmArgs.packedB: op(B) packed once and reused by many gemms (the recurrent
 * time loops). A gemm with the prepared operand must be bit-identical to the same gemm without
 * it (same packed values, same arithmetic), and both must match the naive reference; a prepared
 * operand that does not describe the call's B must be refused, one from another backend ignored.
 */

type Dt = 'float32' | 'float64';
const make = (dt: Dt, n: number): Storage => (dt === 'float64' ? new Float64Array(n) : new Float32Array(n));
const fill = (rng: Rng, x: Storage): Storage => {
  for (let i = 0; i < x.length; i++) x[i] = rng.uniform(-1, 1);
  return x;
};
const sameBits = (x: Storage, y: Storage): boolean => x.length === y.length && x.every((v, i) => Object.is(v, y[i]));

interface Case {
  m: number;
  n: number;
  k: number;
  transB: boolean;
  padB: number;
  bOffset: number;
  dtB: Dt;
  dtC: Dt;
  accumulate: boolean;
  calls: number;
  seed: number;
}

const edges = (xs: number[]) => fc.constantFrom(...xs);
const caseArb: fc.Arbitrary<Case> = fc.record({
  m: fc.oneof(fc.integer({ min: 1, max: 40 }), edges([1, MR, MR + 1, 32])),
  n: fc.oneof(fc.integer({ min: 1, max: 70 }), edges([NR - 1, NR, NR + 1, NC - 1, NC + 1])),
  k: fc.oneof(fc.integer({ min: 1, max: 70 }), edges([KC - 1, KC, KC + 1, 2 * KC + 3])),
  transB: fc.boolean(),
  padB: fc.integer({ min: 0, max: 3 }),
  bOffset: fc.integer({ min: 0, max: 3 }),
  dtB: fc.constantFrom<Dt>('float32', 'float64'),
  dtC: fc.constantFrom<Dt>('float32', 'float64'),
  accumulate: fc.boolean(),
  calls: fc.integer({ min: 1, max: 3 }),
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
});

/**
 * Runs `calls` gemms with one B and a fresh A each (as a time loop does), with and without the
 * prepared B, and with the naive reference; null when all agree, else what went wrong.
 */
function check(p: Case): string | null {
  const rng = new Rng(p.seed);
  const [bRows, bCols] = p.transB ? [p.n, p.k] : [p.k, p.n];
  const ldb = bCols + p.padB;
  const b = fill(rng, make(p.dtB, p.bOffset + (bRows - 1) * ldb + bCols));
  const base = { n: p.n, k: p.k, b, bOffset: p.bOffset, ldb, transB: p.transB };
  const prepared = blockedBackend.prepareB!(base);
  if (prepared.k !== p.k || prepared.n !== p.n) return `prepared describes [${prepared.k},${prepared.n}]`;
  for (let call = 0; call < p.calls; call++) {
    const a = fill(rng, make('float32', p.m * p.k));
    const c0 = fill(rng, make(p.dtC, p.m * p.n));
    const args: GemmArgs = { ...base, m: p.m, a, c: c0.slice(), accumulate: p.accumulate };
    const withPack: GemmArgs = { ...args, c: c0.slice(), packedB: prepared };
    const naive: GemmArgs = { ...args, c: c0.slice() };
    gemmBlocked(args);
    gemmBlocked(withPack);
    gemmNaive(naive);
    if (!sameBits(args.c, withPack.c)) return `call ${call}: prepared B changed the result bits`;
    // Tolerance as in gemm.test.ts: float64 sums of exact products, one float32 rounding per k-block.
    const rel = 4e-16 * (p.k + 2) + (p.dtC === 'float32' ? 1.2e-7 * (Math.ceil(p.k / KC) + 1) : 0);
    for (let i = 0; i < naive.c.length; i++) {
      const tol = rel * (p.k + (p.accumulate ? 1 : 0)) + 1e-300; // |a|,|b|,|c0| ≤ 1
      if (!(Math.abs(withPack.c[i]! - naive.c[i]!) <= tol)) return `call ${call}: C[${i}] = ${withPack.c[i]} but naive gives ${naive.c[i]}`;
    }
  }
  return null;
}

describe('prepared B operand (Backend.prepareB, GemmArgs.packedB)', () => {
  it('gives bit-for-bit the unprepared result and matches the naive reference, over repeated calls', () => {
    fc.assert(
      fc.property(caseArb, (p) => {
        expect(check(p)).toBeNull();
      }),
      { numRuns: 60 },
    );
  });

  it('packedColumns: a gemm over columns [j0, j1) reading the view is bit-identical to the whole gemm’s columns', () => {
    // The parallel backend gives each thread such a view; the cut must fall on a panel (n ≤ NC) or a column block (n > NC).
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 9 }),
        fc.oneof(fc.integer({ min: 2, max: 80 }), edges([NC, NC + 1, 2 * NC + 5])),
        fc.oneof(fc.integer({ min: 1, max: 40 }), edges([KC, KC + 1])),
        fc.boolean(),
        fc.nat(),
        fc.nat(),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        (m, n, k, transB, cut0, cut1, seed) => {
          const unit = n <= NC ? NR : NC;
          const units = Math.ceil(n / unit);
          const u0 = cut0 % units,
            u1 = u0 + 1 + (cut1 % (units - u0));
          const j0 = u0 * unit,
            j1 = Math.min(n, u1 * unit);
          const rng = new Rng(seed);
          const b = fill(rng, new Float32Array(k * n));
          const a = fill(rng, new Float32Array(m * k));
          const whole = new Float32Array(m * n);
          gemmBlocked({ m, n, k, a, b, c: whole, transB });
          const prepared = prepareBlockedB({ k, n, b, transB });
          const view = packedColumns(prepared.blocks, k, n, j0, j1);
          expect(prepared.columns(j0, j1).blocks.map((x) => x.length)).toEqual(view.blocks.map((x) => x.length));
          const part = new Float32Array(m * n).fill(Number.NaN); // untouched outside [j0, j1)
          // b is deliberately wrong (zeros): the view must be all the kernel reads of op(B).
          gemmBlockedStrided(m, j1 - j0, k, a, 0, k, 1, new Float32Array(k * n), 0, 0, 0, part, j0, n, 1, false, undefined, 0, view);
          for (let i = 0; i < m; i++) {
            for (let j = 0; j < n; j++) {
              const got = part[i * n + j]!;
              if (j >= j0 && j < j1) expect(Object.is(got, whole[i * n + j])).toBe(true);
              else expect(got).toBeNaN();
            }
          }
        },
      ),
      { numRuns: 40 },
    );
    const prepared = prepareBlockedB({ k: 5, n: 10, b: new Float32Array(50) });
    expect(() => packedColumns(prepared.blocks, 5, 10, 2, 8)).toThrow(
      /packedColumns: columns \[2, 8\) of a packed op\(B\) \[5,10\] must be cut at multiples of 4/,
    );
    const wide = prepareBlockedB({ k: 2, n: NC + 8, b: new Float32Array(2 * (NC + 8)) });
    expect(() => packedColumns(wide.blocks, 2, NC + 8, 4, NC + 8)).toThrow(/multiples of 1024/);
  });

  it('snapshots B: valid for the values it was prepared from', () => {
    const rng = new Rng(7);
    const b = fill(rng, new Float32Array(20 * 30)) as Float32Array;
    const a = fill(rng, new Float32Array(9 * 20));
    const prepared = blockedBackend.prepareB!({ k: 20, n: 30, b });
    const before = new Float32Array(9 * 30);
    gemmBlocked({ m: 9, n: 30, k: 20, a, b, c: before });
    b.fill(0); // the prepared copy keeps the old values
    const stale = new Float32Array(9 * 30);
    gemmBlocked({ m: 9, n: 30, k: 20, a, b, c: stale, packedB: prepared });
    expect(sameBits(stale, before)).toBe(true);
  });

  it('refuses a prepared operand that does not describe the call’s op(B), naming gemm and both shapes', () => {
    const b = new Float32Array(12 * 10);
    const a = new Float32Array(8 * 12);
    const prepared = blockedBackend.prepareB!({ k: 12, n: 10, b });
    const call = (patch: Partial<GemmArgs>) => () =>
      gemmBlocked({ m: 8, n: 10, k: 12, a, b, c: new Float32Array(80), packedB: prepared, ...patch });
    expect(call({})).not.toThrow();
    expect(call({ transB: true, ldb: 12, n: 10, k: 12 })).toThrow(
      /gemm: packedB was prepared for op\(B\) \[12,10\].*transB false.*transB true/,
    );
    expect(call({ b: new Float32Array(120) })).toThrow(/gemm: packedB .* from another b/);
    expect(call({ k: 11, a: new Float32Array(88), b, ldb: 10 })).toThrow(/gemm: packedB was prepared for op\(B\) \[12,10\].*\[11,10\]/);
    expect(call({ bOffset: 1, b: new Float32Array(121) })).toThrow(/gemm: packedB/);
  });

  it('ignores a prepared operand it did not make (reads b), as every backend may', () => {
    const rng = new Rng(3);
    const b = fill(rng, new Float64Array(15 * 11));
    const a = fill(rng, new Float64Array(6 * 15));
    const foreign: PreparedB = { k: 15, n: 11 };
    const expected = new Float64Array(66);
    gemmNaive({ m: 6, n: 11, k: 15, a, b, c: expected });
    const got = new Float64Array(66);
    gemmBlocked({ m: 6, n: 11, k: 15, a, b, c: got, packedB: foreign });
    for (let i = 0; i < 66; i++) expect(got[i]).toBeCloseTo(expected[i]!, 12);
    // The naive backend has no prepareB and reads b even when handed the blocked backend's operand.
    expect(naiveBackend.prepareB).toBeUndefined();
    const viaNaive = new Float64Array(66);
    naiveBackend.gemm({ m: 6, n: 11, k: 15, a, b, c: viaNaive, packedB: blockedBackend.prepareB!({ k: 15, n: 11, b }) });
    expect(sameBits(viaNaive, expected)).toBe(true);
  });

  it('prepareB validates its operand like gemm, naming prepareB', () => {
    expect(() => blockedBackend.prepareB!({ k: 4, n: 3, b: new Float32Array(11) })).toThrow(
      /prepareB: b stored as \[4,3\].*needs 12 elements, has 11/,
    );
    expect(() => blockedBackend.prepareB!({ k: -1, n: 3, b: new Float32Array(11) })).toThrow(/prepareB: k must be a non-negative integer/);
  });
});

/*
 * The recurrent ops prepare their per-step weight operands when the backend can: forward and
 * backward must be bit-identical to the same blocked kernel without prepareB.
 */
describe('recurrent ops with prepared weights', () => {
  const unprepared: Backend = { name: 'blocked-unprepared', gemm: gemmBlocked, ...jsBackendBase };
  type Kind = 'mlstm' | 'lstm' | 'mrnn';

  function run(kind: Kind, backend: Backend, dtype: Dt, seed: number): Storage[] {
    const rng = new Rng(seed);
    const T = 4,
      B = 5,
      D = 7,
      H = 13;
    const tape = new Tape({ backend });
    const t = (shape: number[], scale = 0.4): Tensor => {
      const x = new Tensor(
        make(
          dtype,
          shape.reduce((p, q) => p * q, 1),
        ),
        shape,
      );
      rng.fillNormal(x.data, 0, scale);
      return x;
    };
    const x = tape.leaf(t([T, B, D]), 'x');
    const h0 = tape.leaf(t([B, H]), 'h0');
    const c0 = tape.leaf(t([B, H]), 'c0');
    const leaves = [x, h0, c0];
    let hs;
    if (kind === 'lstm') {
      const w = { wx: tape.leaf(t([4 * H, D])), wh: tape.leaf(t([4 * H, H])), bias: tape.leaf(t([4 * H])) };
      leaves.push(w.wx, w.wh, w.bias);
      hs = lstmSequence(tape, x, h0, c0, w).hs;
    } else if (kind === 'mlstm') {
      const w = {
        wmx: tape.leaf(t([H, D])),
        wmh: tape.leaf(t([H, H])),
        whx: tape.leaf(t([4 * H, D])),
        whm: tape.leaf(t([4 * H, H])),
        bias: tape.leaf(t([4 * H])),
      };
      leaves.push(w.wmx, w.wmh, w.whx, w.whm, w.bias);
      hs = mlstmSequence(tape, x, h0, c0, w).hs;
    } else {
      const w = {
        wmx: tape.leaf(t([H, D])),
        wmh: tape.leaf(t([H, H])),
        whx: tape.leaf(t([H, D])),
        whm: tape.leaf(t([H, H])),
        bias: tape.leaf(t([H])),
      };
      leaves.push(w.wmx, w.wmh, w.whx, w.whm, w.bias);
      hs = mrnnSequence(tape, x, h0, w).hs;
    }
    tape.backward(hs, t([T, B, H], 1));
    return [hs.value.data, ...leaves.map((v) => v.grad?.data ?? new Float32Array(0))];
  }

  for (const kind of ['mlstm', 'lstm', 'mrnn'] as const) {
    for (const dtype of ['float32', 'float64'] as const) {
      it(`${kind} (${dtype}): outputs and every gradient bit-identical with and without prepareB`, () => {
        for (const seed of [1, 2]) {
          let prepared = 0; // the blocked backend, counting that the ops do use prepareB
          const counting: Backend = {
            name: 'blocked-counting',
            ...jsBackendBase,
            gemm: gemmBlocked,
            prepareB: (p) => (prepared++, blockedBackend.prepareB!(p)),
          };
          const fast = run(kind, counting, dtype, seed);
          expect(prepared).toBe(kind === 'lstm' ? 2 : 4); // forward and backward loop weights
          const plain = run(kind, unprepared, dtype, seed);
          expect(fast.length).toBe(plain.length);
          fast.forEach((x, i) => expect(sameBits(x, plain[i]!), `output ${i}`).toBe(true));
          expect(fast.slice(1).filter((g) => g.length > 0).length).toBeGreaterThan(5); // gradients were computed
        }
      });
    }
  }
});
