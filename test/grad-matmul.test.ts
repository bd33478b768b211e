import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gradcheck } from '../src/autograd/gradcheck.js';
import { linear, matmul } from '../src/autograd/ops/matmul.js';
import { Tape } from '../src/autograd/tape.js';
import { Tensor } from '../src/tensor/tensor.js';
import { countingBackend } from './support/counting-backend.js';
import { normalTensor } from './support/tensor-arbitraries.js';

// Gradchecks of matmul over every combination of transpose flags and batch layout, and of linear;
// plus checks that the backward is nothing but accumulating gemm calls on the original buffers.

const dim = fc.integer({ min: 1, max: 7 });
const seedArb = fc.integer({ min: 0, max: 1e6 });

describe('gradient of matmul', () => {
  // layout: 0 = both 2-D, 1 = equal batch axes, 2 = b 2-D shared across a's batch, 3 = a 2-D shared
  const caseArb = fc.record({
    m: dim,
    k: dim,
    n: dim,
    batch: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 2 }),
    layout: fc.integer({ min: 0, max: 3 }),
    transA: fc.boolean(),
    transB: fc.boolean(),
    seed: seedArb,
  });

  it('passes gradcheck for both inputs on random shapes, flags and batch layouts', () => {
    fc.assert(
      fc.property(caseArb, ({ m, k, n, batch, layout, transA, transB, seed }) => {
        const aBatch = layout === 1 || layout === 2 ? batch : [];
        const bBatch = layout === 1 || layout === 3 ? batch : [];
        const a = normalTensor([...aBatch, ...(transA ? [k, m] : [m, k])], seed);
        const b = normalTensor([...bBatch, ...(transB ? [n, k] : [k, n])], seed + 1);
        gradcheck((t, x, y) => matmul(t, x, y, { transA, transB }), [a, b], { seed });
      }),
      { numRuns: 60 },
    );
  });

  it('backward is gemm calls with accumulate on the original buffers (no materialised transpose)', () => {
    for (const [transA, transB] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ] as const) {
      const be = countingBackend();
      const tape = new Tape({ backend: be });
      const a = tape.leaf(normalTensor(transA ? [2, 4, 3] : [2, 3, 4], 1));
      const b = tape.leaf(normalTensor(transB ? [2, 5, 4] : [2, 4, 5], 2));
      const c = matmul(tape, a, b, { transA, transB });
      const forwardCalls = be.calls.length;
      expect(forwardCalls).toBe(2);
      tape.backward(c, normalTensor([2, 3, 5], 3));
      const backward = be.calls.slice(forwardCalls);
      expect(backward.length).toBe(4); // dA and dB per batch item
      for (const call of backward) {
        expect(call.accumulate).toBe(true);
        expect([a.data, b.data, c.grad!.data]).toContain(call.a);
        expect([a.data, b.data, c.grad!.data]).toContain(call.b);
        expect([a.grad!.data, b.grad!.data]).toContain(call.c);
      }
    }
  });

  it('a 2-D b shared across a batch gets the sum over the batch, in one gemm per gradient', () => {
    const be = countingBackend();
    const tape = new Tape({ backend: be });
    const a = tape.leaf(normalTensor([3, 2, 4], 1));
    const w = tape.leaf(normalTensor([4, 5], 2));
    const c = matmul(tape, a, w);
    tape.backward(c, normalTensor([3, 2, 5], 3));
    expect(be.calls.length).toBe(3); // forward, dA, dB
    // reference: Σ over batch items of per-item products, each on its own tape
    const ref = new Float64Array(20);
    for (let i = 0; i < 3; i++) {
      const t = new Tape();
      const ai = t.constant(new Tensor(a.value.data.slice(i * 8, (i + 1) * 8), [2, 4]));
      const wi = t.leaf(w.value);
      t.backward(matmul(t, ai, wi), new Tensor(c.grad!.data.slice(i * 10, (i + 1) * 10), [2, 5]));
      wi.grad!.data.forEach((g, j) => (ref[j]! += g));
    }
    Array.from(w.grad!.data).forEach((g, j) => expect(g).toBeCloseTo(ref[j]!, 12));
  });

  it('only the inputs that require a gradient get one', () => {
    const tape = new Tape();
    const a = tape.constant(normalTensor([2, 3], 1));
    const b = tape.leaf(normalTensor([3, 4], 2));
    tape.backward(matmul(tape, a, b), normalTensor([2, 4], 3));
    expect(a.grad).toBeNull();
    expect(b.grad).not.toBeNull();
  });
});

describe('gradient of linear (x·Wᵀ + b)', () => {
  it('passes gradcheck for x, weight and bias on random shapes, with and without bias', () => {
    fc.assert(
      fc.property(fc.array(dim, { minLength: 1, maxLength: 3 }), dim, dim, fc.boolean(), seedArb, (lead, inF, outF, withBias, seed) => {
        const x = normalTensor([...lead, inF], seed);
        const w = normalTensor([outF, inF], seed + 1);
        if (withBias) {
          gradcheck((t, xv, wv, bv) => linear(t, xv, wv, bv), [x, w, normalTensor([outF], seed + 2)], { seed });
        } else {
          gradcheck((t, xv, wv) => linear(t, xv, wv), [x, w], { seed });
        }
      }),
      { numRuns: 60 },
    );
  });

  it('uses the gemm bias epilogue forward and two accumulating gemms backward', () => {
    const be = countingBackend();
    const tape = new Tape({ backend: be });
    const x = tape.leaf(normalTensor([2, 3, 4], 1));
    const w = tape.leaf(normalTensor([5, 4], 2));
    const b = tape.leaf(normalTensor([5], 3));
    const y = linear(tape, x, w, b);
    expect(y.shape).toEqual([2, 3, 5]);
    expect(be.calls.length).toBe(1);
    expect(be.calls[0]!.bias).toBe(b.data);
    expect(be.calls[0]!.transB).toBe(true);
    tape.backward(y, normalTensor([2, 3, 5], 4));
    expect(be.calls.slice(1).map((c) => c.accumulate)).toEqual([true, true]);
    // dbias = column sums of the upstream
    const up = normalTensor([2, 3, 5], 4);
    const colSums = [0, 1, 2, 3, 4].map((j) => [0, 1, 2, 3, 4, 5].reduce((s, r) => s + up.data[r * 5 + j]!, 0));
    Array.from(b.grad!.data).forEach((g, j) => expect(g).toBeCloseTo(colSums[j]!, 12));
  });
});
