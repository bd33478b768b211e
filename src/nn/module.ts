import { formatShape, ShapeError, shapesEqual } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { Var } from '../autograd/var.js';

/** A trainable leaf: a Var that requires a gradient and knows its local name. */
export class Parameter extends Var {
  constructor(value: Tensor, name: string) {
    super(value, { requiresGrad: true, name });
  }
}

export type StateDict = Map<string, Tensor>;

export interface LoadOptions {
  /** Reject missing and unexpected names (default true). */
  strict?: boolean;
  /** Where the tensors came from, for error messages (a file name). */
  source?: string;
}

/**
 * The module system: named parameters and children, in registration order, so that
 * `namedParameters()` is stable and its names are the checkpoint names of docs/CONTRACT.md
 * (`layers.0.wmx`, `head.weight`, …).
 */
export abstract class Module {
  private readonly ownParams = new Map<string, Parameter>();
  private readonly children = new Map<string, Module>();
  training = true;

  /** Register a parameter under `name` (may contain dots, e.g. `wmx.v`). */
  protected addParameter(name: string, value: Tensor): Parameter {
    if (this.ownParams.has(name) || this.children.has(name)) throw new Error(`Module: duplicate name '${name}'`);
    const p = new Parameter(value, name);
    this.ownParams.set(name, p);
    return p;
  }

  protected addModule<M extends Module>(name: string, module: M): M {
    if (this.ownParams.has(name) || this.children.has(name)) throw new Error(`Module: duplicate name '${name}'`);
    this.children.set(name, module);
    return module;
  }

  /** Every parameter with its full dotted name: own parameters first, then children in order. */
  namedParameters(prefix = ''): [string, Parameter][] {
    const out: [string, Parameter][] = [];
    for (const [n, p] of this.ownParams) out.push([prefix + n, p]);
    for (const [n, m] of this.children) out.push(...m.namedParameters(`${prefix}${n}.`));
    return out;
  }

  parameters(): Parameter[] {
    return this.namedParameters().map(([, p]) => p);
  }

  namedChildren(): [string, Module][] {
    return [...this.children];
  }

  /** Training mode (dropout active) for this module and all children. */
  train(mode = true): this {
    this.training = mode;
    for (const m of this.children.values()) m.train(mode);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  zeroGrad(): void {
    for (const p of this.parameters()) p.zeroGrad();
  }

  /** Parameter values by name (the tensors themselves, not copies). */
  stateDict(): StateDict {
    return new Map(this.namedParameters().map(([n, p]) => [n, p.value]));
  }

  /**
   * Copy values into the parameters (converting dtype as needed). A name whose shape does not fit
   * is an error naming the parameter and both shapes; with `strict`, so are missing and unexpected names.
   */
  loadStateDict(dict: ReadonlyMap<string, Tensor>, options: LoadOptions = {}): void {
    const strict = options.strict ?? true;
    const from = options.source ? ` (${options.source})` : '';
    const params = new Map(this.namedParameters());
    if (strict) {
      const missing = [...params.keys()].filter((n) => !dict.has(n));
      if (missing.length) throw new Error(`loadStateDict${from}: missing parameter(s) ${missing.join(', ')}`);
      const unexpected = [...dict.keys()].filter((n) => !params.has(n));
      if (unexpected.length) throw new Error(`loadStateDict${from}: unexpected parameter(s) ${unexpected.join(', ')}`);
    }
    for (const [n, p] of params) {
      const t = dict.get(n);
      if (!t) continue;
      if (!shapesEqual(t.shape, p.shape)) {
        throw new ShapeError(
          `loadStateDict${from}: parameter '${n}' has shape ${formatShape(p.shape)} in the model but ${formatShape(t.shape)} in the state dict`,
        );
      }
      p.value.data.set(t.data);
    }
  }
}
