import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gradcheck } from '../src/autograd/gradcheck.js';
import { logSoftmax, softmax, softmaxCrossEntropy } from '../src/autograd/ops/softmax.js';
import { Tape } from '../src/autograd/tape.js';
import { Rng } from '../src/tensor/rng.js';
import { tensor } from '../src/tensor/tensor.js';
import { normalTensor } from './support/tensor-arbitraries.js';

// Gradchecks of the softmax family on random shapes, and the gradients at extreme logits checked
// against the closed form (softmax − onehot)/N, whose softmax at [1e4, −1e4, 0] is exactly [1, 0, 0].

function randomTargets(n: number, v: number, seed: number): Int32Array {
  const rng = new Rng(seed + 99);
  return Int32Array.from({ length: n }, () => rng.int(v));
}

const shapeArb = fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 3 });
const seedArb = fc.integer({ min: 0, max: 1e6 });
const runs = { numRuns: 40 };

describe('gradients of softmax / logSoftmax', () => {
  it('softmax passes gradcheck on random shapes', () => {
    fc.assert(
      fc.property(shapeArb, seedArb, (shape, seed) => void gradcheck((t, x) => softmax(t, x), [normalTensor(shape, seed, 2)], { seed })),
      runs,
    );
  });

  it('logSoftmax passes gradcheck on random shapes', () => {
    fc.assert(
      fc.property(shapeArb, seedArb, (shape, seed) => void gradcheck((t, x) => logSoftmax(t, x), [normalTensor(shape, seed, 2)], { seed })),
      runs,
    );
  });

  it('gradients stay finite at ±1e4 and equal the closed forms', () => {
    for (const dtype of ['float64', 'float32'] as const) {
      const tape = new Tape();
      const x = tape.leaf(tensor([[1e4, -1e4, 0]], undefined, dtype));
      const up = tensor([[0.5, 2, -1]], undefined, dtype);
      tape.backward(softmax(tape, x), up);
      // y = [1,0,0]: dx = y ⊙ (g − g·y) = [1·(0.5 − 0.5), 0, 0]
      expect(Array.from(x.grad!.data)).toEqual([0, 0, 0]);
      const tape2 = new Tape();
      const x2 = tape2.leaf(tensor([[1e4, -1e4, 0]], undefined, dtype));
      tape2.backward(logSoftmax(tape2, x2), up);
      // dx = g − softmax·Σg = [0.5 − 1.5, 2, −1]
      expect(Array.from(x2.grad!.data)).toEqual([-1, 2, -1]);
    }
  });
});

describe('gradient of the fused softmaxCrossEntropy', () => {
  const caseArb = fc.tuple(shapeArb, fc.constantFrom<'mean' | 'sum' | 'none'>('mean', 'sum', 'none'), seedArb);

  it('passes gradcheck for every reduction on logits [..., V]', () => {
    fc.assert(
      fc.property(caseArb, ([shape, reduction, seed]) => {
        const v = shape[shape.length - 1]!;
        const rows = shape.reduce((a, b) => a * b, 1) / v;
        const targets = randomTargets(rows, v, seed);
        gradcheck((t, x) => softmaxCrossEntropy(t, x, targets, { reduction }), [normalTensor(shape, seed, 2)], { seed });
      }),
      runs,
    );
  });

  it('passes gradcheck with ignoreIndex (about half the rows ignored)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 7 }), seedArb, (n, v, seed) => {
        const rng = new Rng(seed);
        const targets = Int32Array.from({ length: n }, () => (rng.next() < 0.5 ? -100 : rng.int(v)));
        gradcheck((t, x) => softmaxCrossEntropy(t, x, targets, { ignoreIndex: -100 }), [normalTensor([n, v], seed)], { seed });
      }),
      runs,
    );
  });

  it('at logits [1e4, −1e4, 0] the loss is 0 / 2e4 and the gradient is (onehot(argmax) − onehot(target))/N, finite', () => {
    for (const dtype of ['float64', 'float32'] as const) {
      const tape = new Tape();
      const x = tape.leaf(
        tensor(
          [
            [1e4, -1e4, 0],
            [1e4, -1e4, 0],
          ],
          undefined,
          dtype,
        ),
      );
      const loss = softmaxCrossEntropy(tape, x, Int32Array.from([0, 1]));
      expect(loss.value.item()).toBe(1e4); // (0 + 2e4) / 2
      loss.backward();
      expect(Array.from(x.grad!.data)).toEqual([0, 0, 0, 0.5, -0.5, 0]);
      expect(Array.from(x.grad!.data).every(Number.isFinite)).toBe(true);
    }
  });

  it('a scalar upstream scales the gradient (mean divides by N, sum does not)', () => {
    const logits = normalTensor([3, 4], 5);
    const targets = Int32Array.from([1, 0, 3]);
    const grads = (reduction: 'mean' | 'sum', scale: number): number[] => {
      const tape = new Tape();
      const x = tape.leaf(logits);
      tape.backward(softmaxCrossEntropy(tape, x, targets, { reduction }), tensor([scale], [], 'float64'));
      return Array.from(x.grad!.data);
    };
    const mean = grads('mean', 2);
    const sum = grads('sum', 1);
    mean.forEach((g, i) => expect(g).toBeCloseTo((2 * sum[i]!) / 3, 14));
  });
});
