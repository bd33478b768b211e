import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gradcheck } from '../src/autograd/gradcheck.js';
import { mul } from '../src/autograd/ops/elementwise.js';
import { max, mean, sum } from '../src/autograd/ops/reduce.js';
import { Tape } from '../src/autograd/tape.js';
import type { Var } from '../src/autograd/var.js';
import { tensor } from '../src/tensor/tensor.js';
import { distinctTensor, seedArb, shapeArb, uniformTensor } from './support/tensor-arbitraries.js';

/** A shape, a random subset of its axes (each positive or negative), keepdims, a seed. */
const caseArb = shapeArb().chain((shape) =>
  fc.record({
    shape: fc.constant(shape),
    axes: fc.oneof(
      fc.constant(undefined),
      fc.subarray(shape.map((_, i) => i)).chain((axes) => fc.tuple(...axes.map((a) => fc.constantFrom(a, a - shape.length)))),
    ),
    keepdims: fc.boolean(),
    seed: seedArb,
  }),
);

describe('gradients of reductions', () => {
  it('sum passes gradcheck over random axes, keepdims or not', () => {
    fc.assert(
      fc.property(caseArb, ({ shape, axes, keepdims, seed }) => {
        expect(gradcheck((t, x) => sum(t, x, axes, keepdims), [uniformTensor(shape, seed)], { seed }).ok).toBe(true);
      }),
      { numRuns: 60 },
    );
  });

  it('mean passes gradcheck over random axes, keepdims or not', () => {
    fc.assert(
      fc.property(caseArb, ({ shape, axes, keepdims, seed }) => {
        expect(gradcheck((t, x) => mean(t, x, axes, keepdims), [uniformTensor(shape, seed)], { seed }).ok).toBe(true);
      }),
      { numRuns: 60 },
    );
  });

  it('max passes gradcheck where the maximum is unique (values distinct by ≫ eps)', () => {
    fc.assert(
      fc.property(caseArb, ({ shape, axes, keepdims, seed }) => {
        expect(gradcheck((t, x) => max(t, x, axes, keepdims), [distinctTensor(shape, seed)], { seed }).ok).toBe(true);
      }),
      { numRuns: 60 },
    );
  });

  it('a reduction of a product chains correctly (sum(x ⊙ y, axis) w.r.t. both)', () => {
    fc.assert(
      fc.property(shapeArb(1, 4), seedArb, (shape, seed) => {
        const f = (t: Tape, x: Var, y: Var): Var => mean(t, mul(t, x, y), -1);
        expect(gradcheck(f, [uniformTensor(shape, seed), uniformTensor(shape, seed + 1)], { seed }).ok).toBe(true);
      }),
      { numRuns: 30 },
    );
  });

  it('max sends the whole gradient to the first of tied maxima (documented choice)', () => {
    const tape = new Tape();
    const x = tape.leaf(
      tensor(
        [
          [1, 4, 4],
          [2, 2, 2],
        ],
        undefined,
        'float64',
      ),
    );
    const m = max(tape, x, 1);
    expect(m.value.toArray()).toEqual([4, 2]);
    tape.backward(m, tensor([10, 20], [2], 'float64'));
    expect(x.grad!.toArray()).toEqual([
      [0, 10, 0],
      [20, 0, 0],
    ]);
  });

  it('mean over all of a [n] vector gives every element 1/n; sum gives 1', () => {
    const tape = new Tape();
    const x = tape.leaf(tensor([3, 1, 4, 1, 5], [5], 'float64'));
    tape.backward(mean(tape, x));
    expect(x.grad!.toArray()).toEqual([0.2, 0.2, 0.2, 0.2, 0.2]);
    const t2 = new Tape();
    const y = t2.leaf(tensor([3, 1], [2], 'float32'));
    t2.backward(sum(t2, y));
    expect(y.grad!.toArray()).toEqual([1, 1]);
    expect(y.grad!.dtype).toBe('float32');
  });
});
