import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { adamStep, adamwStep, sgdStep, type AdamHyper, type SgdHyper } from '../src/optim/rules.js';
import { maxScaledError, referenceAdam, referenceSgd } from './optim-reference.js';

// The pure update rules against the naive float64 references written from PyTorch's algorithm
// boxes (optim-reference.ts), over several steps with random gradients and learning rates that
// change between steps (as a schedule does), plus identities that need no reference at all.

/** Uniform on [min, max] (fc.double spreads over exponents, so most of its draws are tiny: useless for hyperparameters). */
const uniform = (min: number, max: number) => fc.integer({ min: 0, max: 2 ** 30 }).map((k) => min + ((max - min) * k) / 2 ** 30);
/** Parameter and gradient entries: mostly O(1), sometimes exactly 0 or tiny. */
const value = fc.oneof(
  { weight: 8, arbitrary: uniform(-5, 5) },
  { weight: 1, arbitrary: fc.constant(0) },
  { weight: 1, arbitrary: fc.double({ min: -1e-6, max: 1e-6, noNaN: true }) },
);

/** n elements, T steps: initial params, T gradient vectors, T learning rates. */
const run = fc.record({ n: fc.integer({ min: 1, max: 9 }), T: fc.integer({ min: 1, max: 6 }) }).chain(({ n, T }) =>
  fc.record({
    p0: fc.array(value, { minLength: n, maxLength: n }),
    grads: fc.array(fc.array(value, { minLength: n, maxLength: n }), { minLength: T, maxLength: T }),
    lrs: fc.array(fc.oneof(uniform(0, 0.1), fc.constant(0)), { minLength: T, maxLength: T }),
  }),
);

const adamHp = fc.record({
  // β₁ below ~1e-3 (but not 0) is left out: there torch's lerp, m − (g − m)·(1 − (1 − β₁)), loses β₁ to the
  // rounding of 1 − β₁ while the textbook β₁·m keeps it, and ε can amplify that difference in m by 1/ε.
  beta1: fc.oneof(fc.constant(0.9), fc.constant(0), uniform(1e-3, 0.99)),
  beta2: fc.oneof(fc.constant(0.999), uniform(0, 0.9999)),
  eps: fc.oneof(fc.constant(1e-8), uniform(1e-10, 1e-3)),
  weightDecay: fc.oneof(fc.constant(0), uniform(0, 0.5)),
  amsgrad: fc.boolean(),
});

type AdamRun = { p0: number[]; grads: number[][]; lrs: number[] };

function runAdamRule(rule: typeof adamStep, r: AdamRun, hp: AdamHyper, dtype: 'float32' | 'float64'): Float64Array[] {
  const Arr = dtype === 'float32' ? Float32Array : Float64Array;
  const n = r.p0.length;
  const p = Arr.from(r.p0);
  const m = new Arr(n);
  const v = new Arr(n);
  const maxV = hp.amsgrad ? new Arr(n) : null;
  const out: Float64Array[] = [];
  r.grads.forEach((g, k) => {
    expect(rule(p, Arr.from(g), m, v, k + 1, r.lrs[k]!, hp, maxV)).toBe(true);
    out.push(Float64Array.from(p));
  });
  return out;
}

describe('adamStep / adamwStep against the naive reference', () => {
  for (const decoupled of [false, true]) {
    const rule = decoupled ? adamwStep : adamStep;
    it(`${decoupled ? 'adamwStep' : 'adamStep'}: float64 storage matches to rounding at every step`, () => {
      fc.assert(
        fc.property(run, adamHp, (r, hp) => {
          const got = runAdamRule(rule, r, hp, 'float64');
          const ref = referenceAdam(r.p0, r.grads, r.lrs, { ...hp, decoupled });
          got.forEach((g, t) => expect(maxScaledError(g, ref[t]!)).toBeLessThan(1e-11));
        }),
        { numRuns: 200 },
      );
    });
    it(`${decoupled ? 'adamwStep' : 'adamStep'}: float32 storage stays within float32 rounding of the float64 reference`, () => {
      fc.assert(
        fc.property(run, adamHp, (r, hp) => {
          const got = runAdamRule(rule, r, hp, 'float32');
          const ref = referenceAdam(
            r.p0.map(Math.fround),
            r.grads.map((g) => g.map(Math.fround)),
            r.lrs,
            { ...hp, decoupled },
          );
          got.forEach((g, t) => expect(maxScaledError(g, ref[t]!)).toBeLessThan(1e-5));
        }),
        { numRuns: 100 },
      );
    });
  }

  it('step 1 moves every element by lr·|g|/(|g| + eps) ≈ lr, whatever the betas (bias correction)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(uniform(1e-3, 100), fc.boolean()).map(([a, neg]) => (neg ? -a : a)),
          { minLength: 1, maxLength: 8 },
        ),
        adamHp,
        uniform(1e-4, 0.1),
        (g, hp, lr) => {
          const p = new Float64Array(g.length).fill(0.5);
          adamStep(p, Float64Array.from(g), new Float64Array(g.length), new Float64Array(g.length), 1, lr, {
            ...hp,
            weightDecay: 0,
            amsgrad: false,
          });
          g.forEach((gi, i) => {
            const delta = p[i]! - 0.5;
            expect(Math.sign(delta)).toBe(-Math.sign(gi));
            expect(Math.abs(Math.abs(delta) - (lr * Math.abs(gi)) / (Math.abs(gi) + hp.eps))).toBeLessThan(1e-15);
            expect(Math.abs(Math.abs(delta) - lr)).toBeLessThanOrEqual(lr * (hp.eps / Math.abs(gi)) + 1e-15);
          });
        },
      ),
    );
  });

  it('Adam with weight decay is Adam without it on g + λp; AdamW is Adam without it on p·(1 − γλ) (bit-exact)', () => {
    fc.assert(
      fc.property(run, adamHp, uniform(0.01, 0.5), (r, hp, wd) => {
        const n = r.p0.length;
        const state = () => ({ p: Float64Array.from(r.p0), m: new Float64Array(n), v: new Float64Array(n), mx: new Float64Array(n) });
        const [l2, l2Alt, dec, decAlt] = [state(), state(), state(), state()];
        r.grads.forEach((gArr, k) => {
          const lr = r.lrs[k]!;
          const g = Float64Array.from(gArr);
          const withWd = { ...hp, weightDecay: wd };
          const noWd = { ...hp, weightDecay: 0 };
          adamStep(l2.p, g, l2.m, l2.v, k + 1, lr, withWd, l2.mx);
          adamStep(
            l2Alt.p,
            g.map((x, i) => x + wd * l2Alt.p[i]!),
            l2Alt.m,
            l2Alt.v,
            k + 1,
            lr,
            noWd,
            l2Alt.mx,
          );
          adamwStep(dec.p, g, dec.m, dec.v, k + 1, lr, withWd, dec.mx);
          decAlt.p.set(decAlt.p.map((x) => x * (1 - lr * wd)));
          adamStep(decAlt.p, g, decAlt.m, decAlt.v, k + 1, lr, noWd, decAlt.mx);
        });
        expect(Array.from(l2.p)).toEqual(Array.from(l2Alt.p));
        expect(Array.from(dec.p)).toEqual(Array.from(decAlt.p));
      }),
    );
  });

  it('Adam and AdamW differ after one step exactly as their closed forms say', () => {
    const [p0, g, lr, wd, eps] = [2, 0.3, 0.1, 0.2, 1e-8];
    const hp = { beta1: 0.9, beta2: 0.999, eps, weightDecay: wd, amsgrad: false };
    const a = Float64Array.of(p0);
    const w = Float64Array.of(p0);
    adamStep(a, Float64Array.of(g), new Float64Array(1), new Float64Array(1), 1, lr, hp);
    adamwStep(w, Float64Array.of(g), new Float64Array(1), new Float64Array(1), 1, lr, hp);
    const gL2 = g + wd * p0; // Adam sees the decay inside the normalised gradient…
    expect(a[0]).toBeCloseTo(p0 - (lr * gL2) / (Math.abs(gL2) + eps), 14);
    const decayed = p0 * (1 - lr * wd); // …AdamW shrinks p outside it
    expect(w[0]).toBeCloseTo(decayed - (lr * g) / (Math.abs(g) + eps), 14);
    expect(Math.abs(a[0]! - w[0]!)).toBeGreaterThan(0.03);
  });

  it('AMSGrad equals Adam while |g| never decreases (v never decreases, so max(v_max, v) = v)', () => {
    fc.assert(
      fc.property(run, adamHp, (r, hp) => {
        const mags = r.grads.map((g) => g.map(Math.abs));
        const grads = mags.map((g, t) =>
          g.map((x, i) => mags.slice(0, t + 1).reduce((mx, row) => Math.max(mx, row[i]!), x) * (i % 2 ? -1 : 1)),
        );
        const plain = runAdamRule(adamStep, { ...r, grads }, { ...hp, weightDecay: 0, amsgrad: false }, 'float64');
        const ams = runAdamRule(adamStep, { ...r, grads }, { ...hp, weightDecay: 0, amsgrad: true }, 'float64');
        expect(ams.map((x) => Array.from(x))).toEqual(plain.map((x) => Array.from(x)));
      }),
    );
  });

  it('reports non-finite output and rejects bad buffers and steps, naming the rule', () => {
    const hp = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, amsgrad: false };
    const z = () => new Float32Array(2);
    expect(adamStep(z(), Float32Array.of(NaN, 1), z(), z(), 1, 0.1, hp)).toBe(false);
    expect(adamStep(z(), Float32Array.of(1e30, 1), z(), z(), 1, 0.1, hp)).toBe(false); // g² overflows float32 v
    expect(() => adamStep(z(), new Float32Array(3), z(), z(), 1, 0.1, hp)).toThrow(/adamStep: grad has 3 elements but param has 2/);
    expect(() => adamwStep(z(), z(), z(), z(), 0, 0.1, hp)).toThrow(/adamwStep: step must be an integer >= 1/);
    expect(() => adamStep(z(), z(), z(), z(), 1, 0.1, { ...hp, amsgrad: true })).toThrow(/adamStep: amsgrad needs a maxV buffer/);
  });
});

const sgdHp = fc
  .record({
    momentum: fc.oneof(fc.constant(0), uniform(0, 0.99)),
    dampening: fc.oneof(fc.constant(0), uniform(0, 1)),
    weightDecay: fc.oneof(fc.constant(0), uniform(0, 0.5)),
    nesterov: fc.boolean(),
  })
  .map((h) => (h.nesterov ? { ...h, dampening: 0, momentum: h.momentum || 0.5 } : h));

function runSgdRule(r: AdamRun, hp: SgdHyper, dtype: 'float32' | 'float64'): Float64Array[] {
  const Arr = dtype === 'float32' ? Float32Array : Float64Array;
  const p = Arr.from(r.p0);
  const buf = hp.momentum !== 0 ? new Arr(p.length) : null;
  return r.grads.map((g, k) => {
    expect(sgdStep(p, Arr.from(g), buf, k === 0, r.lrs[k]!, hp)).toBe(true);
    return Float64Array.from(p);
  });
}

describe('sgdStep against the naive reference', () => {
  it('float64 storage matches to rounding at every step (momentum, dampening, Nesterov, weight decay)', () => {
    fc.assert(
      fc.property(run, sgdHp, (r, hp) => {
        const got = runSgdRule(r, hp, 'float64');
        const ref = referenceSgd(r.p0, r.grads, r.lrs, hp);
        got.forEach((g, t) => expect(maxScaledError(g, ref[t]!)).toBeLessThan(1e-13));
      }),
      { numRuns: 200 },
    );
  });

  it('float32 storage stays within float32 rounding', () => {
    fc.assert(
      fc.property(run, sgdHp, (r, hp) => {
        const got = runSgdRule(r, hp, 'float32');
        const ref = referenceSgd(
          r.p0.map(Math.fround),
          r.grads.map((g) => g.map(Math.fround)),
          r.lrs,
          hp,
        );
        got.forEach((g, t) => expect(maxScaledError(g, ref[t]!)).toBeLessThan(1e-5));
      }),
    );
  });

  it('Nesterov: step 1 moves by −γ(1 + μ)g, step 2 by −γ(g₂ + μ(μg₁ + g₂)); plain momentum by −γg, then −γ(μg₁ + (1−τ)g₂)', () => {
    const [lr, mu, tau, g1, g2] = [0.1, 0.9, 0.25, 0.5, -0.2];
    const nes = Float64Array.of(1);
    const nesBuf = new Float64Array(1);
    const hpN = { momentum: mu, dampening: 0, weightDecay: 0, nesterov: true };
    sgdStep(nes, Float64Array.of(g1), nesBuf, true, lr, hpN);
    expect(nes[0]).toBeCloseTo(1 - lr * (1 + mu) * g1, 15);
    sgdStep(nes, Float64Array.of(g2), nesBuf, false, lr, hpN);
    expect(nes[0]).toBeCloseTo(1 - lr * (1 + mu) * g1 - lr * (g2 + mu * (mu * g1 + g2)), 15);

    const plain = Float64Array.of(1);
    const plainBuf = new Float64Array(1);
    const hpP = { momentum: mu, dampening: tau, weightDecay: 0, nesterov: false };
    sgdStep(plain, Float64Array.of(g1), plainBuf, true, lr, hpP); // the first buffer is g itself: no dampening
    expect(plain[0]).toBeCloseTo(1 - lr * g1, 15);
    sgdStep(plain, Float64Array.of(g2), plainBuf, false, lr, hpP);
    expect(plain[0]).toBeCloseTo(1 - lr * g1 - lr * (mu * g1 + (1 - tau) * g2), 15);
  });

  it('never writes into the gradient', () => {
    const g = Float32Array.of(1, -2, 3);
    sgdStep(new Float32Array(3), g, new Float32Array(3), true, 0.1, { momentum: 0.9, dampening: 0, weightDecay: 0.1, nesterov: true });
    adamStep(Float32Array.of(1, 1, 1), g, new Float32Array(3), new Float32Array(3), 1, 0.1, {
      beta1: 0.9,
      beta2: 0.99,
      eps: 1e-8,
      weightDecay: 0.1,
      amsgrad: false,
    });
    expect(Array.from(g)).toEqual([1, -2, 3]);
  });

  it('rejects a missing momentum buffer and mismatched lengths', () => {
    const hp = { momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: false };
    expect(() => sgdStep(new Float32Array(2), new Float32Array(2), null, true, 0.1, hp)).toThrow(
      /sgdStep: momentum 0.9 needs a momentumBuffer/,
    );
    expect(() => sgdStep(new Float32Array(2), new Float32Array(2), new Float32Array(1), true, 0.1, hp)).toThrow(
      /sgdStep: momentumBuffer has 1 elements but param has 2/,
    );
  });
});
