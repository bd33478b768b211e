import { describe, expect, it } from 'vitest';
import { add, exp, mul, tanh } from '../src/autograd/ops/elementwise.js';
import { sum } from '../src/autograd/ops/reduce.js';
import { Tape } from '../src/autograd/tape.js';
import { accumulateGrad, Var } from '../src/autograd/var.js';
import { tensor, zeros, type Tensor } from '../src/tensor/tensor.js';

const f64 = (values: number[]): Tensor => tensor(values, [values.length], 'float64');
const xs = [-1.5, 0.25, 2];

describe('Tape', () => {
  it('a Var used twice receives both contributions: d/dx Σ(x·x + x) = 2x + 1', () => {
    const tape = new Tape();
    const x = tape.leaf(f64(xs));
    tape.backward(sum(tape, add(tape, mul(tape, x, x), x)));
    expect(Array.from(x.grad!.data)).toEqual(xs.map((v) => 2 * v + 1));
  });

  it('a diamond graph sums the paths: d/dx Σ(a + a·a) with a = eˣ is a(1 + 2a)', () => {
    const tape = new Tape();
    const x = tape.leaf(f64(xs));
    const a = exp(tape, x);
    tape.backward(sum(tape, add(tape, a, mul(tape, a, a))));
    xs.forEach((v, i) => {
      const e = Math.exp(v);
      expect(x.grad!.data[i]).toBeCloseTo(e * (1 + 2 * e), 12);
    });
  });

  it('backward with an explicit upstream u gives the gradient of Σ y ⊙ u', () => {
    const tape = new Tape();
    const x = tape.leaf(f64(xs));
    const y = add(tape, mul(tape, x, x), x); // non-scalar root
    const u = [0.5, -2, 3];
    tape.backward(y, f64(u));
    expect(Array.from(x.grad!.data)).toEqual(xs.map((v, i) => (2 * v + 1) * u[i]!));
  });

  it('backward from a non-scalar root without an upstream is an error, as is a mis-shaped upstream', () => {
    const tape = new Tape();
    const x = tape.leaf(f64(xs));
    const y = mul(tape, x, x);
    expect(() => tape.backward(y)).toThrow('backward: root of shape [3] is not a scalar; pass an upstream gradient of that shape');
    expect(() => y.backward(f64([1, 2]))).toThrow('backward: upstream gradient of shape [2] does not match root of shape [3]');
  });

  it('backward from a leaf or an unrecorded Var is an error naming it', () => {
    const tape = new Tape();
    const x = tape.leaf(f64(xs), 'x');
    expect(() => x.backward()).toThrow('backward: x[3] was not produced by a recorded op');
    const c = tape.constant(f64(xs), 'c');
    expect(() => tape.backward(c)).toThrow('backward: c[3] does not require a gradient');
  });

  it('detach stops gradients at the cut', () => {
    const tape = new Tape();
    const x = tape.leaf(f64(xs));
    const w = tape.leaf(f64([2, 3, 4]));
    const h = tanh(tape, x);
    const cut = h.detach();
    expect(cut.value).toBe(h.value); // same values, no copy
    expect(cut.requiresGrad).toBe(false);
    tape.backward(sum(tape, mul(tape, cut, w)));
    expect(x.grad).toBeNull();
    expect(Array.from(w.grad!.data)).toEqual(Array.from(h.value.data));
  });

  it('noGrad records nothing, nests, and restores recording even when fn throws', () => {
    const tape = new Tape();
    const x = tape.leaf(f64(xs));
    const y = tape.noGrad(() => {
      const inner = tape.noGrad(() => mul(tape, x, x));
      expect(tape.recording).toBe(false); // still paused after the inner block returns
      return add(tape, inner, x);
    });
    expect(tape.length).toBe(0);
    expect(y.requiresGrad).toBe(false);
    expect(tape.recording).toBe(true);
    expect(() =>
      tape.noGrad(() => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(tape.recording).toBe(true);
    mul(tape, x, x);
    expect(tape.length).toBe(1);
  });

  it('noGrad pauses only its own tape', () => {
    const a = new Tape();
    const b = new Tape();
    const x = a.leaf(f64(xs));
    a.noGrad(() => mul(b, x, x));
    expect(b.length).toBe(1);
    expect(a.length).toBe(0);
  });

  it('ops on inputs that need no gradient are not recorded', () => {
    const tape = new Tape();
    const c = tape.constant(f64(xs));
    const y = exp(tape, mul(tape, c, c));
    expect(tape.length).toBe(0);
    expect(y.requiresGrad).toBe(false);
    expect(y.tape).toBeNull();
  });

  it('gradients accumulate across backward calls; zeroGrad clears them in place, keeping the buffer', () => {
    const tape = new Tape();
    const x = tape.leaf(f64(xs));
    tape.backward(sum(tape, mul(tape, x, x)));
    const buffer = x.grad!;
    expect(tape.length).toBe(0); // nodes released after backward
    tape.backward(sum(tape, mul(tape, x, x)));
    expect(x.grad).toBe(buffer);
    expect(Array.from(buffer.data)).toEqual(xs.map((v) => 4 * v));
    x.zeroGrad();
    expect(x.grad).toBe(buffer);
    expect(Array.from(buffer.data)).toEqual([0, 0, 0]);
    tape.backward(sum(tape, mul(tape, x, x)));
    expect(x.grad).toBe(buffer);
    expect(Array.from(buffer.data)).toEqual(xs.map((v) => 2 * v));
  });

  it('retainGraph keeps the nodes for a second sweep', () => {
    const tape = new Tape();
    const x = tape.leaf(f64(xs));
    const loss = sum(tape, mul(tape, x, x));
    tape.backward(loss, undefined, { retainGraph: true });
    expect(tape.length).toBe(2);
    tape.clear();
    expect(tape.length).toBe(0);
  });

  it('a node’s release runs once when the graph is discarded: after backward, on clear, not while retained', () => {
    const tape = new Tape();
    const x = tape.leaf(tensor([1, 2]));
    let released = 0;
    const y = new Var(tensor([3]));
    tape.record(
      'probe',
      [x],
      [y],
      () => accumulateGrad(x, tensor([1, 1]), 'probe'),
      () => released++,
    );
    tape.backward(y, undefined, { retainGraph: true });
    expect(released).toBe(0);
    tape.backward(y);
    expect(released).toBe(1);
    tape.clear();
    expect(released).toBe(1);
    const z = new Var(tensor([4]));
    tape.record(
      'probe',
      [x],
      [z],
      () => {},
      () => released++,
    );
    tape.clear();
    expect(released).toBe(2);
  });

  it('skips nodes whose outputs received no gradient', () => {
    const tape = new Tape();
    const x = tape.leaf(f64(xs));
    let calls = 0;
    const spy = new Var(zeros([3], 'float64'));
    tape.record('spy', [x], [spy], () => calls++);
    tape.backward(sum(tape, mul(tape, x, x)));
    expect(calls).toBe(0);
  });

  it('a gradient of the wrong shape is rejected with the op and both shapes', () => {
    const tape = new Tape();
    const x = tape.leaf(f64([1, 2]));
    const out = new Var(f64([1, 2]));
    tape.record('brokenOp', [x], [out], () => accumulateGrad(x, f64([1, 2, 3]), 'brokenOp'));
    expect(() => tape.backward(out, f64([1, 1]))).toThrow('brokenOp: gradient of shape [3] does not match its input of shape [2]');
  });
});
