import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { broadcastBinaryStrided, broadcastLayout } from '../src/tensor/ops/broadcast.js';
import {
  absTensor,
  addRow,
  addScalarTensor,
  addTensor,
  divRow,
  divTensor,
  expTensor,
  logTensor,
  maximumRow,
  maximumTensor,
  minimumTensor,
  mulRow,
  mulTensor,
  negTensor,
  powTensor,
  reluTensor,
  scaleTensor,
  sigmoidTensor,
  sqrtTensor,
  squareTensor,
  subTensor,
  tanhTensor,
} from '../src/tensor/ops/elementwise.js';
import { tensor, type Tensor } from '../src/tensor/tensor.js';
import { allIndices, broadcastGet, broadcastPairArb, seedArb, shapeArb, uniformTensor } from './support/tensor-arbitraries.js';

const dtypeArb = fc.constantFrom('float32' as const, 'float64' as const);

/** Round a double the way storing it in `t`'s dtype does. */
const storeAs = (t: Tensor, v: number): number => (t.dtype === 'float32' ? Math.fround(v) : v);

// Reference definitions straight from the maths, evaluated per element in double precision.
const unaryCases: [string, (x: Tensor) => Tensor, (v: number) => number, number, number][] = [
  ['neg', negTensor, (v) => -v, -3, 3],
  ['exp', expTensor, (v) => Math.exp(v), -3, 3],
  ['log', logTensor, (v) => Math.log(v), 0.01, 5],
  ['tanh', tanhTensor, (v) => Math.tanh(v), -4, 4],
  ['sigmoid', sigmoidTensor, (v) => 1 / (1 + Math.exp(-v)), -10, 10],
  ['relu', reluTensor, (v) => (v > 0 ? v : 0), -3, 3],
  ['sqrt', sqrtTensor, (v) => Math.sqrt(v), 0, 5],
  ['abs', absTensor, (v) => (v < 0 ? -v : v), -3, 3],
  ['square', squareTensor, (v) => v * v, -3, 3],
  ['pow 2.5', (x) => powTensor(x, 2.5), (v) => Math.pow(v, 2.5), 0, 3],
  ['pow -1', (x) => powTensor(x, -1), (v) => 1 / v, 0.1, 3],
  ['pow 2', (x) => powTensor(x, 2), (v) => v * v, -3, 3],
  ['scale', (x) => scaleTensor(x, -1.75), (v) => -1.75 * v, -3, 3],
  ['addScalar', (x) => addScalarTensor(x, 0.3), (v) => v + 0.3, -3, 3],
];

describe('unary element-wise kernels', () => {
  for (const [name, op, ref, lo, hi] of unaryCases) {
    it(`${name} matches its definition element by element`, () => {
      fc.assert(
        fc.property(shapeArb(), seedArb, dtypeArb, (shape, seed, dtype) => {
          const x = uniformTensor(shape, seed, lo, hi, dtype);
          const before = x.data.slice();
          const y = op(x);
          expect(y.shape).toEqual(x.shape);
          expect(y.dtype).toBe(dtype);
          expect(x.data).toEqual(before); // never in place on a Tensor
          for (let i = 0; i < x.size; i++) {
            const want = storeAs(x, ref(x.data[i]!));
            // a few ulps: the kernel may use a different but equivalent formula (sigmoid for x < 0)
            const tol = (dtype === 'float32' ? 2 ** -22 : 2 ** -50) * Math.max(1, Math.abs(want));
            expect(Math.abs(y.data[i]! - want)).toBeLessThanOrEqual(tol);
          }
        }),
        { numRuns: 40 },
      );
    });
  }

  it('sigmoid is finite, in [0,1] and satisfies σ(x) + σ(−x) = 1 even for huge |x|', () => {
    const xs = [-1e4, -800, -50, -1e-8, 0, 1e-8, 50, 800, 1e4];
    const x = tensor(xs, [xs.length], 'float64');
    const y = sigmoidTensor(x);
    const yn = sigmoidTensor(negTensor(x));
    for (let i = 0; i < xs.length; i++) {
      expect(Number.isFinite(y.data[i]!)).toBe(true);
      expect(y.data[i]! + yn.data[i]!).toBeCloseTo(1, 15);
    }
    expect(y.data[0]).toBe(0);
    expect(y.data[xs.length - 1]).toBe(1);
    expect(y.data[4]).toBe(0.5);
    // in the tail, σ(x) ≈ e^x to relative precision (no cancellation from 1 − …)
    expect(y.data[2]! / Math.exp(-50)).toBeCloseTo(1, 12);
  });

  it('lets NaN and IEEE special values through instead of hiding them', () => {
    const x = tensor([NaN, -1, 0], [3], 'float64');
    expect(reluTensor(x).data[0]).toBeNaN();
    expect(logTensor(x).data[1]).toBeNaN();
    expect(logTensor(x).data[2]).toBe(-Infinity);
    expect(sqrtTensor(x).data[1]).toBeNaN();
    expect(divTensor(tensor([1, -1, 0], [3], 'float64'), tensor([0], [1], 'float64')).toArray()).toEqual([Infinity, -Infinity, NaN]);
    expect(maximumTensor(x, tensor([5], [1], 'float64')).toArray()).toEqual([NaN, 5, 5]);
    expect(minimumTensor(tensor([5], [1], 'float64'), x).toArray()).toEqual([NaN, -1, 0]);
  });
});

// ------------------------------------------------------------------ binary ops

const binaryCases: [string, (a: Tensor, b: Tensor) => Tensor, (x: number, y: number) => number][] = [
  ['add', addTensor, (x, y) => x + y],
  ['sub', subTensor, (x, y) => x - y],
  ['mul', mulTensor, (x, y) => x * y],
  ['div', divTensor, (x, y) => x / y],
  ['maximum', maximumTensor, (x, y) => Math.max(x, y)],
  ['minimum', minimumTensor, (x, y) => Math.min(x, y)],
  ['pow', powTensor, (x, y) => Math.pow(x, y)],
];

describe('binary element-wise kernels with broadcasting', () => {
  for (const [name, op, ref] of binaryCases) {
    it(`${name} matches a per-index reference on random broadcast pairs`, () => {
      fc.assert(
        fc.property(broadcastPairArb, seedArb, dtypeArb, dtypeArb, ({ a: as, b: bs }, seed, da, db) => {
          const a = uniformTensor(as, seed, 0.5, 2, da); // positive: pow stays real
          const b = uniformTensor(bs, seed + 1, -2, 2, db);
          const y = op(a, b);
          const outRank = Math.max(as.length, bs.length);
          const outShape = Array.from({ length: outRank }, (_, i) => {
            const ai = as.length - outRank + i;
            const bi = bs.length - outRank + i;
            return Math.max(ai >= 0 ? as[ai]! : 1, bi >= 0 ? bs[bi]! : 1);
          });
          expect(y.shape).toEqual(outShape);
          expect(y.dtype).toBe(da === 'float64' || db === 'float64' ? 'float64' : 'float32');
          for (const idx of allIndices(outShape)) {
            expect(y.get(...idx)).toBe(storeAs(y, ref(broadcastGet(a, idx), broadcastGet(b, idx))));
          }
        }),
        { numRuns: 60 },
      );
    });
  }

  it('the strided path agrees with the fast paths on equal shapes and scalar operands', () => {
    fc.assert(
      fc.property(shapeArb(), seedArb, (shape, seed) => {
        const a = uniformTensor(shape, seed);
        const b = uniformTensor(shape, seed + 7);
        const s = uniformTensor([], seed + 9);
        for (const [row, fast] of [
          [addRow, addTensor],
          [mulRow, mulTensor],
          [divRow, divTensor],
          [maximumRow, maximumTensor],
        ] as const) {
          for (const [x, y] of [
            [a, b],
            [a, s],
            [s, b],
          ] as const) {
            const viaStrides = new Float64Array(a.size);
            broadcastBinaryStrided(row, x.data, x.shape, y.data, y.shape, viaStrides, shape);
            expect(viaStrides).toEqual(fast(x, y).data);
          }
        }
      }),
      { numRuns: 40 },
    );
  });

  it('coalesces dims so that the innermost row is as long as the layout allows', () => {
    // [2,3,4] + [4]: a is linear over everything, b repeats every 4 → [6,4]
    expect(broadcastLayout([2, 3, 4], [4], [2, 3, 4])).toEqual({ dims: [6, 4], aStrides: [4, 1], bStrides: [0, 1] });
    // [2,1,4] * [3,1]: no two neighbours merge; size-1 output dims never appear
    expect(broadcastLayout([2, 1, 4], [3, 1], [2, 3, 4])).toEqual({ dims: [2, 3, 4], aStrides: [4, 0, 1], bStrides: [0, 1, 0] });
    expect(broadcastLayout([1, 5], [1, 1], [1, 5])).toEqual({ dims: [5], aStrides: [1], bStrides: [0] });
  });

  it('handles empty tensors', () => {
    const a = uniformTensor([0, 3], 1);
    expect(addTensor(a, uniformTensor([3], 2)).shape).toEqual([0, 3]);
    expect(mulTensor(uniformTensor([2, 1], 1), uniformTensor([0], 2)).shape).toEqual([2, 0]);
  });

  it('rejects shapes that do not broadcast, naming the op and both shapes', () => {
    const a = uniformTensor([2, 3], 1);
    const b = uniformTensor([4], 2);
    expect(() => addTensor(a, b)).toThrow('add: shapes [2,3] and [4] cannot be broadcast');
    expect(() => subTensor(a, b)).toThrow('sub: shapes [2,3] and [4] cannot be broadcast');
    expect(() => mulTensor(b, a)).toThrow('mul: shapes [4] and [2,3] cannot be broadcast');
    expect(() => divTensor(a, uniformTensor([3, 3], 3))).toThrow('div: shapes [2,3] and [3,3] cannot be broadcast');
    expect(() => maximumTensor(a, b)).toThrow('maximum: shapes');
    expect(() => powTensor(a, b)).toThrow('pow: shapes [2,3] and [4] cannot be broadcast');
  });
});
