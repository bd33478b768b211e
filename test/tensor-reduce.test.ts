import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  argmaxTensor,
  maxTensor,
  maxWithIndices,
  meanTensor,
  reduceToShape,
  reductionLayout,
  sumTensor,
} from '../src/tensor/ops/reduce.js';
import { tensor, zeros, type Tensor } from '../src/tensor/tensor.js';
import { allIndices, broadcastPairArb, seedArb, shapeArb, uniformTensor } from './support/tensor-arbitraries.js';

/** A shape with a random subset of its axes, each written as positive or negative. */
const reductionCaseArb = shapeArb().chain((shape) =>
  fc.record({
    shape: fc.constant(shape),
    axes: fc
      .subarray(shape.map((_, i) => i))
      .chain((axes) => fc.tuple(...axes.map((a) => fc.constantFrom(a, a - shape.length))).map((xs) => xs as number[])),
    keepdims: fc.boolean(),
    seed: seedArb,
  }),
);

/**
 * Naive reduction from first principles: visit every input index in row-major order, drop (or set
 * to 0) the reduced coordinates to find its output cell, and fold. Returns values, the flat input
 * offset of the first maximum per cell, and counts.
 */
function naiveReduce(x: Tensor, axes: readonly number[], keepdims: boolean) {
  const ax = axes.map((a) => (a < 0 ? a + x.rank : a));
  const outShape = x.shape.flatMap((d, i) => (ax.includes(i) ? (keepdims ? [1] : []) : [d]));
  const cells = new Map<string, { sum: number; max: number; arg: number; n: number }>();
  allIndices(x.shape).forEach((idx, flat) => {
    const key = idx.filter((_, i) => !ax.includes(i)).join(',');
    const v = x.get(...idx);
    const c = cells.get(key) ?? { sum: 0, max: -Infinity, arg: -1, n: 0 };
    c.sum += v;
    if (c.arg < 0 || v > c.max) [c.max, c.arg] = [v, flat];
    c.n++;
    cells.set(key, c);
  });
  const keptShape = x.shape.filter((_, i) => !ax.includes(i));
  const ordered = allIndices(keptShape).map((k) => cells.get(k.join(','))!);
  return { outShape, ordered };
}

describe('reductions against a naive per-index fold', () => {
  it('sum, mean and max over random axes (negative allowed) with and without keepdims', () => {
    fc.assert(
      fc.property(reductionCaseArb, ({ shape, axes, keepdims, seed }) => {
        const x = uniformTensor(shape, seed);
        const { outShape, ordered } = naiveReduce(x, axes, keepdims);
        const s = sumTensor(x, axes, keepdims);
        const m = meanTensor(x, axes, keepdims);
        const { values, indices } = maxWithIndices(x, axes, keepdims);
        for (const t of [s, m, values]) expect(t.shape).toEqual(outShape);
        ordered.forEach((c, o) => {
          // the fold order differs from the naive one, so sums agree to rounding, not bit for bit
          expect(Math.abs(s.data[o]! - c.sum)).toBeLessThanOrEqual(1e-13 * Math.max(1, c.n));
          expect(Math.abs(m.data[o]! - c.sum / c.n)).toBeLessThanOrEqual(1e-13);
          expect(values.data[o]).toBe(c.max);
          expect(indices[o]).toBe(c.arg);
        });
      }),
      { numRuns: 150 },
    );
  });

  it('default axes reduce everything to a scalar (or all-ones shape with keepdims)', () => {
    const x = uniformTensor([2, 3, 4], 5);
    expect(sumTensor(x).shape).toEqual([]);
    expect(sumTensor(x, undefined, true).shape).toEqual([1, 1, 1]);
    expect(meanTensor(x).item()).toBeCloseTo(Array.from(x.data).reduce((p, v) => p + v, 0) / 24, 14);
    expect(maxTensor(x).item()).toBe(Math.max(...x.data));
    expect(sumTensor(x, [0, -1], true).shape).toEqual([1, 3, 1]);
    expect(sumTensor(x, [0, -1]).shape).toEqual([3]);
    expect(sumTensor(x, -2).shape).toEqual([2, 4]);
    expect(sumTensor(x, []).toArray()).toEqual(x.toArray()); // no axes: a copy
  });

  it('accumulates float32 sums in float64 (no stalling once the running sum is large)', () => {
    // 1e8 + 1 rounds back to 1e8 in float32: a float32 accumulator would return 0, not 1000
    const values = [1e8, ...new Array<number>(1000).fill(1), -1e8];
    expect(sumTensor(tensor(values, [values.length], 'float32')).item()).toBe(1000);
    // the same along the leading axis (the kept-row inner loop)
    const cols = tensor(
      values.flatMap((v) => [v, 2 * v]),
      [values.length, 2],
      'float32',
    );
    expect(sumTensor(cols, 0).toArray()).toEqual([1000, 2000]);
  });

  it('max propagates NaN and resolves ties to the first element', () => {
    expect(maxTensor(tensor([1, NaN, 3], [3], 'float64')).item()).toBeNaN();
    expect(
      maxTensor(
        tensor(
          [
            [1, 2],
            [NaN, 0],
          ],
          undefined,
          'float64',
        ),
        0,
      ).toArray(),
    ).toEqual([NaN, 2]);
    const allNegInf = maxWithIndices(tensor([-Infinity, -Infinity], [2], 'float64'));
    expect(allNegInf.values.item()).toBe(-Infinity);
    expect(allNegInf.indices[0]).toBe(0);
    expect(
      argmaxTensor(
        tensor(
          [
            [3, 5, 5],
            [7, 7, 1],
          ],
          undefined,
          'float64',
        ),
        1,
      ).toArray(),
    ).toEqual([1, 0]);
  });

  it('argmax along an axis is the index into that axis; without an axis the flat index', () => {
    fc.assert(
      fc.property(shapeArb(1, 4), seedArb, fc.nat(), fc.boolean(), (shape, seed, axisPick, keepdims) => {
        const x = uniformTensor(shape, seed);
        const axis = (axisPick % shape.length) - (axisPick % 2 === 0 ? 0 : shape.length);
        const a = argmaxTensor(x, axis, keepdims);
        const ax = axis < 0 ? axis + shape.length : axis;
        const keptIdx = allIndices(shape.filter((_, i) => i !== ax));
        expect(a.shape).toEqual(keepdims ? shape.map((d, i) => (i === ax ? 1 : d)) : shape.filter((_, i) => i !== ax));
        keptIdx.forEach((k, o) => {
          let best = 0;
          const at = (j: number) => x.get(...k.slice(0, ax), j, ...k.slice(ax));
          for (let j = 1; j < shape[ax]!; j++) if (at(j) > at(best)) best = j;
          expect(a.data[o]).toBe(best);
        });
        const flat = argmaxTensor(x).item();
        expect(x.data[flat]).toBe(Math.max(...x.data));
      }),
      { numRuns: 60 },
    );
  });

  it('empty reductions: sum is 0, mean and max refuse', () => {
    const e = zeros([2, 0], 'float64');
    expect(sumTensor(e, 1).toArray()).toEqual([0, 0]);
    expect(() => meanTensor(e, 1)).toThrow('mean: cannot average zero elements (shape [2,0], axes [1])');
    expect(() => maxTensor(e, 1)).toThrow('max: reduction over zero elements has no maximum (shape [2,0], axes [1])');
    expect(() => argmaxTensor(e, 1)).toThrow(/^argmax: /);
    expect(sumTensor(e, 0).shape).toEqual([0]); // nothing to reduce into: fine
  });

  it('rejects bad axes, naming the op', () => {
    const x = uniformTensor([2, 3], 1);
    expect(() => sumTensor(x, 2)).toThrow('sum: axis 2 out of range for rank 2');
    expect(() => meanTensor(x, -3)).toThrow('mean: axis -3 out of range for rank 2');
    expect(() => maxTensor(x, [1, -1])).toThrow('max: axis -1 repeated in [1,-1] (rank 2)');
    expect(() => sumTensor(x, 0.5)).toThrow(/^sum: axis 0.5/);
  });

  it('plans layouts with merged neighbours', () => {
    expect(reductionLayout([4, 5, 1, 6], [0, 1])).toMatchObject({
      dims: [20, 6],
      reduced: [true, false],
      outStrides: [0, 1],
      outSize: 6,
      count: 20,
    });
    expect(reductionLayout([2, 3, 4, 5], [1, 3])).toMatchObject({ dims: [2, 3, 4, 5], outStrides: [4, 0, 1, 0], outSize: 8, count: 15 });
  });
});

describe('reduceToShape (the gradient of broadcasting)', () => {
  it('sums every element into the cell that broadcasting would have read it from', () => {
    fc.assert(
      fc.property(broadcastPairArb, seedArb, ({ out, a }, seed) => {
        const g = uniformTensor(out, seed);
        const r = reduceToShape(g, a);
        expect(r.shape).toEqual(a);
        const want = zeros(a, 'float64');
        const w = new Map<string, number>();
        for (const idx of allIndices(out)) {
          const lead = out.length - a.length;
          const key = a.map((d, i) => (d === 1 ? 0 : idx[lead + i]!)).join(',');
          w.set(key, (w.get(key) ?? 0) + g.get(...idx));
        }
        allIndices(a).forEach((idx, o) => (want.data[o] = w.get(idx.join(','))!));
        for (let i = 0; i < want.size; i++) expect(Math.abs(r.data[i]! - want.data[i]!)).toBeLessThanOrEqual(1e-12);
        // and broadcasting the result back is consistent in total
        expect(sumTensor(r).item()).toBeCloseTo(sumTensor(g).item(), 10);
      }),
      { numRuns: 100 },
    );
  });

  it('returns the tensor itself when nothing needs summing, and refuses impossible targets', () => {
    const g = uniformTensor([2, 3], 1);
    expect(reduceToShape(g, [2, 3])).toBe(g);
    expect(reduceToShape(uniformTensor([1, 3], 1), [3]).shape).toEqual([3]);
    expect(() => reduceToShape(g, [4])).toThrow('reduceToShape: cannot reduce [2,3] to [4]');
    expect(() => reduceToShape(g, [1, 2, 3])).toThrow('reduceToShape: cannot reduce [2,3] to [1,2,3]');
    expect(() => reduceToShape(g, [2, 2])).toThrow('reduceToShape: cannot reduce [2,3] to [2,2]');
  });
});
