import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { logSoftmax, softmax, softmaxCrossEntropy, softmaxCrossEntropyBackwardInto } from '../src/tensor/ops/softmax.js';
import { Rng } from '../src/tensor/rng.js';
import { Tensor, tensor, zeros } from '../src/tensor/tensor.js';
import { normalTensor } from './support/tensor-arbitraries.js';

// References: softmax by its definition exp(x_j) / Σ exp(x_i) in float64 without any max shift,
// on moderate logits (|x| ≲ 10) where the definition itself is accurate.

function definitionSoftmax(x: Tensor): number[] {
  const w = x.shape[x.shape.length - 1]!;
  const out: number[] = [];
  for (let r = 0; r < x.size / w; r++) {
    const e = Array.from(x.data.subarray(r * w, (r + 1) * w), (v) => Math.exp(v));
    const s = e.reduce((a, b) => a + b, 0);
    for (const v of e) out.push(v / s);
  }
  return out;
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (!(Math.abs(a - e) <= tol * Math.max(1, Math.abs(e)))) {
      throw new Error(`element ${i}: ${a} vs ${e} (tol ${tol})`);
    }
  }
}

const shapeArb = fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 3 });
const seedArb = fc.integer({ min: 0, max: 1e6 });

describe('softmax / logSoftmax (last axis)', () => {
  it('softmax equals exp(x)/Σexp(x) in float64 on random moderate logits', () => {
    fc.assert(
      fc.property(shapeArb, seedArb, (shape, seed) => {
        const x = normalTensor(shape, seed, 3);
        const y = softmax(x);
        expect(y.shape).toEqual(x.shape);
        expectClose(y.data, definitionSoftmax(x), 1e-14);
      }),
    );
  });

  it('logSoftmax equals log of the definition', () => {
    fc.assert(
      fc.property(shapeArb, seedArb, (shape, seed) => {
        const x = normalTensor(shape, seed, 3);
        expectClose(logSoftmax(x).data, definitionSoftmax(x).map(Math.log), 1e-13);
      }),
    );
  });

  it('float32 inputs give float32 outputs within float32 rounding of the float64 reference', () => {
    fc.assert(
      fc.property(shapeArb, seedArb, (shape, seed) => {
        const x32 = normalTensor(shape, seed, 3, 'float32');
        const x64 = x32.astype('float64');
        const y = softmax(x32);
        expect(y.dtype).toBe('float32');
        expectClose(y.data, definitionSoftmax(x64), 1e-6);
        expectClose(logSoftmax(x32).data, definitionSoftmax(x64).map(Math.log), 1e-5);
      }),
    );
  });

  it('is invariant to adding a constant to a row (the identity the max shift relies on)', () => {
    fc.assert(
      fc.property(shapeArb, seedArb, fc.double({ min: -1000, max: 1000, noNaN: true }), (shape, seed, c) => {
        const x = normalTensor(shape, seed);
        const shifted = new Tensor(
          x.data.map((v) => v + c),
          x.shape,
        );
        expectClose(softmax(shifted).data, softmax(x).data, 1e-10);
      }),
    );
  });

  it('stays finite and exact at logits of ±1e4 (float64 and float32)', () => {
    for (const dtype of ['float64', 'float32'] as const) {
      const x = tensor(
        [
          [1e4, -1e4, 0],
          [-1e4, -1e4, -1e4],
          [1e4, 1e4, -1e4],
        ],
        undefined,
        dtype,
      );
      expect(Array.from(softmax(x).data)).toEqual(
        [1, 0, 0, 1 / 3, 1 / 3, 1 / 3, 0.5, 0.5, 0].map((v) => (dtype === 'float32' ? Math.fround(v) : v)),
      );
      const lp = Array.from(logSoftmax(x).data);
      expect(lp.slice(0, 3)).toEqual([0, -2e4, -1e4]);
      expectClose(lp.slice(3), [-Math.log(3), -Math.log(3), -Math.log(3), -Math.LN2, -Math.LN2, -2e4 - Math.LN2], 1e-6);
    }
  });

  it('rejects a scalar and an empty last axis', () => {
    expect(() => softmax(zeros([]))).toThrow('softmax: needs rank ≥ 1 (softmax is over the last axis), got shape []');
    expect(() => logSoftmax(zeros([3, 0]))).toThrow('logSoftmax: the last axis of shape [3,0] is empty');
  });
});

describe('softmaxCrossEntropy (fused)', () => {
  const caseArb = fc.tuple(fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 7 }), seedArb);

  function targetsFor(n: number, v: number, seed: number): Int32Array {
    const rng = new Rng(seed + 17);
    return Int32Array.from({ length: n }, () => rng.int(v));
  }

  it('equals −log softmax[target] by the definition in float64, per row and reduced', () => {
    fc.assert(
      fc.property(caseArb, ([n, v, seed]) => {
        const x = normalTensor([n, v], seed, 3);
        const t = targetsFor(n, v, seed);
        const p = definitionSoftmax(x);
        const perRow = Array.from(t, (target, r) => -Math.log(p[r * v + target]!));
        const sum = perRow.reduce((a, b) => a + b, 0);
        expectClose(softmaxCrossEntropy(x, t, { reduction: 'none' }).loss.data, perRow, 1e-13);
        expectClose([softmaxCrossEntropy(x, t, { reduction: 'sum' }).loss.item()], [sum], 1e-13);
        const mean = softmaxCrossEntropy(x, t);
        expect(mean.loss.shape).toEqual([]);
        expect(mean.count).toBe(n);
        expectClose([mean.loss.item()], [sum / n], 1e-13);
      }),
    );
  });

  it('is exact at ±1e4: [1e4, −1e4, 0] gives 0, 2e4, 1e4 for targets 0, 1, 2', () => {
    for (const dtype of ['float64', 'float32'] as const) {
      const x = tensor(
        [
          [1e4, -1e4, 0],
          [1e4, -1e4, 0],
          [1e4, -1e4, 0],
        ],
        undefined,
        dtype,
      );
      const t = Int32Array.from([0, 1, 2]);
      expect(Array.from(softmaxCrossEntropy(x, t, { reduction: 'none' }).loss.data)).toEqual([0, 2e4, 1e4]);
      expect(softmaxCrossEntropy(x, t).loss.item()).toBe(1e4);
      const g = new Float64Array(9);
      const { probs, count } = softmaxCrossEntropy(x, t);
      softmaxCrossEntropyBackwardInto(probs.data, t, 3, 3, Float64Array.of(1), { count }, g);
      // (softmax − onehot)/N with softmax = [1, 0, 0] on every row
      expect(Array.from(g)).toEqual([0, 0, 0, 1 / 3, -1 / 3, 0, 1 / 3, 0, -1 / 3]);
    }
  });

  it("keeps logSoftmax's bits in logProbs, and the softmax of the definition in probs (float64 and float32)", () => {
    fc.assert(
      fc.property(caseArb, fc.constantFrom('float64' as const, 'float32' as const), ([n, v, seed], dtype) => {
        const x64 = normalTensor([n, v], seed, 3);
        const x = dtype === 'float64' ? x64 : x64.astype('float32');
        const r = softmaxCrossEntropy(x, targetsFor(n, v, seed));
        expect(Array.from(r.logProbs.data)).toEqual(Array.from(logSoftmax(x).data));
        expect(r.probs.dtype).toBe(dtype);
        expectClose(r.probs.data, definitionSoftmax(x), dtype === 'float64' ? 1e-15 : 1.2e-7);
      }),
    );
  });

  it('backward equals (softmax − onehot)·g/N from the definition, and accumulates when asked', () => {
    fc.assert(
      fc.property(caseArb, ([n, v, seed]) => {
        const x = normalTensor([n, v], seed, 2);
        const t = targetsFor(n, v, seed);
        const p = definitionSoftmax(x);
        const upstream = 0.7;
        const expected = p.map((pj, i) => ((pj - (i % v === t[Math.floor(i / v)] ? 1 : 0)) * upstream) / n);
        const { probs, count } = softmaxCrossEntropy(x, t);
        const g = new Float64Array(n * v).fill(1);
        softmaxCrossEntropyBackwardInto(probs.data, t, n, v, Float64Array.of(upstream), { count }, g, true);
        expectClose(
          g,
          expected.map((e) => e + 1),
          1e-13,
        );
      }),
    );
  });

  it('ignoreIndex drops rows from the loss, the count and the mean; all ignored gives 0', () => {
    const x = normalTensor([4, 5], 3);
    const t = Int32Array.from([1, -100, 4, -100]);
    const none = softmaxCrossEntropy(x, t, { reduction: 'none', ignoreIndex: -100 }).loss.data;
    expect(none[1]).toBe(0);
    expect(none[3]).toBe(0);
    const mean = softmaxCrossEntropy(x, t, { ignoreIndex: -100 });
    expect(mean.count).toBe(2);
    expectClose([mean.loss.item()], [(none[0]! + none[2]!) / 2], 1e-15);
    const kept = softmaxCrossEntropy(
      tensor(
        [x.data.slice(0, 5), x.data.slice(10, 15)].flatMap((r) => Array.from(r)),
        [2, 5],
        'float64',
      ),
      Int32Array.from([1, 4]),
    );
    expectClose([mean.loss.item()], [kept.loss.item()], 1e-15);
    const allIgnored = softmaxCrossEntropy(x, Int32Array.from([-1, -1, -1, -1]), { ignoreIndex: -1 });
    expect(allIgnored.loss.item()).toBe(0);
    expect(allIgnored.count).toBe(0);
  });

  it('accepts logits of any rank [..., V] with one target per leading position', () => {
    const x = normalTensor([2, 3, 4], 8);
    const t = Int32Array.from([0, 1, 2, 3, 0, 1]);
    const flat = softmaxCrossEntropy(x.reshape([6, 4]), t, { reduction: 'none' });
    const nd = softmaxCrossEntropy(x, t, { reduction: 'none' });
    expect(nd.loss.shape).toEqual([2, 3]);
    expect(nd.loss.data).toEqual(flat.loss.data);
  });

  it('rejects out-of-range targets naming the row and value, and a wrong target count', () => {
    const x = zeros([3, 4]);
    expect(() => softmaxCrossEntropy(x, Int32Array.from([0, 4, 1]))).toThrow(
      'softmaxCrossEntropy: target 4 in row 1 is out of range for 4 classes (logits shape [3,4])',
    );
    expect(() => softmaxCrossEntropy(x, Int32Array.from([0, 1, -1]))).toThrow(/target -1 in row 2/);
    expect(() => softmaxCrossEntropy(x, Int32Array.from([0, 1]))).toThrow(
      'softmaxCrossEntropy: logits of shape [3,4] have 3 rows but 2 targets were given',
    );
  });
});
