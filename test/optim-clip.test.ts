import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Var } from '../src/autograd/var.js';
import { clipGradNorm, globalGradNorm } from '../src/optim/clip.js';
import { Tensor } from '../src/tensor/tensor.js';

const uniform = (min: number, max: number) => fc.integer({ min: 0, max: 2 ** 30 }).map((k) => min + ((max - min) * k) / 2 ** 30);

/** Several parameters of random sizes (some without a grad), gradients as plain number arrays. */
const gradSets = fc.array(
  fc.oneof(
    { weight: 5, arbitrary: fc.array(uniform(-3, 3), { minLength: 1, maxLength: 12 }) },
    { weight: 1, arbitrary: fc.constant(null) },
  ),
  { minLength: 1, maxLength: 5 },
);

function makeParams(grads: readonly (readonly number[] | null)[], dtype: 'float32' | 'float64'): Var[] {
  const Arr = dtype === 'float32' ? Float32Array : Float64Array;
  return grads.map((g) => {
    const v = new Var(new Tensor(new Arr(g ? g.length : 3), [g ? g.length : 3]), { requiresGrad: true });
    if (g) v.grad = new Tensor(Arr.from(g), [g.length]);
    return v;
  });
}

/** Naive reference: √(Σ g²) over every element of every present grad. */
function referenceNorm(params: readonly Var[]): number {
  let s = 0;
  for (const p of params) if (p.grad) for (const x of p.grad.data) s += x * x;
  return Math.sqrt(s);
}

describe('clipGradNorm', () => {
  for (const dtype of ['float32', 'float64'] as const) {
    it(`${dtype}: returns the pre-clip global norm; after clipping the norm is ≤ maxNorm·(1 + 1e-6) and grads are scaled by maxNorm/(norm + 1e-6)`, () => {
      fc.assert(
        fc.property(gradSets, uniform(0.01, 10), (grads, maxNorm) => {
          const params = makeParams(grads, dtype);
          const before = params.map((p) => (p.grad ? Array.from(p.grad.data) : null));
          const ref = referenceNorm(params);
          const norm = clipGradNorm(params, maxNorm);
          expect(norm).toBeCloseTo(ref, 12);
          const coef = maxNorm / (ref + 1e-6);
          params.forEach((p, k) => {
            if (!p.grad) return expect(before[k]).toBeNull();
            const expected = before[k]!.map((x) => (coef < 1 ? x * coef : x));
            p.grad.data.forEach((x, i) => expect(x).toBeCloseTo(expected[i]!, dtype === 'float32' ? 6 : 14));
          });
          expect(referenceNorm(params)).toBeLessThanOrEqual(maxNorm * (1 + 1e-6));
        }),
      );
    });
  }

  it('leaves gradients bit-for-bit unchanged when the norm is below maxNorm', () => {
    fc.assert(
      fc.property(gradSets, (grads) => {
        const params = makeParams(grads, 'float32');
        const before = params.map((p) => (p.grad ? Array.from(p.grad.data) : null));
        const norm = clipGradNorm(params, referenceNorm(params) * 1.01 + 1e-5);
        expect(norm).toBeCloseTo(referenceNorm(params), 12);
        expect(params.map((p) => (p.grad ? Array.from(p.grad.data) : null))).toEqual(before);
      }),
    );
  });

  it('clips a known case to the PyTorch coefficient: grads (3, 4), maxNorm 1 → (3, 4)·1/(5 + 1e-6)', () => {
    const p = makeParams([[3], [4]], 'float64');
    expect(clipGradNorm(p, 1)).toBe(5);
    expect(p[0]!.grad!.data[0]).toBe(3 * (1 / (5 + 1e-6)));
    expect(p[1]!.grad!.data[0]).toBe(4 * (1 / (5 + 1e-6)));
  });

  it('accumulates in float64: float32 grads whose squares would overflow float32 give the exact norm', () => {
    const p = makeParams([[3e30], [4e30]], 'float32');
    const norm = clipGradNorm(p, 1);
    expect(norm / Math.hypot(Math.fround(3e30), Math.fround(4e30))).toBeCloseTo(1, 12);
    expect(globalGradNorm(p)).toBeCloseTo(1, 5);
  });

  it('returns a non-finite norm and leaves every gradient untouched', () => {
    for (const bad of [NaN, Infinity, -Infinity]) {
      const p = makeParams(
        [
          [1, 2],
          [bad, 3],
        ],
        'float32',
      );
      const norm = clipGradNorm(p, 0.5);
      expect(Number.isFinite(norm)).toBe(false);
      expect(Array.from(p[0]!.grad!.data)).toEqual([1, 2]);
      expect(Array.from(p[1]!.grad!.data)).toEqual([bad, 3]);
    }
  });

  it('handles no gradients (norm 0), maxNorm 0 (grads zeroed) and Infinity (never clips); rejects NaN and negative maxNorm', () => {
    expect(clipGradNorm(makeParams([null, null], 'float32'), 1)).toBe(0);
    const z = makeParams([[1, -2]], 'float32');
    clipGradNorm(z, 0);
    expect(Array.from(z[0]!.grad!.data)).toEqual([0, -0]);
    const inf = makeParams([[1e20, -2]], 'float32');
    clipGradNorm(inf, Infinity);
    expect(Array.from(inf[0]!.grad!.data)).toEqual([Math.fround(1e20), -2]);
    expect(() => clipGradNorm(z, NaN)).toThrow(/clipGradNorm: invalid maxNorm NaN/);
    expect(() => clipGradNorm(z, -1)).toThrow(/clipGradNorm: invalid maxNorm -1/);
  });
});
