import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gradcheck } from '../src/autograd/gradcheck.js';
import { concat, permute, reshape, slice, split, stack, transpose } from '../src/autograd/ops/shape.js';
import { Tape } from '../src/autograd/tape.js';
import type { Var } from '../src/autograd/var.js';
import { Tensor } from '../src/tensor/tensor.js';
import { normalTensor, shuffledIndices } from './support/tensor-arbitraries.js';

// Every differentiable shape op is gradchecked (float64 central differences, 1e-6) on random shapes
// with dims 1..7 including size-1 axes. Each op's output is projected by gradcheck's random upstream,
// so a backward that adds into the wrong range or the wrong permutation is caught.

const dims = (minRank: number, maxRank: number) => fc.array(fc.integer({ min: 1, max: 7 }), { minLength: minRank, maxLength: maxRank });
const seedArb = fc.integer({ min: 0, max: 1e6 });
const runs = { numRuns: 40 };

describe('gradients of shape ops', () => {
  it('reshape', () => {
    fc.assert(
      fc.property(dims(1, 3), seedArb, (shape, seed) => {
        const x = normalTensor(shape, seed);
        const target = [...shape].reverse(); // same size, another shape
        gradcheck((t, v) => reshape(t, v, target), [x], { seed });
      }),
      runs,
    );
  });

  it('permute (random permutations) and transpose (random axis pairs)', () => {
    fc.assert(
      fc.property(dims(1, 4), seedArb, fc.nat(), fc.nat(), (shape, seed, r0, r1) => {
        const x = normalTensor(shape, seed);
        const axes = shuffledIndices(shape.length, seed);
        gradcheck((t, v) => permute(t, v, axes), [x], { seed });
        if (shape.length >= 2) {
          const a0 = r0 % shape.length;
          const a1 = r1 % shape.length;
          gradcheck((t, v) => transpose(t, v, a0, a1), [x], { seed: seed + 1 });
        }
      }),
      runs,
    );
  });

  it('slice', () => {
    fc.assert(
      fc.property(dims(1, 3), seedArb, fc.nat(), fc.nat(), fc.nat(), (shape, seed, ra, rs, re) => {
        const x = normalTensor(shape, seed);
        const axis = ra % shape.length;
        const d = shape[axis]!;
        const start = rs % d;
        const end = start + 1 + (re % (d - start));
        gradcheck((t, v) => slice(t, v, axis, start, end), [x], { seed });
      }),
      runs,
    );
  });

  it('concat of 1..3 inputs along a random axis', () => {
    fc.assert(
      fc.property(
        dims(1, 3),
        seedArb,
        fc.nat(),
        fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 3 }),
        (shape, seed, ra, lens) => {
          const axis = ra % shape.length;
          const parts = lens.map((len, p) => {
            const s = shape.slice();
            s[axis] = len;
            return normalTensor(s, seed + p);
          });
          gradcheck((t, ...vs) => concat(t, vs, axis), parts, { seed });
        },
      ),
      runs,
    );
  });

  it('split: every part (combined by concat in reverse order) and a single part alone', () => {
    fc.assert(
      fc.property(
        dims(1, 3),
        seedArb,
        fc.nat(),
        fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 3 }),
        (shape, seed, ra, lens) => {
          const axis = ra % shape.length;
          const s = shape.slice();
          s[axis] = lens.reduce((a, b) => a + b, 0);
          const x = normalTensor(s, seed);
          // (reversing the returned array must not confuse the backward about which part is which)
          gradcheck((t, v) => concat(t, split(t, v, lens, axis).reverse(), axis), [x], { seed });
          // only the last part is used: the other parts get no gradient and contribute zero
          gradcheck((t, v) => split(t, v, lens, axis)[lens.length - 1]!, [x], { seed: seed + 1 });
        },
      ),
      runs,
    );
  });

  it('stack of 1..3 inputs at a random position (including after the last axis)', () => {
    fc.assert(
      fc.property(dims(0, 3), seedArb, fc.nat(), fc.integer({ min: 1, max: 3 }), (shape, seed, ra, count) => {
        const axis = ra % (shape.length + 1);
        const list = Array.from({ length: count }, (_, i) => normalTensor(shape, seed + i));
        gradcheck((t, ...vs) => stack(t, vs, axis), list, { seed });
      }),
      runs,
    );
  });

  it('a composition that uses one input in several places sums the contributions', () => {
    const x = normalTensor([3, 4], 9);
    // columns 1 and 2 feed both halves: [3,3] transposed, and [3,3] as is
    const f = (t: Tape, v: Var): Var => concat(t, [transpose(t, slice(t, v, 1, 0, 3)), slice(t, v, 1, 1, 4)], 0);
    const report = gradcheck(f, [x]);
    expect(report.ok).toBe(true);
    expect(report.checked).toBe(12);
  });

  it('backward accumulates into an existing gradient instead of overwriting it', () => {
    const tape = new Tape();
    const x = tape.leaf(normalTensor([2, 3], 1));
    x.grad = new Tensor(new Float64Array(6).fill(10), [2, 3]);
    const y = transpose(tape, x);
    tape.backward(y, new Tensor(Float64Array.from([1, 2, 3, 4, 5, 6]), [3, 2]));
    // the upstream [3,2] transposed back to [2,3] is [[1,3,5],[2,4,6]]
    expect(Array.from(x.grad.data)).toEqual([11, 13, 15, 12, 14, 16]);
  });

  it('records nothing for inputs that need no gradient, or under noGrad', () => {
    const tape = new Tape();
    const c = tape.constant(normalTensor([2, 3], 1));
    permute(tape, c, [1, 0]);
    const x = tape.leaf(normalTensor([2, 3], 2));
    tape.noGrad(() => concat(tape, [x, x], 0));
    expect(tape.length).toBe(0);
  });
});
