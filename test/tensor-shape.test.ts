import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { concat, permute, reshape, slice, split, stack, transpose } from '../src/tensor/ops/shape.js';
import { sizeOf } from '../src/tensor/shape.js';
import { Tensor, tensor, zeros } from '../src/tensor/tensor.js';
import { normalTensor, shuffledIndices } from './support/tensor-arbitraries.js';

// Naive references: build the expected tensor element by element from multi-indices with
// Tensor.get, independent of the flat kernels (odometers, block copies) under test.

function fromIndex(shape: readonly number[], f: (idx: number[]) => number): Tensor {
  const t = zeros(shape, 'float64');
  const idx = new Array<number>(shape.length).fill(0);
  for (let flat = 0; flat < t.size; flat++) {
    let r = flat;
    for (let d = shape.length - 1; d >= 0; d--) {
      idx[d] = r % shape[d]!;
      r = Math.floor(r / shape[d]!);
    }
    t.data[flat] = f(idx.slice());
  }
  return t;
}

const dims = (minRank: number, maxRank: number) => fc.array(fc.integer({ min: 1, max: 7 }), { minLength: minRank, maxLength: maxRank });
const seedArb = fc.integer({ min: 0, max: 1e6 });

describe('permute / transpose', () => {
  it('matches the definition out[j] = x[i] with i[axes[d]] = j[d] on random shapes', () => {
    fc.assert(
      fc.property(dims(0, 5), seedArb, (shape, seed) => {
        const x = normalTensor(shape, seed);
        const axes = shuffledIndices(shape.length, seed + 1);
        const out = permute(x, axes);
        const expected = fromIndex(
          axes.map((a) => shape[a]!),
          (j) => {
            const i = new Array<number>(shape.length);
            axes.forEach((a, d) => (i[a] = j[d]!));
            return x.get(...i);
          },
        );
        expect(out.shape).toEqual(expected.shape);
        expect(Array.from(out.data)).toEqual(Array.from(expected.data));
      }),
      { numRuns: 150 },
    );
  });

  it('is undone by the inverse permutation, and accepts negative axes', () => {
    fc.assert(
      fc.property(dims(1, 4), seedArb, (shape, seed) => {
        const x = normalTensor(shape, seed, 1, 'float32');
        const axes = shuffledIndices(shape.length, seed);
        const inv = new Array<number>(axes.length);
        axes.forEach((a, i) => (inv[a] = i));
        const back = permute(
          permute(x, axes),
          inv.map((a) => a - shape.length),
        );
        expect(back.shape).toEqual(x.shape);
        expect(back.dtype).toBe('float32');
        expect(back.data).toEqual(x.data);
      }),
    );
  });

  it('transpose of a matrix is the matrix transpose; with axes it swaps exactly those two', () => {
    const m = tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(transpose(m).toArray()).toEqual([
      [1, 4],
      [2, 5],
      [3, 6],
    ]);
    const x = normalTensor([2, 3, 4], 5);
    const t = transpose(x, 0, 2);
    expect(t.shape).toEqual([4, 3, 2]);
    expect(t.get(3, 1, 0)).toBe(x.get(0, 1, 3));
    expect(transpose(x).shape).toEqual([2, 4, 3]); // default: the last two axes
  });

  it('rejects a non-permutation naming the op, the axes and the shape', () => {
    const x = zeros([2, 3]);
    expect(() => permute(x, [0, 0])).toThrow('permute: axes [0,0] are not a permutation of the 2 axes of shape [2,3]');
    expect(() => permute(x, [0])).toThrow(/permute: .*shape \[2,3\]/);
    expect(() => permute(x, [0, 2])).toThrow(/shape \[2,3\]/);
    expect(() => transpose(zeros([4]))).toThrow('transpose: needs a tensor of rank ≥ 2, got shape [4]');
    expect(() => transpose(zeros([2, 3]), 0, 2)).toThrow(/transpose: axis 2 out of range for rank 2/);
  });
});

describe('slice', () => {
  it('matches x.get with the axis index shifted by start, on random shapes and ranges', () => {
    fc.assert(
      fc.property(dims(1, 4), seedArb, fc.nat(), fc.nat(), fc.nat(), (shape, seed, ra, rs, re) => {
        const x = normalTensor(shape, seed);
        const axis = ra % shape.length;
        const d = shape[axis]!;
        const start = rs % (d + 1);
        const end = start + (re % (d - start + 1));
        const out = slice(x, axis, start, end);
        const outShape = shape.slice();
        outShape[axis] = end - start;
        const expected = fromIndex(outShape, (j) => {
          const i = j.slice();
          i[axis]! += start;
          return x.get(...i);
        });
        expect(out.shape).toEqual(outShape);
        expect(Array.from(out.data)).toEqual(Array.from(expected.data));
      }),
      { numRuns: 150 },
    );
  });

  it('counts negative bounds from the end and defaults end to the axis length', () => {
    const x = tensor([
      [0, 1, 2, 3],
      [4, 5, 6, 7],
    ]);
    expect(slice(x, 1, -3, -1).toArray()).toEqual([
      [1, 2],
      [5, 6],
    ]);
    expect(slice(x, -1, 2).toArray()).toEqual([
      [2, 3],
      [6, 7],
    ]);
    expect(slice(x, 0, 1, 1).shape).toEqual([0, 4]);
  });

  it('rejects out-of-range and reversed bounds, naming the shape', () => {
    const x = zeros([2, 4]);
    expect(() => slice(x, 1, 0, 5)).toThrow('slice: range [0, 5) is out of bounds for axis 1 of shape [2,4] (length 4)');
    expect(() => slice(x, 1, 3, 2)).toThrow(/slice: range \[3, 2\)/);
    expect(() => slice(x, 2, 0, 1)).toThrow(/slice: axis 2 out of range for rank 2/);
  });
});

describe('concat / split / stack', () => {
  const partsArb = fc.tuple(dims(1, 4), fc.nat(), fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 4 }), seedArb);

  it('concat matches the definition: out[..., at_p + i, ...] = part_p[..., i, ...]', () => {
    fc.assert(
      fc.property(partsArb, ([shape, ra, lens, seed]) => {
        const axis = ra % shape.length;
        const parts = lens.map((len, p) => {
          const s = shape.slice();
          s[axis] = len;
          return normalTensor(s, seed + p);
        });
        const out = concat(parts, axis);
        const total = lens.reduce((a, b) => a + b, 0);
        const outShape = shape.slice();
        outShape[axis] = total;
        const expected = fromIndex(outShape, (j) => {
          let i = j[axis]!;
          let p = 0;
          while (i >= lens[p]!) i -= lens[p++]!;
          const k = j.slice();
          k[axis] = i;
          return parts[p]!.get(...k);
        });
        expect(out.shape).toEqual(outShape);
        expect(Array.from(out.data)).toEqual(Array.from(expected.data));
        // split by the same sizes gives the parts back
        const back = split(out, lens, axis);
        expect(back.length).toBe(parts.length);
        back.forEach((b, p) => {
          expect(b.shape).toEqual(parts[p]!.shape);
          expect(b.data).toEqual(parts[p]!.data);
        });
      }),
      { numRuns: 150 },
    );
  });

  it('split into a count of equal parts, then concat, is the identity', () => {
    fc.assert(
      fc.property(dims(1, 4), fc.nat(), fc.integer({ min: 1, max: 4 }), seedArb, (shape, ra, count, seed) => {
        const axis = ra % shape.length;
        const s = shape.slice();
        s[axis] = s[axis]! * count;
        const x = normalTensor(s, seed, 1, 'float32');
        const parts = split(x, count, axis);
        expect(parts.length).toBe(count);
        for (const p of parts) expect(p.shape[axis]).toBe(shape[axis]);
        expect(concat(parts, axis).data).toEqual(x.data);
      }),
    );
  });

  it('stack matches out[..., i, ...] = list[i][...] for every axis position', () => {
    fc.assert(
      fc.property(dims(0, 3), fc.nat(), fc.integer({ min: 1, max: 4 }), seedArb, (shape, ra, count, seed) => {
        const axis = ra % (shape.length + 1);
        const list = Array.from({ length: count }, (_, i) => normalTensor(shape, seed + i));
        const out = stack(list, axis);
        const outShape = shape.slice();
        outShape.splice(axis, 0, count);
        const expected = fromIndex(outShape, (j) => {
          const k = j.slice();
          const [i] = k.splice(axis, 1);
          return list[i!]!.get(...k);
        });
        expect(out.shape).toEqual(outShape);
        expect(Array.from(out.data)).toEqual(Array.from(expected.data));
      }),
    );
  });

  it('concat of mixed dtypes computes in float64', () => {
    const out = concat([tensor([1, 2], [2], 'float32'), tensor([0.1], [1], 'float64')]);
    expect(out.dtype).toBe('float64');
    expect(Array.from(out.data)).toEqual([1, 2, 0.1]);
  });

  it('errors name the op and the shapes', () => {
    expect(() => concat([zeros([2, 3]), zeros([3, 3])], 1)).toThrow(
      'concat: shapes [2,3] (tensor 0) and [3,3] (tensor 1) differ outside axis 1',
    );
    expect(() => concat([zeros([2, 3]), zeros([2, 3, 1])])).toThrow(/\[2,3\].*\[2,3,1\]/);
    expect(() => concat([])).toThrow('concat: needs at least one tensor');
    expect(() => split(zeros([5, 2]), 2)).toThrow('split: cannot split axis 0 of shape [5,2] (length 5) into 2 equal parts');
    expect(() => split(zeros([5, 2]), [2, 2])).toThrow('split: sizes [2,2] do not partition axis 0 of shape [5,2] (length 5)');
    expect(() => stack([zeros([2]), zeros([3])])).toThrow(
      'stack: shapes [2] (tensor 0) and [3] (tensor 1) differ; stack needs equal shapes',
    );
  });
});

describe('reshape', () => {
  it('is a view with the same row-major data', () => {
    const x = normalTensor([2, 3, 4], 1);
    const r = reshape(x, [6, -1]);
    expect(r.shape).toEqual([6, 4]);
    expect(r.data).toBe(x.data);
    expect(sizeOf(r.shape)).toBe(24);
    expect(() => reshape(x, [5, 5])).toThrow(/reshape: cannot reshape \[2,3,4\]/);
  });
});
