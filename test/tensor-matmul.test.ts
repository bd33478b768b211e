import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DType } from '../src/tensor/dtype.js';
import { defaultBackend } from '../src/tensor/kernels/index.js';
import { linear, matmul } from '../src/tensor/ops/matmul.js';
import { Tensor, tensor, zeros } from '../src/tensor/tensor.js';
import { countingBackend } from './support/counting-backend.js';
import { normalTensor } from './support/tensor-arbitraries.js';

// Reference: the triple loop over explicitly indexed elements, reading op(A)[i,q] as A[q,i] when
// transposed, per batch item, written independently of gemm.

function naiveMatmul(a: Tensor, b: Tensor, transA: boolean, transB: boolean): { shape: number[]; data: number[] } {
  const ra = a.rank;
  const rb = b.rank;
  const m = transA ? a.shape[ra - 1]! : a.shape[ra - 2]!;
  const k = transA ? a.shape[ra - 2]! : a.shape[ra - 1]!;
  const n = transB ? b.shape[rb - 2]! : b.shape[rb - 1]!;
  const batchShape = ra > 2 ? a.shape.slice(0, -2) : b.shape.slice(0, -2);
  const batch = batchShape.reduce((p, d) => p * d, 1);
  const data: number[] = [];
  for (let s = 0; s < batch; s++) {
    const aBase = ra > 2 ? s * m * k : 0;
    const bBase = rb > 2 ? s * k * n : 0;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let acc = 0;
        for (let q = 0; q < k; q++) {
          const av = a.data[aBase + (transA ? q * m + i : i * k + q)]!;
          const bv = b.data[bBase + (transB ? j * k + q : q * n + j)]!;
          acc += av * bv;
        }
        data.push(acc);
      }
    }
  }
  return { shape: [...batchShape, m, n], data };
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (!(Math.abs(actual[i]! - expected[i]!) <= tol * Math.max(1, Math.abs(expected[i]!)))) {
      throw new Error(`element ${i}: ${actual[i]} vs ${expected[i]}`);
    }
  }
}

const dim = fc.integer({ min: 1, max: 7 });
const flags = fc.record({ transA: fc.boolean(), transB: fc.boolean() });
// batch layout: 0 = both 2-D, 1 = equal batch axes, 2 = b 2-D shared, 3 = a 2-D shared
const caseArb = fc.record({
  m: dim,
  k: dim,
  n: dim,
  batch: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 2 }),
  layout: fc.integer({ min: 0, max: 3 }),
  flags,
  seed: fc.integer({ min: 0, max: 1e6 }),
});

function operands(
  c: { m: number; k: number; n: number; batch: number[]; layout: number; flags: { transA: boolean; transB: boolean }; seed: number },
  dtype: DType = 'float64',
) {
  const aMat = c.flags.transA ? [c.k, c.m] : [c.m, c.k];
  const bMat = c.flags.transB ? [c.n, c.k] : [c.k, c.n];
  const aBatch = c.layout === 1 || c.layout === 2 ? c.batch : [];
  const bBatch = c.layout === 1 || c.layout === 3 ? c.batch : [];
  return { a: normalTensor([...aBatch, ...aMat], c.seed, 1, dtype), b: normalTensor([...bBatch, ...bMat], c.seed + 1, 1, dtype) };
}

describe('matmul', () => {
  it('matches the triple-loop reference on random shapes, flags and batch layouts', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const { a, b } = operands(c);
        const out = matmul(a, b, c.flags);
        const ref = naiveMatmul(a, b, c.flags.transA, c.flags.transB);
        expect(out.shape).toEqual(ref.shape);
        expect(out.dtype).toBe('float64');
        expectClose(out.data, ref.data, 1e-12);
      }),
      { numRuns: 200 },
    );
  });

  it('in float32 stays within float32 rounding of the float64 reference, on the default backend', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const { a, b } = operands(c, 'float32');
        const out = matmul(a, b, c.flags, defaultBackend);
        expect(out.dtype).toBe('float32');
        expectClose(out.data, naiveMatmul(a, b, c.flags.transA, c.flags.transB).data, 1e-5);
      }),
    );
  });

  it('calls gemm once for a shared 2-D b without transA, once per batch item otherwise, on the original buffers', () => {
    const a = normalTensor([3, 2, 4, 5], 1);
    const b = normalTensor([5, 6], 2);
    const be = countingBackend();
    matmul(a, b, {}, be);
    expect(be.calls.length).toBe(1);
    expect(be.calls[0]!.m).toBe(24);
    expect(be.calls[0]!.a).toBe(a.data); // no copy, no materialised transpose
    expect(be.calls[0]!.b).toBe(b.data);
    const at = normalTensor([3, 2, 5, 4], 3);
    be.calls.length = 0;
    matmul(at, b, { transA: true }, be);
    expect(be.calls.length).toBe(6);
    expect(be.calls.every((call) => call.a === at.data && call.transA === true)).toBe(true);
    expect(be.calls.map((call) => call.aOffset)).toEqual([0, 20, 40, 60, 80, 100]);
  });

  it('mixing float32 and float64 computes in float64', () => {
    const a = normalTensor([2, 3], 4, 1, 'float32');
    const b = normalTensor([3, 2], 5, 1, 'float64');
    const out = matmul(a, b);
    expect(out.dtype).toBe('float64');
    expectClose(out.data, naiveMatmul(a, b, false, false).data, 1e-12);
  });

  it('errors print the shapes and flags', () => {
    expect(() => matmul(zeros([2, 3]), zeros([4, 5]))).toThrow('matmul: shapes [2,3] and [4,5] are incompatible (inner dims 3 ≠ 4)');
    expect(() => matmul(zeros([2, 3]), zeros([4, 5]), { transA: true, transB: true })).toThrow(
      'matmul: shapes [2,3] (transA) and [4,5] (transB) are incompatible (inner dims 2 ≠ 5)',
    );
    expect(() => matmul(zeros([2, 2, 3]), zeros([3, 3, 4]))).toThrow(
      'matmul: shapes [2,2,3] and [3,3,4] have different batch axes [2] and [3] (they must be equal, or one operand 2-D)',
    );
    expect(() => matmul(zeros([3]), zeros([3, 4]))).toThrow(/matmul: shapes \[3\] and \[3,4\] — both operands need rank ≥ 2/);
  });
});

describe('linear (x·Wᵀ + b)', () => {
  it('matches the reference x·Wᵀ + b on random shapes, with and without bias', () => {
    fc.assert(
      fc.property(
        fc.array(dim, { minLength: 1, maxLength: 3 }),
        dim,
        dim,
        fc.boolean(),
        fc.integer({ min: 0, max: 1e6 }),
        (lead, inF, outF, withBias, seed) => {
          const x = normalTensor([...lead, inF], seed);
          const w = normalTensor([outF, inF], seed + 1);
          const bias = withBias ? normalTensor([outF], seed + 2) : undefined;
          const out = linear(x, w, bias);
          expect(out.shape).toEqual([...lead, outF]);
          const ref = naiveMatmul(x.reshape([-1, inF]), w, false, true).data.map((v, i) => v + (bias ? bias.data[i % outF]! : 0));
          expectClose(out.data, ref, 1e-12);
        },
      ),
    );
  });

  it('names the shapes when they disagree', () => {
    expect(() => linear(zeros([2, 3]), zeros([4, 5]))).toThrow(
      'linear: input of shape [2,3] and weight of shape [4,5] are incompatible (in features 3 ≠ 5)',
    );
    expect(() => linear(zeros([2, 3]), zeros([4, 3]), zeros([3]))).toThrow(
      'linear: bias of shape [3] does not match weight of shape [4,3] (expected [4])',
    );
    expect(() => linear(zeros([2, 3]), tensor([1, 2, 3]))).toThrow('linear: weight must be 2-D [out, in], got shape [3]');
  });
});
