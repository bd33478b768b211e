import type { Var } from '../autograd/var.js';
import { allocate, type Storage } from '../tensor/dtype.js';
import { formatShape, shapesEqual } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import type { OptimizerConfig } from './hyperparameters.js';
import { nonNegative } from './validate.js';

/** Parameters to optimise: plain Vars (state named by index) or [name, Var] pairs (state named by name). */
export type ParamsInput = readonly Var[] | readonly (readonly [string, Var])[];

/** Prefix of every key in an optimiser state dict; keys without it are left alone by loadStateDict. */
export const OPTIM_PREFIX = 'optim.';

export interface OptimizerLoadOptions {
  /** Where the tensors came from (a file name), for error messages. */
  source?: string;
}

/** One parameter with its optimiser state. */
export interface ParamSlot {
  readonly name: string;
  readonly param: Var;
  /** Updates applied to this parameter so far (PyTorch's per-parameter `state['step']`). */
  steps: number;
  /** State buffers in the order of the optimiser's `bufferNames`, each [param.size], param's dtype. */
  readonly buffers: Storage[];
}

function normaliseParams(owner: string, params: ParamsInput): [string, Var][] {
  if (!Array.isArray(params) || params.length === 0) throw new RangeError(`${owner}: got an empty parameter list`);
  const named = Array.isArray(params[0]);
  const out: [string, Var][] = [];
  for (let i = 0; i < params.length; i++) {
    const item: unknown = params[i];
    if (Array.isArray(item) !== named)
      throw new TypeError(`${owner}: parameters must be all Vars or all [name, Var] pairs (entry ${i} differs)`);
    const [name, v] = named ? (item as readonly [string, Var]) : [String(i), item as Var];
    if (typeof name !== 'string' || name.length === 0) throw new TypeError(`${owner}: parameter ${i} has an empty or non-string name`);
    if (v === null || typeof v !== 'object' || !('value' in v) || !(v.value instanceof Tensor)) {
      throw new TypeError(`${owner}: parameter '${name}' is not a Var`);
    }
    out.push([name, v]);
  }
  const names = new Set<string>();
  const vars = new Set<Var>();
  for (const [name, v] of out) {
    if (names.has(name)) throw new RangeError(`${owner}: duplicate parameter name '${name}'`);
    if (vars.has(v)) throw new RangeError(`${owner}: parameter '${name}' appears more than once`);
    names.add(name);
    vars.add(v);
  }
  return out;
}

/**
 * What every optimiser shares: the parameter list with names, per-parameter state buffers
 * (allocated once, in the parameter's dtype, so `step()` allocates nothing), the learning rate
 * (set by a schedule before each step), the step count and state save/load.
 *
 * State dict keys: `optim.step` (step() calls, float64 [1]); per parameter
 * `optim.<name>.step` (its own update count, float64 [1]: a parameter whose grad was null was
 * not updated) and `optim.<name>.<buffer>` (PyTorch's names: exp_avg, exp_avg_sq,
 * max_exp_avg_sq, momentum_buffer) in the parameter's shape and dtype. Counts are float64 so
 * they survive a save/load exactly; buffers keep their dtype, which is exact too.
 */
export abstract class Optimizer {
  /** 'SGD' | 'Adam' | 'AdamW': used in error messages. */
  readonly kind: string;
  protected readonly slots: ParamSlot[];
  private learningRate: number;
  private steps = 0;
  private readonly bufferNames: readonly string[];

  protected constructor(kind: string, params: ParamsInput, lr: number, bufferNames: readonly string[]) {
    this.kind = kind;
    this.learningRate = nonNegative(kind, 'lr', lr);
    this.bufferNames = bufferNames;
    this.slots = normaliseParams(kind, params).map(([name, param]) => ({
      name,
      param,
      steps: 0,
      buffers: bufferNames.map(() => allocate(param.value.dtype, param.value.size)),
    }));
  }

  /** The learning rate used by the next step(); a schedule sets it before each step. */
  get lr(): number {
    return this.learningRate;
  }
  set lr(value: number) {
    this.learningRate = nonNegative(this.kind, 'lr', value);
  }

  /** Number of step() calls so far (restored by loadStateDict). */
  get stepCount(): number {
    return this.steps;
  }

  /** Parameter names in order: the given names, or '0', '1', … for plain Vars. */
  get paramNames(): string[] {
    return this.slots.map((s) => s.name);
  }

  /** The hyperparameters as JSON (for checkpoint metadata); `makeOptimizer` rebuilds from it. */
  abstract hyperparameters(): OptimizerConfig;

  /** Update one parameter; `grad` is the same length as the parameter; slot.steps already counts this update. */
  protected abstract update(slot: ParamSlot, grad: Storage): boolean;

  /**
   * Update every parameter that has a gradient (grad null → skipped, its step count unchanged,
   * as in PyTorch). If an update wrote a non-finite value the step still completes for all
   * parameters (state stays consistent) and then throws naming them: clipGradNorm's returned
   * norm is the place to catch a bad gradient and skip the step beforehand.
   */
  step(): void {
    const bad: string[] = [];
    for (const slot of this.slots) {
      const grad = slot.param.grad;
      if (grad === null) continue;
      const n = slot.param.value.size;
      if (grad.size !== n || slot.buffers.some((b) => b.length !== n)) {
        throw new RangeError(
          `${this.kind}.step: parameter '${slot.name}' has shape ${formatShape(slot.param.shape)} but its gradient has ${formatShape(grad.shape)} (or the parameter changed size after the optimiser was built)`,
        );
      }
      slot.steps++;
      if (!this.update(slot, grad.data)) bad.push(slot.name);
    }
    this.steps++;
    if (bad.length > 0) {
      throw new Error(
        `${this.kind}.step: update ${this.steps} wrote non-finite values into parameter(s) ${bad.join(', ')} (a gradient held NaN/Inf or overflowed; check clipGradNorm's return before stepping)`,
      );
    }
  }

  /** Zero every gradient in place, keeping the buffers (no allocation in a training loop). */
  zeroGrad(): void {
    for (const s of this.slots) s.param.zeroGrad();
  }

  /** Copies of the optimiser state (later steps do not change them); see the class comment for the names. */
  stateDict(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    out.set(`${OPTIM_PREFIX}step`, countTensor(this.steps));
    for (const s of this.slots) {
      out.set(`${OPTIM_PREFIX}${s.name}.step`, countTensor(s.steps));
      this.bufferNames.forEach((b, k) => {
        out.set(`${OPTIM_PREFIX}${s.name}.${b}`, new Tensor(s.buffers[k]!.slice(), s.param.shape));
      });
    }
    return out;
  }

  /**
   * Restore state saved by stateDict() of an optimiser of the same kind and options over
   * parameters of the same names and shapes. Keys not starting with `optim.` are ignored (model
   * parameters may share the map); a missing or unexpected `optim.` key, a shape mismatch or a
   * bad count is an error naming the key. Nothing is changed unless every check passes.
   */
  loadStateDict(dict: ReadonlyMap<string, Tensor>, options: OptimizerLoadOptions = {}): void {
    const where = `${this.kind}.loadStateDict${options.source ? ` (${options.source})` : ''}`;
    const expected = new Set<string>([`${OPTIM_PREFIX}step`]);
    for (const s of this.slots) {
      expected.add(`${OPTIM_PREFIX}${s.name}.step`);
      for (const b of this.bufferNames) expected.add(`${OPTIM_PREFIX}${s.name}.${b}`);
    }
    const missing = [...expected].filter((k) => !dict.has(k));
    if (missing.length) throw new RangeError(`${where}: missing ${missing.join(', ')}`);
    const unexpected = [...dict.keys()].filter((k) => k.startsWith(OPTIM_PREFIX) && !expected.has(k));
    if (unexpected.length) {
      throw new RangeError(
        `${where}: unexpected ${unexpected.join(', ')} (saved by an optimiser of another kind, options or parameter set?)`,
      );
    }
    const readCount = (key: string): number => {
      const t = dict.get(key)!;
      const v = t.size === 1 ? t.data[0]! : NaN;
      if (!Number.isSafeInteger(v) || v < 0)
        throw new RangeError(
          `${where}: '${key}' must be one non-negative integer, got ${t.size === 1 ? v : `a tensor of shape ${formatShape(t.shape)}`}`,
        );
      return v;
    };
    const globalSteps = readCount(`${OPTIM_PREFIX}step`);
    const slotSteps = this.slots.map((s) => readCount(`${OPTIM_PREFIX}${s.name}.step`));
    for (const s of this.slots) {
      for (const b of this.bufferNames) {
        const key = `${OPTIM_PREFIX}${s.name}.${b}`;
        const t = dict.get(key)!;
        if (!shapesEqual(t.shape, s.param.shape)) {
          throw new RangeError(
            `${where}: parameter '${s.name}' has shape ${formatShape(s.param.shape)} but '${key}' has ${formatShape(t.shape)}`,
          );
        }
      }
    }
    this.steps = globalSteps;
    this.slots.forEach((s, i) => {
      s.steps = slotSteps[i]!;
      this.bufferNames.forEach((b, k) => s.buffers[k]!.set(dict.get(`${OPTIM_PREFIX}${s.name}.${b}`)!.data));
    });
  }
}

function countTensor(n: number): Tensor {
  return new Tensor(Float64Array.of(n), [1]);
}
