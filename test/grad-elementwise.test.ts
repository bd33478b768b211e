import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gradcheck } from '../src/autograd/gradcheck.js';
import {
  abs,
  add,
  addScalar,
  div,
  exp,
  log,
  maximum,
  minimum,
  mul,
  neg,
  pow,
  relu,
  scale,
  sigmoid,
  sqrt,
  square,
  sub,
  tanh,
} from '../src/autograd/ops/elementwise.js';
import { Tape } from '../src/autograd/tape.js';
import type { Var } from '../src/autograd/var.js';
import { Rng } from '../src/tensor/rng.js';
import { tensor, zeros, type Tensor } from '../src/tensor/tensor.js';
import { awayFromZeroTensor, broadcastPairArb, seedArb, shapeArb, uniformTensor } from './support/tensor-arbitraries.js';

// Every op is gradchecked (central differences, float64, atol = rtol = 1e-6) on random shapes of
// rank 0..4 with dims 1..7; inputs stay inside the op's smooth domain so no probe crosses a kink.

const RUNS = { numRuns: 50 };

type Unary = (tape: Tape, x: Var) => Var;
const unaryCases: [string, Unary, (shape: number[], seed: number) => Tensor][] = [
  ['neg', neg, (s, seed) => uniformTensor(s, seed)],
  ['exp', exp, (s, seed) => uniformTensor(s, seed)],
  ['log', log, (s, seed) => uniformTensor(s, seed, 0.5, 2)],
  ['tanh', tanh, (s, seed) => uniformTensor(s, seed)],
  ['sigmoid', sigmoid, (s, seed) => uniformTensor(s, seed, -4, 4)],
  ['relu', relu, (s, seed) => awayFromZeroTensor(s, seed)],
  ['sqrt', sqrt, (s, seed) => uniformTensor(s, seed, 0.5, 2)],
  ['abs', abs, (s, seed) => awayFromZeroTensor(s, seed)],
  ['square', square, (s, seed) => uniformTensor(s, seed)],
  ['scale', (t, x) => scale(t, x, -1.7), (s, seed) => uniformTensor(s, seed)],
  ['addScalar', (t, x) => addScalar(t, x, 0.4), (s, seed) => uniformTensor(s, seed)],
];

describe('gradients of unary ops', () => {
  for (const [name, op, make] of unaryCases) {
    it(`${name} passes gradcheck on random shapes`, () => {
      fc.assert(
        fc.property(shapeArb(), seedArb, (shape, seed) => {
          expect(gradcheck(op, [make(shape, seed)], { seed }).ok).toBe(true);
        }),
        RUNS,
      );
    });
  }

  it('pow with a constant exponent passes gradcheck (including p = 0 and negative p)', () => {
    fc.assert(
      fc.property(shapeArb(), seedArb, fc.constantFrom(-1.5, -1, 0, 0.5, 1, 2, 2.5, 3), (shape, seed, p) => {
        const report = gradcheck((t, x) => pow(t, x, p), [uniformTensor(shape, seed, 0.5, 2)], { seed });
        expect(report.ok).toBe(true);
      }),
      RUNS,
    );
  });

  it('documented choices at the kinks: relu′(0) = abs′(0) = 0, pow′ with p = 0 is 0 even at x = 0', () => {
    const tape = new Tape();
    const x = tape.leaf(tensor([0, 0, 0], [3], 'float64'));
    const y = add(tape, add(tape, relu(tape, x), abs(tape, x)), pow(tape, x, 0));
    tape.backward(y, tensor([1, 1, 1], [3], 'float64'));
    expect(x.grad!.toArray()).toEqual([0, 0, 0]);
  });
});

// ------------------------------------------------------------------ binary ops

type Binary = (tape: Tape, a: Var, b: Var) => Var;

/** Values k + ¼ and m + ¾ for integers k, m: a and b never tie, and differ by ≥ ½ ≫ eps. */
function offGrid(shape: readonly number[], seed: number, offset: number): Tensor {
  const rng = new Rng(seed);
  const t = zeros(shape, 'float64');
  for (let i = 0; i < t.size; i++) t.data[i] = rng.int(7) - 3 + offset;
  return t;
}

const binaryCases: [string, Binary, (s: number[], seed: number) => Tensor, (s: number[], seed: number) => Tensor][] = [
  ['add', add, (s, seed) => uniformTensor(s, seed), (s, seed) => uniformTensor(s, seed)],
  ['sub', sub, (s, seed) => uniformTensor(s, seed), (s, seed) => uniformTensor(s, seed)],
  ['mul', mul, (s, seed) => uniformTensor(s, seed), (s, seed) => uniformTensor(s, seed)],
  ['div', div, (s, seed) => uniformTensor(s, seed), (s, seed) => awayFromZeroTensor(s, seed, 0.5, 2)],
  ['maximum', maximum, (s, seed) => offGrid(s, seed, 0.25), (s, seed) => offGrid(s, seed, 0.75)],
  ['minimum', minimum, (s, seed) => offGrid(s, seed, 0.25), (s, seed) => offGrid(s, seed, 0.75)],
  ['pow (Var exponent)', pow, (s, seed) => uniformTensor(s, seed, 0.5, 2), (s, seed) => uniformTensor(s, seed, -2, 2)],
];

describe('gradients of binary ops with broadcasting', () => {
  for (const [name, op, makeA, makeB] of binaryCases) {
    it(`${name} passes gradcheck on random broadcast pairs (size-1 axes, rank differences)`, () => {
      fc.assert(
        fc.property(broadcastPairArb, seedArb, ({ a, b }, seed) => {
          const report = gradcheck(op, [makeA(a, seed), makeB(b, seed + 1)], { seed });
          expect(report.ok).toBe(true);
        }),
        RUNS,
      );
    });
  }

  it('the same Var on both sides receives both contributions (x·x, x/x, x − x)', () => {
    fc.assert(
      fc.property(shapeArb(), seedArb, (shape, seed) => {
        const x = awayFromZeroTensor(shape, seed, 0.5, 2);
        for (const op of [mul, div, sub, add, maximum]) {
          expect(gradcheck((t, v) => op(t, v, v), [x], { seed }).ok).toBe(true);
        }
      }),
      { numRuns: 15 },
    );
  });

  it('maximum and minimum split the gradient equally on a tie', () => {
    const tape = new Tape();
    const a = tape.leaf(tensor([1, 2, 3], [3], 'float64'));
    const b = tape.leaf(tensor([1, 5, 0], [3], 'float64'));
    tape.backward(add(tape, maximum(tape, a, b), minimum(tape, a, b)), tensor([2, 2, 2], [3], 'float64'));
    // max + min = a + b everywhere, so each operand's total gradient is the upstream 2
    expect(a.grad!.toArray()).toEqual([2, 2, 2]);
    expect(b.grad!.toArray()).toEqual([2, 2, 2]);
    const t2 = new Tape();
    const c = t2.leaf(tensor([1], [1], 'float64'));
    const d = t2.leaf(tensor([1], [1], 'float64'));
    t2.backward(maximum(t2, c, d), tensor([1], [1], 'float64'));
    expect([c.grad!.item(), d.grad!.item()]).toEqual([0.5, 0.5]);
  });

  it('a float32 operand mixed with a float64 one gets a float32 gradient of its own shape', () => {
    const tape = new Tape();
    const a = tape.leaf(tensor([[1, 2, 3]], undefined, 'float32'));
    const b = tape.leaf(tensor([[1], [2]], undefined, 'float64'));
    const y = mul(tape, a, b);
    expect(y.value.dtype).toBe('float64');
    tape.backward(
      y,
      tensor(
        [
          [1, 1, 1],
          [1, 1, 1],
        ],
        undefined,
        'float64',
      ),
    );
    expect(a.grad!.dtype).toBe('float32');
    expect(a.grad!.toArray()).toEqual([[3, 3, 3]]); // Σ over the broadcast rows of b
    expect(b.grad!.toArray()).toEqual([[6], [6]]); // Σ over the broadcast columns of a
  });
});
