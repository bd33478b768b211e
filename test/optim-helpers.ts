import { Var } from '../src/autograd/var.js';
import type { Optimizer } from '../src/optim/optimizer.js';
import { cosine, warmup } from '../src/optim/schedule.js';
import type { DType } from '../src/tensor/dtype.js';
import { Rng } from '../src/tensor/rng.js';
import { Tensor } from '../src/tensor/tensor.js';

// Shared by the optim-*.test.ts files: a small named parameter set and a deterministic training
// drive (gradient of parameter k at update s from a seed, lr from a schedule), so that two runs
// (say, uninterrupted and resumed) see exactly the same gradients.

export const SHAPES: readonly (readonly number[])[] = [[3, 4], [5], [1]];

export function makeParams(dtype: DType, seed = 1): [string, Var][] {
  const rng = new Rng(seed);
  return SHAPES.map((shape, k) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const t = new Tensor(rng.fillNormal(dtype === 'float64' ? new Float64Array(size) : new Float32Array(size)), shape);
    return [`layer.${k}.w`, new Var(t, { requiresGrad: true, name: `layer.${k}.w` })];
  });
}

/** Deterministic gradient of parameter k at update s (null = this parameter gets no grad that step). */
export function gradFor(k: number, s: number, size: number, skip: (k: number, s: number) => boolean): number[] | null {
  if (skip(k, s)) return null;
  const rng = new Rng(1000 * s + k + 7);
  return Array.from({ length: size }, () => rng.normal(0, 1 + k));
}

export function setGrads(params: readonly [string, Var][], s: number, skip: (k: number, s: number) => boolean): void {
  params.forEach(([, v], k) => {
    const g = gradFor(k, s, v.size, skip);
    if (g === null) v.grad = null;
    else v.grad = new Tensor(v.value.dtype === 'float64' ? Float64Array.from(g) : Float32Array.from(g), v.shape);
  });
}

export type SkipRule = (k: number, s: number) => boolean;
export const noSkip: SkipRule = () => false;
export const skipSome: SkipRule = (k, s) => k === 1 && s % 3 === 1; // parameter 1 misses updates 1, 4, 7, …
export const schedule = warmup(2, cosine(0.05, 6, 0.005));

export function train(opt: Optimizer, params: readonly [string, Var][], from: number, to: number, skip: SkipRule = noSkip): void {
  for (let s = from; s < to; s++) {
    opt.lr = schedule(s);
    setGrads(params, s, skip);
    opt.step();
  }
}
