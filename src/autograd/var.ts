import { formatShape, ShapeError, shapesEqual } from '../tensor/shape.js';
import { Tensor, zeros } from '../tensor/tensor.js';
import type { Storage } from '../tensor/dtype.js';
import type { Tape } from './tape.js';

export interface VarOptions {
  requiresGrad?: boolean;
  name?: string;
}

/**
 * A tensor value in a differentiable computation, with its gradient. Leaves (inputs, parameters)
 * are made by the user; every other Var is the output of an op recorded on a Tape, which it
 * remembers so that `loss.backward()` knows where to sweep.
 */
export class Var {
  value: Tensor;
  /** dL/d(this), same shape and dtype as `value`; null until something flows into it. */
  grad: Tensor | null = null;
  requiresGrad: boolean;
  name: string | undefined;
  /** The tape that recorded the op producing this Var (null for leaves). */
  tape: Tape | null = null;

  constructor(value: Tensor, options: VarOptions = {}) {
    this.value = value;
    this.requiresGrad = options.requiresGrad ?? false;
    this.name = options.name;
  }

  get shape(): readonly number[] {
    return this.value.shape;
  }
  get data(): Storage {
    return this.value.data;
  }
  get size(): number {
    return this.value.size;
  }

  /** The same value cut off from the graph: gradients stop here (truncated BPTT carries state this way). */
  detach(): Var {
    return new Var(this.value);
  }

  /** Zero the gradient in place, keeping its buffer (no allocation in a training loop). */
  zeroGrad(): void {
    if (this.grad) this.grad.data.fill(0);
  }

  /** Back-propagate from this Var: see Tape.backward. */
  backward(upstream?: Tensor): void {
    if (!this.tape) {
      throw new Error(`backward: ${this.describe()} was not produced by a recorded op (it is a leaf or was made under noGrad)`);
    }
    this.tape.backward(this, upstream);
  }

  describe(): string {
    return `${this.name ?? 'Var'}${formatShape(this.shape)}`;
  }
}

/**
 * The gradient buffer of `v`, allocated (zeroed) on first use, for a backward closure to
 * accumulate (`+=`) into. Returns null when `v` does not require a gradient.
 */
export function gradBuffer(v: Var): Storage | null {
  if (!v.requiresGrad) return null;
  if (!v.grad) v.grad = zeros(v.shape, v.value.dtype);
  return v.grad.data;
}

/**
 * Accumulate `g` into `v.grad`. A gradient whose shape differs from its input is a bug in the op,
 * so the error names the op and both shapes.
 */
export function accumulateGrad(v: Var, g: Tensor, op: string): void {
  if (!v.requiresGrad) return;
  if (!shapesEqual(g.shape, v.shape)) {
    throw new ShapeError(`${op}: gradient of shape ${formatShape(g.shape)} does not match its input of shape ${formatShape(v.shape)}`);
  }
  const dst = gradBuffer(v)!;
  const src = g.data;
  for (let i = 0; i < dst.length; i++) dst[i]! += src[i]!;
}
