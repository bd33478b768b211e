import type { Tape } from '../src/autograd/tape.js';
import type { Var } from '../src/autograd/var.js';
import { add, mul, sigmoid, tanh } from '../src/autograd/ops/elementwise.js';
import { linear } from '../src/autograd/ops/matmul.js';
import { reshape, slice, split, stack } from '../src/autograd/ops/shape.js';
import { Rng } from '../src/tensor/rng.js';
import { zeros, type Tensor } from '../src/tensor/tensor.js';
import type { LSTMWeights } from '../src/nn/functional/lstm.js';
import type { MLSTMWeights } from '../src/nn/functional/mlstm.js';
import type { MRNNWeights } from '../src/nn/functional/mrnn.js';

/*
 * The three cells with variational hidden dropout written as a composition of plain, separately
 * gradient-checked ops (linear, mul, sigmoid, tanh, slice, split, stack), one step at a time, with the
 * mask M applied by an explicit elementwise product where docs/training.md puts it: the recurrence
 * reads M ⊙ h_{t−1} (M ⊙ h0 first), the outputs are M ⊙ h_t, and c_t and the final state are not masked.
 * Slow and allocating; the fused ops are checked against it, values and gradients.
 */

export interface ReferenceResult {
  hs: Var; // [T,B,H] masked outputs
  hT: Var; // [B,H] unmasked
  cT: Var | null; // [B,H] unmasked (null for the mRNN)
}

/** A mask [B,H] of 0 and 1/(1 − p), drawn like the library draws it (b-major, then h). */
export function randomMask(rng: Rng, B: number, H: number, p: number, dtype: 'float32' | 'float64' = 'float64'): Tensor {
  const m = zeros([B, H], dtype);
  for (let k = 0; k < B * H; k++) m.data[k] = rng.next() < p ? 0 : 1 / (1 - p);
  return m;
}

function stepInput(tape: Tape, x: Var, t: number): Var {
  const [, B, D] = x.shape as [number, number, number];
  return reshape(tape, slice(tape, x, 0, t, t + 1), [B, D]);
}

/** LSTM gates from z [B,4H] and c_{t−1}: c_t = σ(f)⊙c + σ(i)⊙tanh(g), h_t = σ(o)⊙tanh(c_t). */
function gates(tape: Tape, z: Var, c: Var): { h: Var; c: Var } {
  const [i, f, g, o] = split(tape, z, 4, 1) as [Var, Var, Var, Var];
  const cNext = add(tape, mul(tape, sigmoid(tape, f), c), mul(tape, sigmoid(tape, i), tanh(tape, g)));
  return { h: mul(tape, sigmoid(tape, o), tanh(tape, cNext)), c: cNext };
}

export function mlstmReference(tape: Tape, x: Var, h0: Var, c0: Var, w: MLSTMWeights, M: Var): ReferenceResult {
  const T = x.shape[0]!;
  let h = h0;
  let c = c0;
  const outs: Var[] = [];
  for (let t = 0; t < T; t++) {
    const xt = stepInput(tape, x, t);
    const hIn = mul(tape, M, h); // h̃_{t−1}
    const m = mul(tape, linear(tape, xt, w.wmx), linear(tape, hIn, w.wmh));
    const z = add(tape, linear(tape, xt, w.whx, w.bias), linear(tape, m, w.whm));
    ({ h, c } = gates(tape, z, c));
    outs.push(mul(tape, M, h)); // h̃_t
  }
  return { hs: stack(tape, outs, 0), hT: h, cT: c };
}

export function lstmReference(tape: Tape, x: Var, h0: Var, c0: Var, w: LSTMWeights, M: Var): ReferenceResult {
  const T = x.shape[0]!;
  let h = h0;
  let c = c0;
  const outs: Var[] = [];
  for (let t = 0; t < T; t++) {
    const z = add(tape, linear(tape, stepInput(tape, x, t), w.wx, w.bias), linear(tape, mul(tape, M, h), w.wh));
    ({ h, c } = gates(tape, z, c));
    outs.push(mul(tape, M, h));
  }
  return { hs: stack(tape, outs, 0), hT: h, cT: c };
}

export function mrnnReference(tape: Tape, x: Var, h0: Var, w: MRNNWeights, M: Var): ReferenceResult {
  const T = x.shape[0]!;
  let h = h0;
  const outs: Var[] = [];
  for (let t = 0; t < T; t++) {
    const xt = stepInput(tape, x, t);
    const m = mul(tape, linear(tape, xt, w.wmx), linear(tape, mul(tape, M, h), w.wmh));
    h = tanh(tape, add(tape, linear(tape, xt, w.whx, w.bias), linear(tape, m, w.whm)));
    outs.push(mul(tape, M, h));
  }
  return { hs: stack(tape, outs, 0), hT: h, cT: null };
}
