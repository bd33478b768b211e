import fc from 'fast-check';
import { Rng } from '../src/tensor/rng.js';
import { Tensor, zeros } from '../src/tensor/tensor.js';
import type { Tape } from '../src/autograd/tape.js';
import { accumulateGrad, Var } from '../src/autograd/var.js';

/*
 * Helpers for the cell tests: random float64 tensors and cell sizes, and `pack`, a tiny
 * differentiable concatenation so that gradcheck (which projects ONE output) sees several outputs
 * of an op at once, each with its own random upstream weights.
 */

export interface CellSizes {
  T: number;
  B: number;
  D: number;
  H: number;
  seed: number;
}

/** Random T 1..5, B 1..3, D 1..6, H 1..6 (size 1 included), and a seed for the values. */
export const cellSizesArb: fc.Arbitrary<CellSizes> = fc.record({
  T: fc.integer({ min: 1, max: 5 }),
  B: fc.integer({ min: 1, max: 3 }),
  D: fc.integer({ min: 1, max: 6 }),
  H: fc.integer({ min: 1, max: 6 }),
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
});

/** Normal(0, std) tensor in float64 (or the given dtype). */
export function randn(rng: Rng, shape: readonly number[], std = 1, dtype: 'float32' | 'float64' = 'float64'): Tensor {
  const t = zeros(shape, dtype);
  rng.fillNormal(t.data, 0, std);
  return t;
}

/** Concatenate the flattened values of `vars` into one [Σ size] Var; backward hands each its slice. */
export function pack(tape: Tape, ...vars: Var[]): Var {
  let total = 0;
  for (const v of vars) total += v.size;
  const data = new Float64Array(total);
  let off = 0;
  for (const v of vars) {
    data.set(v.data, off);
    off += v.size;
  }
  const out = new Var(new Tensor(data, [total]));
  if (tape.needsGrad(...vars)) {
    tape.record('pack', vars, [out], () => {
      const g = out.grad!.data;
      let o = 0;
      for (const v of vars) {
        accumulateGrad(v, new Tensor(g.slice(o, o + v.size), v.shape), 'pack');
        o += v.size;
      }
    });
  }
  return out;
}

/** max |a − b| / (1 + max |b|): a scale-aware distance for exact-identity checks. */
export function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`maxRelDiff: lengths ${a.length} and ${b.length} differ`);
  let d = 0;
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i]! - b[i]!));
    s = Math.max(s, Math.abs(b[i]!));
  }
  return d / (1 + s);
}
