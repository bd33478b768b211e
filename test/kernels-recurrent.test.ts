import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Rng } from '../src/tensor/rng.js';
import { LSTM_SAVED_PER_UNIT, lstmGatesBackward, lstmGatesForward } from '../src/tensor/kernels/recurrent-lstm-gates.js';
import { stableSigmoid } from '../src/tensor/kernels/stable-sigmoid.js';
import { multiplicativeBackward, multiplicativeForward } from '../src/tensor/kernels/recurrent-multiplicative.js';
import { tanhBackward, tanhForward } from '../src/tensor/kernels/recurrent-tanh.js';
import {
  lstmGatesBackwardNaive,
  lstmGatesForwardNaive,
  multiplicativeForwardNaive,
  tanhBackwardNaive,
  tanhForwardNaive,
} from '../src/tensor/kernels/recurrent-reference.js';

/*
 * The fused recurrent kernels against their naive references (float64), for random B, H including 1,
 * with preactivations from mild to saturating, and with the buffers placed at non-zero offsets of
 * larger arrays (the way the sequence ops address time step t) so an offset slip shows up.
 */

const sizes = fc.record({
  B: fc.integer({ min: 1, max: 5 }),
  H: fc.integer({ min: 1, max: 9 }),
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  scale: fc.constantFrom(0.5, 3, 40),
});

function randArray(rng: Rng, n: number, scale: number): Float64Array {
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal(0, scale);
  return a;
}

/** A copy of `a` placed at `off` inside a larger array padded with NaN (a misread shows as NaN). */
function embed(a: Float64Array, off: number, pad = 3): Float64Array {
  const out = new Float64Array(off + a.length + pad).fill(NaN);
  out.set(a, off);
  return out;
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-12): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (!(Math.abs(a - e) <= tol * (1 + Math.abs(e)))) throw new Error(`element ${i}: ${a} vs reference ${e}`);
  }
}

describe('stableSigmoid', () => {
  it('is finite, in [0,1], and symmetric σ(−z) = 1 − σ(z) for |z| up to 1e4', () => {
    fc.assert(
      fc.property(fc.double({ min: -1e4, max: 1e4, noNaN: true }), (z) => {
        const s = stableSigmoid(z);
        expect(s).toBeGreaterThanOrEqual(0);
        expect(s).toBeLessThanOrEqual(1);
        expect(Math.abs(stableSigmoid(-z) - (1 - s))).toBeLessThan(1e-15);
      }),
    );
  });
  it('keeps relative precision in the far negative tail, where σ(z) ≈ e^z', () => {
    for (const z of [-30, -100, -700]) expect(stableSigmoid(z) / Math.exp(z)).toBeCloseTo(1, 12);
  });
});

describe('lstmGatesForward / lstmGatesBackward', () => {
  it('match the naive references (float64, offsets, saturating preactivations)', () => {
    fc.assert(
      fc.property(sizes, ({ B, H, seed, scale }) => {
        const rng = new Rng(seed);
        const z = randArray(rng, B * 4 * H, scale); // [B,4H]
        const cPrev = randArray(rng, B * H, 1); // [B,H]
        const dh = randArray(rng, B * H, 1);
        const dcNext = randArray(rng, B * H, 1);
        const ref = lstmGatesForwardNaive(B, H, z, cPrev);
        const S = LSTM_SAVED_PER_UNIT * H;
        const [zo, co, ho, so, po] = [2, 5, 1, 7, 4];
        const zBuf = embed(z, zo);
        const cBuf = new Float64Array(co + B * H).fill(NaN);
        const hBuf = new Float64Array(ho + B * H).fill(NaN);
        const saved = new Float64Array(so + B * S).fill(NaN);
        lstmGatesForward(B, H, zBuf, zo, embed(cPrev, po), po, cBuf, co, hBuf, ho, saved, so);
        expectClose(cBuf.subarray(co), ref.c);
        expectClose(hBuf.subarray(ho), ref.h);

        const refB = lstmGatesBackwardNaive(B, H, z, cPrev, dh, dcNext);
        const dz = new Float64Array(3 + B * 4 * H).fill(NaN);
        const dcPrev = new Float64Array(1 + B * H).fill(NaN);
        lstmGatesBackward(B, H, saved, so, embed(cPrev, po), po, embed(dh, 6), 6, embed(dcNext, 2), 2, dz, 3, dcPrev, 1);
        expectClose(dz.subarray(3), refB.dz, 1e-10);
        expectClose(dcPrev.subarray(1), refB.dcPrev, 1e-10);
      }),
      { numRuns: 200 },
    );
  });

  it('backward may write dc_prev over dc_next in place', () => {
    fc.assert(
      fc.property(sizes, ({ B, H, seed, scale }) => {
        const rng = new Rng(seed);
        const z = randArray(rng, B * 4 * H, scale);
        const cPrev = randArray(rng, B * H, 1);
        const dh = randArray(rng, B * H, 1);
        const dcNext = randArray(rng, B * H, 1);
        const saved = new Float64Array(B * LSTM_SAVED_PER_UNIT * H);
        lstmGatesForward(B, H, z, 0, cPrev, 0, new Float64Array(B * H), 0, new Float64Array(B * H), 0, saved, 0);
        const refB = lstmGatesBackwardNaive(B, H, z, cPrev, dh, dcNext);
        const dc = dcNext.slice();
        const dz = new Float64Array(B * 4 * H);
        lstmGatesBackward(B, H, saved, 0, cPrev, 0, dh, 0, dc, 0, dz, 0, dc, 0);
        expectClose(dc, refB.dcPrev, 1e-10);
        expectClose(dz, refB.dz, 1e-10);
      }),
      { numRuns: 50 },
    );
  });

  it('stays finite with |z| in the hundreds (no exp overflow)', () => {
    const B = 2;
    const H = 3;
    const z = Float64Array.from({ length: B * 4 * H }, (_, i) => (i % 2 ? 800 : -800) * (1 + i / 10));
    const cPrev = new Float64Array(B * H).fill(0.5);
    const c = new Float64Array(B * H);
    const h = new Float64Array(B * H);
    const saved = new Float64Array(B * 5 * H);
    lstmGatesForward(B, H, z, 0, cPrev, 0, c, 0, h, 0, saved, 0);
    const dz = new Float64Array(B * 4 * H);
    const dc = new Float64Array(B * H).fill(1);
    lstmGatesBackward(B, H, saved, 0, cPrev, 0, new Float64Array(B * H).fill(1), 0, dc, 0, dz, 0, dc, 0);
    for (const a of [c, h, saved, dz, dc]) for (const v of a) expect(Number.isFinite(v)).toBe(true);
    expectClose(h, lstmGatesForwardNaive(B, H, z, cPrev).h);
  });
});

describe('tanhForward / tanhBackward (mRNN)', () => {
  it('match the naive references, derivative from z via 1/cosh² rather than from h', () => {
    fc.assert(
      fc.property(sizes, ({ B, H, seed, scale }) => {
        const rng = new Rng(seed);
        const n = B * H;
        const z = randArray(rng, n, scale);
        const dh = randArray(rng, n, 1);
        const h = new Float64Array(2 + n).fill(NaN);
        tanhForward(n, embed(z, 4), 4, h, 2);
        expectClose(h.subarray(2), tanhForwardNaive(z));
        const dz = new Float64Array(1 + n).fill(NaN);
        tanhBackward(n, h, 2, embed(dh, 3), 3, dz, 1);
        // 1 − tanh² loses absolute precision ~1e-16 near saturation; compare with an absolute floor.
        expectClose(dz.subarray(1), tanhBackwardNaive(z, dh), 1e-9);
      }),
      { numRuns: 100 },
    );
  });
});

describe('multiplicativeForward / multiplicativeBackward', () => {
  it('forward matches the naive product; backward is the product rule (checked by a directional derivative)', () => {
    fc.assert(
      fc.property(sizes, ({ B, H, seed }) => {
        const rng = new Rng(seed);
        const n = B * H;
        const xm = randArray(rng, n, 1);
        const hm = randArray(rng, n, 1);
        const dm = randArray(rng, n, 1);
        const m = new Float64Array(1 + n).fill(NaN);
        multiplicativeForward(n, embed(xm, 2), 2, embed(hm, 5), 5, m, 1);
        expectClose(m.subarray(1), multiplicativeForwardNaive(xm, hm));
        const dxm = new Float64Array(n);
        const dhm = new Float64Array(n);
        multiplicativeBackward(n, dm, 0, xm, 0, hm, 0, dxm, 0, dhm, 0);
        // L(xm, hm) = Σ dm ⊙ xm ⊙ hm is bilinear, so a central difference along any direction is exact
        // up to rounding: dL = Σ dxm·u + Σ dhm·v.
        const u = randArray(rng, n, 1);
        const v = randArray(rng, n, 1);
        const L = (s: number): number => {
          const p = multiplicativeForwardNaive(
            xm.map((a, i) => a + s * u[i]!),
            hm.map((a, i) => a + s * v[i]!),
          );
          return p.reduce((acc, pv, i) => acc + pv * dm[i]!, 0);
        };
        const numeric = (L(1e-3) - L(-1e-3)) / 2e-3;
        let analytic = 0;
        for (let i = 0; i < n; i++) analytic += dxm[i]! * u[i]! + dhm[i]! * v[i]!;
        expect(Math.abs(numeric - analytic)).toBeLessThan(1e-8 * (1 + Math.abs(analytic)));
      }),
      { numRuns: 100 },
    );
  });
});
