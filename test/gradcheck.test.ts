import { describe, expect, it } from 'vitest';
import { gradcheck, GradcheckError } from '../src/autograd/gradcheck.js';
import type { Tape } from '../src/autograd/tape.js';
import { accumulateGrad, Var } from '../src/autograd/var.js';
import { Tensor, tensor } from '../src/tensor/tensor.js';

// Ops defined here, independent of the library's op files, so that these tests prove gradcheck
// itself: a correct op must pass, and an op with a known bug must fail at the element we broke.

function mapTensor(t: Tensor, f: (v: number, i: number) => number): Tensor {
  const out = new Float64Array(t.size);
  for (let i = 0; i < t.size; i++) out[i] = f(t.data[i]!, i);
  return new Tensor(out, t.shape);
}

/** y = x³ with dy/dx = 3x²; `bugAt` adds 0.5·g to the gradient of that one flat element. */
function cube(tape: Tape, x: Var, bugAt = -1): Var {
  const out = new Var(mapTensor(x.value, (v) => v * v * v));
  if (tape.needsGrad(x)) {
    tape.record('cube', [x], [out], () => {
      const g = out.grad!;
      accumulateGrad(
        x,
        mapTensor(x.value, (v, i) => 3 * v * v * g.data[i]! + (i === bugAt ? 0.5 * g.data[i]! : 0)),
        'cube',
      );
    });
  }
  return out;
}

/** y = a ⊙ b (same shapes); `swapBug` makes db = g ⊙ b instead of g ⊙ a. */
function mul(tape: Tape, a: Var, b: Var, swapBug = false): Var {
  const out = new Var(mapTensor(a.value, (v, i) => v * b.value.data[i]!));
  if (tape.needsGrad(a, b)) {
    tape.record('mul', [a, b], [out], () => {
      const g = out.grad!.data;
      accumulateGrad(
        a,
        mapTensor(b.value, (v, i) => v * g[i]!),
        'mul',
      );
      accumulateGrad(
        b,
        mapTensor(swapBug ? b.value : a.value, (v, i) => v * g[i]!),
        'mul',
      );
    });
  }
  return out;
}

/** An op whose backward ignores the upstream gradient (uses 1): right only for L = Σ y. */
function cubeIgnoringUpstream(tape: Tape, x: Var): Var {
  const out = new Var(mapTensor(x.value, (v) => v * v * v));
  if (tape.needsGrad(x)) {
    tape.record('cube', [x], [out], () =>
      accumulateGrad(
        x,
        mapTensor(x.value, (v) => 3 * v * v),
        'cube',
      ),
    );
  }
  return out;
}

const x23 = tensor(
  [
    [0.3, -1.2, 0.7],
    [1.5, -0.4, 0.9],
  ],
  undefined,
  'float64',
);
const y23 = tensor(
  [
    [1.1, 0.2, -0.8],
    [-1.3, 0.6, 2.0],
  ],
  undefined,
  'float64',
);

describe('gradcheck', () => {
  it('passes a correct op and checks every element of every input', () => {
    const r = gradcheck((t, a, b) => mul(t, cube(t, a), b), [x23, y23]);
    expect(r.ok).toBe(true);
    expect(r.checked).toBe(12);
    expect(r.maxError).toBeLessThan(1e-7);
    expect(r.message).toContain('ok');
  });

  it('catches a wrong backward and names the element that is wrong', () => {
    // flat element 4 of a [2,3] tensor is [1,1]
    const r = gradcheck((t, a) => cube(t, a, 4), [x23], { raise: false, seed: 3 });
    expect(r.ok).toBe(false);
    expect(r.worst!.input).toBe(0);
    expect(r.worst!.index).toEqual([1, 1]);
    // numeric ≈ true derivative 3x²·u; analytic = (3x² + 0.5)·u, so their ratio identifies the bug
    const x = x23.get(1, 1);
    const u = r.worst!.numeric / (3 * x * x);
    expect(r.worst!.analytic).toBeCloseTo((3 * x * x + 0.5) * u, 8);
    expect(r.maxError).toBeCloseTo(Math.abs(0.5 * u), 8);
  });

  it('names the second input when only its gradient is wrong', () => {
    const r = gradcheck((t, a, b) => mul(t, a, b, true), [x23, y23], { raise: false });
    expect(r.ok).toBe(false);
    expect(r.worst!.input).toBe(1);
  });

  it('throws a GradcheckError with the worst element in its message when raise is on', () => {
    let caught: unknown;
    try {
      gradcheck((t, a) => cube(t, a, 2), [x23]);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(GradcheckError);
    const err = caught as GradcheckError;
    expect(err.report.ok).toBe(false);
    expect(err.report.worst!.index).toEqual([0, 2]);
    expect(err.message).toContain('input 0 at [0,2]');
    expect(err.message).toContain(String(err.report.worst!.analytic));
    expect(err.message).toContain(String(err.report.worst!.numeric));
  });

  it('projects a non-scalar output with a random upstream, so ignoring the upstream is caught', () => {
    const r = gradcheck((t, a) => cubeIgnoringUpstream(t, a), [x23], { raise: false });
    expect(r.ok).toBe(false);
  });

  it('is deterministic for a seed and depends on it', () => {
    const f = (t: Tape, a: Var): Var => cube(t, a, 1);
    const r1 = gradcheck(f, [x23], { raise: false, seed: 7 });
    const r2 = gradcheck(f, [x23], { raise: false, seed: 7 });
    const r3 = gradcheck(f, [x23], { raise: false, seed: 8 });
    expect(r2).toEqual(r1);
    expect(r3.worst!.analytic).not.toBe(r1.worst!.analytic);
  });

  it('fails an op that writes into its input', () => {
    const mutating = (tape: Tape, x: Var): Var => {
      x.value.data[3] = 42; // the bug: forward scribbles on its input
      return cube(tape, x);
    };
    const r = gradcheck(mutating, [x23], { raise: false });
    expect(r.ok).toBe(false);
    expect(r.message).toContain('modified input 0 at [1,0]');
    expect(() => gradcheck(mutating, [x23])).toThrow(GradcheckError);
  });

  it('converts inputs to float64 and leaves the caller tensors untouched', () => {
    const x32 = tensor([0.5, -0.25, 2], [3], 'float32');
    const before = x32.data.slice();
    const r = gradcheck(
      (t, a) => {
        expect(a.value.dtype).toBe('float64');
        return cube(t, a);
      },
      [x32],
    );
    expect(r.ok).toBe(true);
    expect(x32.data).toEqual(before);
  });

  it('rejects an output that is not float64', () => {
    const toF32 = (_t: Tape, a: Var): Var => new Var(a.value.astype('float32'));
    expect(() => gradcheck(toF32, [x23])).toThrow(/gradcheck: fn returned a float32 output of shape \[2,3\]/);
  });

  it('treats an output independent of the inputs as zero gradient', () => {
    const constant = (t: Tape): Var => t.constant(tensor([1, 2], [2], 'float64'));
    expect(gradcheck(constant, [x23]).ok).toBe(true);
    // ... and then a non-zero true derivative is caught: the output depends on x but the op records nothing
    const untracked = (_t: Tape, a: Var): Var => new Var(mapTensor(a.value, (v) => v * 2));
    const r = gradcheck(untracked, [x23], { raise: false });
    expect(r.ok).toBe(false);
    expect(r.worst!.analytic).toBe(0);
  });

  it('handles fn returning one of its inputs unchanged (gradient = upstream)', () => {
    expect(gradcheck((_t, a) => a, [x23]).ok).toBe(true);
    expect(gradcheck((t, a, b) => mul(t, b, b) && a, [x23, y23]).ok).toBe(true);
  });

  it('validates its options', () => {
    expect(() => gradcheck((t, a) => cube(t, a), [x23], { eps: 0 })).toThrow(/gradcheck: eps must be > 0/);
  });
});
