import type { Storage } from '../tensor/dtype.js';
import type { AdamConfig } from './hyperparameters.js';
import { Optimizer, type ParamSlot, type ParamsInput } from './optimizer.js';
import { adamStep, adamwStep, type AdamHyper } from './rules.js';
import { boolean, nonNegative, positive, unitHalfOpen } from './validate.js';

export interface AdamOptions {
  /** Learning rate γ ≥ 0 (default 1e-3). */
  lr?: number;
  /** [β₁, β₂], each in [0, 1) (default [0.9, 0.999]). */
  betas?: readonly [number, number];
  /** ε > 0 added to √v̂ (default 1e-8). */
  eps?: number;
  /** λ ≥ 0: L2 added to the gradient for Adam (default 0), decoupled decay for AdamW (default 1e-2). */
  weightDecay?: number;
  /** AMSGrad variant (default false). */
  amsgrad?: boolean;
}

/** The validated options: the learning rate (the optimiser's, changed by schedules) and the fixed rest. */
function adamHyper(owner: string, options: AdamOptions, defaultWeightDecay: number): { lr: number; hp: AdamHyper } {
  if (options === null || typeof options !== 'object') throw new TypeError(`${owner}: options must be an object`);
  const betas = options.betas ?? [0.9, 0.999];
  if (!Array.isArray(betas) || betas.length !== 2)
    throw new TypeError(`${owner}: betas must be a pair [beta1, beta2], got ${JSON.stringify(betas)}`);
  return {
    lr: nonNegative(owner, 'lr', options.lr ?? 1e-3),
    hp: {
      beta1: unitHalfOpen(owner, 'beta1', betas[0]),
      beta2: unitHalfOpen(owner, 'beta2', betas[1]),
      eps: positive(owner, 'eps', options.eps ?? 1e-8),
      weightDecay: nonNegative(owner, 'weightDecay', options.weightDecay ?? defaultWeightDecay),
      amsgrad: boolean(owner, 'amsgrad', options.amsgrad ?? false),
    },
  };
}

/** Shared holder for Adam and AdamW: the state buffers and the rule differ only in the weight decay. */
abstract class AdamFamily extends Optimizer {
  protected readonly hp: AdamHyper;

  protected constructor(kind: 'Adam' | 'AdamW', params: ParamsInput, { lr, hp }: { lr: number; hp: AdamHyper }) {
    super(kind, params, lr, hp.amsgrad ? ['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq'] : ['exp_avg', 'exp_avg_sq']);
    this.hp = hp;
  }

  get betas(): [number, number] {
    return [this.hp.beta1, this.hp.beta2];
  }
  get eps(): number {
    return this.hp.eps;
  }
  get weightDecay(): number {
    return this.hp.weightDecay;
  }
  get amsgrad(): boolean {
    return this.hp.amsgrad;
  }

  hyperparameters(): AdamConfig {
    const { beta1, beta2, eps, weightDecay, amsgrad } = this.hp;
    return { name: this.kind === 'AdamW' ? 'adamw' : 'adam', lr: this.lr, beta1, beta2, eps, weight_decay: weightDecay, amsgrad };
  }
}

/** torch.optim.Adam (weight decay as L2 added to the gradient); the rule is `adamStep`. */
export class Adam extends AdamFamily {
  constructor(params: ParamsInput, options: AdamOptions = {}) {
    super('Adam', params, adamHyper('Adam', options, 0));
  }

  protected update(slot: ParamSlot, grad: Storage): boolean {
    const [m, v, maxV] = slot.buffers;
    return adamStep(slot.param.value.data, grad, m!, v!, slot.steps, this.lr, this.hp, maxV ?? null);
  }
}

/** torch.optim.AdamW (decoupled decay p ← p·(1 − γλ) before the Adam step); the rule is `adamwStep`. */
export class AdamW extends AdamFamily {
  constructor(params: ParamsInput, options: AdamOptions = {}) {
    super('AdamW', params, adamHyper('AdamW', options, 1e-2));
  }

  protected update(slot: ParamSlot, grad: Storage): boolean {
    const [m, v, maxV] = slot.buffers;
    return adamwStep(slot.param.value.data, grad, m!, v!, slot.steps, this.lr, this.hp, maxV ?? null);
  }
}
