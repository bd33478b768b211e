import type { DType } from '../tensor/dtype.js';
import type { Rng } from '../tensor/rng.js';
import { zeros } from '../tensor/tensor.js';
import type { Tape } from '../autograd/tape.js';
import type { Var } from '../autograd/var.js';
import { linear } from '../autograd/ops/matmul.js';
import { embedding } from '../autograd/ops/index.js';
import { Module, type Parameter } from './module.js';
import { dropout } from './functional/dropout.js';
import { initNormal, initUniform } from './init.js';

function positiveInt(op: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`${op}: ${name} must be a positive integer, got ${v}`);
}

/** y = x · weightᵀ + bias, weight [out,in] (PyTorch's layout and default init: Uniform(±1/√in)). */
export class Linear extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter | null;

  constructor(inFeatures: number, outFeatures: number, options: { rng: Rng; bias?: boolean; dtype?: DType }) {
    super();
    positiveInt('Linear', 'inFeatures', inFeatures);
    positiveInt('Linear', 'outFeatures', outFeatures);
    const dtype = options.dtype ?? 'float32';
    const bound = 1 / Math.sqrt(inFeatures);
    this.weight = this.addParameter('weight', initUniform(zeros([outFeatures, inFeatures], dtype), options.rng, -bound, bound));
    this.bias =
      options.bias === false ? null : this.addParameter('bias', initUniform(zeros([outFeatures], dtype), options.rng, -bound, bound));
  }

  /** x [..., in] → [..., out], one gemm with the bias fused into its epilogue. */
  forward(tape: Tape, x: Var): Var {
    return linear(tape, x, this.weight, this.bias ?? undefined);
  }
}

/** A table of `count` vectors of size `dim`, looked up by integer index (init Normal(0, 1) like PyTorch). */
export class Embedding extends Module {
  readonly weight: Parameter;

  constructor(count: number, dim: number, options: { rng: Rng; dtype?: DType }) {
    super();
    positiveInt('Embedding', 'count', count);
    positiveInt('Embedding', 'dim', dim);
    this.weight = this.addParameter('weight', initNormal(zeros([count, dim], options.dtype ?? 'float32'), options.rng));
  }

  /** indices of shape `indexShape` → [...indexShape, dim]; its gradient scatter-adds rows. */
  forward(tape: Tape, indices: Int32Array, indexShape: readonly number[]): Var {
    return embedding(tape, this.weight, indices, indexShape);
  }
}

/** Inverted dropout that is active only in training mode; its mask comes from its own seeded generator. */
export class Dropout extends Module {
  constructor(
    readonly p: number,
    readonly rng: Rng,
  ) {
    super();
    if (!(p >= 0 && p < 1)) throw new RangeError(`Dropout: probability must be in [0, 1), got ${p}`);
  }

  forward(tape: Tape, x: Var): Var {
    return this.training && this.p > 0 ? dropout(tape, x, this.p, this.rng) : x;
  }
}

/** An ordered list of modules named `0`, `1`, … (so parameters read `layers.0.wmx`). */
export class ModuleList<M extends Module> extends Module {
  readonly items: readonly M[];

  constructor(items: readonly M[]) {
    super();
    items.forEach((m, i) => this.addModule(String(i), m));
    this.items = items.slice();
  }

  get length(): number {
    return this.items.length;
  }

  at(i: number): M {
    const m = this.items[i];
    if (!m) throw new RangeError(`ModuleList: index ${i} out of range for ${this.items.length} modules`);
    return m;
  }
}
