import type { DType } from '../src/tensor/dtype.js';
import { Rng } from '../src/tensor/rng.js';
import { Tensor } from '../src/tensor/tensor.js';
import { Tape } from '../src/autograd/tape.js';
import type { Backend } from '../src/tensor/backend.js';
import { defaultBackend } from '../src/tensor/kernels/index.js';
import { CharLM } from '../src/nn/charlm.js';
import { clipGradNorm, makeOptimizer, type OptimizerConfigInput } from '../src/optim/index.js';
import { FORWARD_TOLERANCE, GRADIENT_TOLERANCE, ParityRecorder, type Fixture, type ParityReport } from './parity-lib.js';

/** Tolerance of parameter movement after update s (docs/CONTRACT.md). */
export const UPDATE_TOLERANCE = 1e-3;

const CONFIG_KEYS = ['steps', 'batch', 'vocab', 'embed', 'hidden', 'layers', 'optimizer', 'clip_norm', 'updates'];

function positiveInt(f: Fixture, key: string): number {
  const v = f.config[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1)
    throw new Error(`parity ${f.name}: config.${key} must be a positive integer, got ${JSON.stringify(v)}`);
  return v;
}

/**
 * A `charlm` case through the public API: build the CharLM from the config, load the initial
 * parameters by their contract names, compute the mean cross-entropy on `tokens` and its gradient,
 * then run `updates` optimiser steps (clip by global norm, then Adam/AdamW from the config), each
 * recomputing loss and gradients on the same tokens, comparing the pre-clip norm and the parameter
 * movement (p_s − p_0) against (ref_s − p_0).
 */
export function runCharLMParity(fixture: Fixture, dtype: DType = 'float32', backend: Backend = defaultBackend): ParityReport {
  // Parameter movement is compared, not raw values: expected step<s>.<name> becomes (ref_s − p_0).
  // The recorder fails every key nobody consumed; `tokens` (an int input) is consumed here.
  const tokens = fixture.ints.get('tokens');
  const ints = new Map(fixture.ints);
  ints.delete('tokens');
  const tensors = new Map(fixture.tensors);
  for (const [key, t] of fixture.tensors) {
    const m = /^step\d+\.(.+)$/.exec(key);
    const start = m && m[1] !== 'grad_norm' ? fixture.tensors.get(m[1]!) : undefined;
    if (!start || start.size !== t.size) continue;
    const moved = new Float64Array(t.size);
    for (let i = 0; i < t.size; i++) moved[i] = t.data[i]! - start.data[i]!;
    tensors.set(key, new Tensor(moved, t.shape));
  }
  const rec = new ParityRecorder({ ...fixture, tensors, ints });
  const unknown = Object.keys(fixture.config).filter((k) => !CONFIG_KEYS.includes(k));
  if (unknown.length)
    rec.checks.push({ key: 'config', relativeError: NaN, tolerance: 0, ok: false, note: `unknown config key(s) ${unknown.join(', ')}` });
  const T = positiveInt(fixture, 'steps');
  const B = positiveInt(fixture, 'batch');
  const updates = positiveInt(fixture, 'updates');
  const clip = fixture.config['clip_norm'];
  if (typeof clip !== 'number' || !(clip > 0)) throw new Error(`parity ${fixture.name}: config.clip_norm must be a positive number`);

  const model = new CharLM(
    {
      cell: 'mlstm',
      weightNorm: false,
      vocab: positiveInt(fixture, 'vocab'),
      embed: positiveInt(fixture, 'embed'),
      hidden: positiveInt(fixture, 'hidden'),
      layers: positiveInt(fixture, 'layers'),
    },
    { rng: new Rng(0), dtype },
  );
  const params = model.namedParameters();
  const initial = new Map(params.map(([n]) => [n, rec.input(n)]));
  model.loadStateDict(initial, { strict: true, source: fixture.name });
  const p0 = new Map(params.map(([n, p]) => [n, Float64Array.from(p.value.data)]));

  if (!tokens || tokens.shape.length !== 2 || tokens.shape[0] !== T + 1 || tokens.shape[1] !== B) {
    throw new Error(`parity ${fixture.name}: tokens must be I32 [T+1,B] = [${T + 1},${B}]`);
  }
  const inputs = tokens.data.slice(0, T * B); // tokens[0..T)  [T,B]
  const targets = tokens.data.slice(B); // tokens[1..T]  [T,B]

  const opt = makeOptimizer(params, fixture.config['optimizer'] as OptimizerConfigInput);
  for (let s = 1; s <= updates; s++) {
    opt.zeroGrad();
    const tape = new Tape({ backend });
    const { loss } = model.loss(tape, inputs, targets, T, B, model.zeroState(B));
    tape.backward(loss);
    if (s === 1) {
      rec.compare('out.loss', new Tensor(Float64Array.from(loss.value.data), [1]), FORWARD_TOLERANCE);
      for (const [n, p] of params) rec.compare(`grad.${n}`, p.grad, GRADIENT_TOLERANCE);
    }
    const norm = clipGradNorm(
      params.map(([, p]) => p),
      clip,
    );
    rec.compare(`step${s}.grad_norm`, new Tensor(Float64Array.of(norm), [1]), GRADIENT_TOLERANCE);
    opt.step();
    for (const [n, p] of params) {
      const start = p0.get(n)!;
      const moved = new Float64Array(start.length);
      for (let i = 0; i < start.length; i++) moved[i] = p.value.data[i]! - start[i]!;
      rec.compare(`step${s}.${n}`, new Tensor(moved, p.shape), UPDATE_TOLERANCE);
    }
  }
  return rec.finish();
}
