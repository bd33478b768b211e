import { allocate } from '../../tensor/dtype.js';
import type { Rng } from '../../tensor/rng.js';
import { Tensor } from '../../tensor/tensor.js';
import type { Tape } from '../../autograd/tape.js';
import { gradBuffer, Var } from '../../autograd/var.js';

/**
 * Inverted dropout: each element is kept with probability 1 − p and scaled by 1/(1 − p), so the
 * expected activation is unchanged and evaluation needs no rescaling. The mask is drawn from the
 * given seeded generator, so the same seed drops the same units.
 */
export function dropout(tape: Tape, x: Var, p: number, rng: Rng): Var {
  if (!(p >= 0 && p < 1)) throw new RangeError(`dropout: probability must be in [0, 1), got ${p}`);
  if (p === 0) return x;
  const n = x.size;
  const scale = 1 / (1 - p);
  const mask = allocate(x.value.dtype, n); // [...x.shape], 0 or 1/(1-p)
  for (let i = 0; i < n; i++) mask[i] = rng.next() < p ? 0 : scale;
  const xd = x.data;
  const yd = allocate(x.value.dtype, n);
  for (let i = 0; i < n; i++) yd[i] = xd[i]! * mask[i]!;
  const out = new Var(new Tensor(yd, x.shape));
  if (tape.needsGrad(x)) {
    tape.record('dropout', [x], [out], () => {
      const g = out.grad!.data;
      const gx = gradBuffer(x)!;
      for (let i = 0; i < n; i++) gx[i]! += g[i]! * mask[i]!;
    });
  }
  return out;
}
