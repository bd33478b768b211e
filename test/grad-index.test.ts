import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gradcheck } from '../src/autograd/gradcheck.js';
import { embedding } from '../src/autograd/ops/index.js';
import { Tape } from '../src/autograd/tape.js';
import { gatherRows, scatterAddRows } from '../src/tensor/ops/index.js';
import { Rng } from '../src/tensor/rng.js';
import { Tensor, zeros } from '../src/tensor/tensor.js';
import { normalTensor } from './support/tensor-arbitraries.js';

// gatherRows / scatterAddRows against element-by-element references, the adjoint identity
// <gather(T), G> = <T, scatter(G)>, and the differentiable embedding by gradcheck.

function randomIndices(count: number, rows: number, seed: number): Int32Array {
  const rng = new Rng(seed);
  return Int32Array.from({ length: count }, () => rng.int(rows));
}

const caseArb = fc.record({
  rows: fc.integer({ min: 1, max: 7 }),
  width: fc.integer({ min: 1, max: 7 }),
  indexShape: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 0, maxLength: 3 }),
  seed: fc.integer({ min: 0, max: 1e6 }),
});

describe('gatherRows / scatterAddRows', () => {
  it('gatherRows(table, idx)[p, e] = table[idx[p], e] for indices of any shape', () => {
    fc.assert(
      fc.property(caseArb, ({ rows, width, indexShape, seed }) => {
        const table = normalTensor([rows, width], seed);
        const count = indexShape.reduce((a, b) => a * b, 1); // [] is a single index
        const idx = randomIndices(count, rows, seed);
        const out = gatherRows(table, idx, indexShape);
        expect(out.shape).toEqual([...indexShape, width]);
        for (let p = 0; p < count; p++) {
          for (let e = 0; e < width; e++) expect(out.data[p * width + e]).toBe(table.get(idx[p]!, e));
        }
      }),
    );
  });

  it('scatterAddRows sums the rows of each index (duplicates accumulate) and is the adjoint of gatherRows', () => {
    fc.assert(
      fc.property(caseArb, ({ rows, width, indexShape, seed }) => {
        const count = indexShape.reduce((a, b) => a * b, 1);
        const idx = randomIndices(count, rows, seed);
        const values = normalTensor([...indexShape, width], seed + 1);
        const out = scatterAddRows(values, idx, rows);
        expect(out.shape).toEqual([rows, width]);
        const ref = new Float64Array(rows * width);
        for (let p = 0; p < count; p++) for (let e = 0; e < width; e++) ref[idx[p]! * width + e] += values.data[p * width + e]!;
        for (let i = 0; i < ref.length; i++) expect(out.data[i]).toBeCloseTo(ref[i]!, 12);
        // <gather(T), V> = <T, scatter(V)>
        const table = normalTensor([rows, width], seed + 2);
        const g = gatherRows(table, idx, indexShape);
        let lhs = 0;
        let rhs = 0;
        for (let i = 0; i < g.size; i++) lhs += g.data[i]! * values.data[i]!;
        for (let i = 0; i < table.size; i++) rhs += table.data[i]! * out.data[i]!;
        expect(Math.abs(lhs - rhs)).toBeLessThan(1e-12 * (1 + Math.abs(lhs)));
      }),
    );
  });

  it('rejects an out-of-range index naming the op, the position, the value and the row count', () => {
    const table = zeros([5, 3]);
    expect(() => gatherRows(table, Int32Array.from([0, 1, 2, 3, 4, 7]), [2, 3])).toThrow(
      'gatherRows: index 7 at position [1,2] is out of range for 5 rows (table shape [5,3])',
    );
    expect(() => gatherRows(table, Int32Array.from([-1]))).toThrow(/gatherRows: index -1 at position \[0\]/);
    expect(() => gatherRows(table, Int32Array.from([0, 1, 2]), [2, 2])).toThrow(
      'gatherRows: index shape [2,2] needs 4 indices but 3 were given',
    );
    expect(() => gatherRows(zeros([5]), Int32Array.from([0]))).toThrow('gatherRows: table must be 2-D [rows, width], got shape [5]');
    expect(() => scatterAddRows(zeros([2, 3]), Int32Array.from([0, 5]), 5)).toThrow(
      /scatterAddRows: index 5 at position \[1\] is out of range for 5 rows/,
    );
  });
});

describe('embedding (differentiable)', () => {
  it('passes gradcheck for random tables and index shapes (with repeated indices)', () => {
    fc.assert(
      fc.property(caseArb, ({ rows, width, indexShape, seed }) => {
        const count = indexShape.reduce((a, b) => a * b, 1);
        const idx = randomIndices(count, rows, seed);
        gradcheck((t, table) => embedding(t, table, idx, indexShape), [normalTensor([rows, width], seed)], { seed });
      }),
      { numRuns: 60 },
    );
  });

  it('gives a repeated token the sum of its rows, an unused row zero, and keeps its own copy of the indices', () => {
    const tape = new Tape();
    const table = tape.leaf(normalTensor([4, 2], 3));
    const idx = Int32Array.from([2, 0, 2]);
    const out = embedding(tape, table, idx);
    idx.fill(1); // the caller reuses its buffer before backward
    tape.backward(out, new Tensor(Float64Array.from([1, 2, 3, 4, 5, 6]), [3, 2]));
    expect(Array.from(table.grad!.data)).toEqual([3, 4, 0, 0, 1 + 5, 2 + 6, 0, 0]);
  });
});
