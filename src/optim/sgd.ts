import type { Storage } from '../tensor/dtype.js';
import type { SgdConfig } from './hyperparameters.js';
import { Optimizer, type ParamSlot, type ParamsInput } from './optimizer.js';
import { sgdStep, type SgdHyper } from './rules.js';
import { boolean, nonNegative, unitClosed } from './validate.js';

export interface SgdOptions {
  /** Learning rate γ ≥ 0 (required, as in PyTorch). */
  lr: number;
  /** Momentum factor μ ≥ 0 (default 0: plain SGD, no buffer). */
  momentum?: number;
  /** Dampening τ ∈ [0, 1] (default 0). */
  dampening?: number;
  /** L2 penalty λ ≥ 0 added to the gradient (default 0). */
  weightDecay?: number;
  /** Nesterov momentum (default false); needs μ > 0 and τ = 0. */
  nesterov?: boolean;
}

/** The validated options: the learning rate (the optimiser's, changed by schedules) and the fixed rest. */
function sgdHyper(options: SgdOptions): { lr: number; hp: SgdHyper } {
  const owner = 'SGD';
  if (options === null || typeof options !== 'object') throw new TypeError(`${owner}: options must be an object with at least lr`);
  const lr = nonNegative(owner, 'lr', options.lr);
  const hp: SgdHyper = {
    momentum: nonNegative(owner, 'momentum', options.momentum ?? 0),
    dampening: unitClosed(owner, 'dampening', options.dampening ?? 0),
    weightDecay: nonNegative(owner, 'weightDecay', options.weightDecay ?? 0),
    nesterov: boolean(owner, 'nesterov', options.nesterov ?? false),
  };
  if (hp.nesterov && (hp.momentum <= 0 || hp.dampening !== 0)) {
    throw new RangeError(`SGD: nesterov requires momentum > 0 and dampening = 0 (got momentum ${hp.momentum}, dampening ${hp.dampening})`);
  }
  return { lr, hp };
}

/** torch.optim.SGD: momentum, dampening, Nesterov and L2 weight decay; the rule is `sgdStep`. */
export class SGD extends Optimizer {
  private readonly hp: SgdHyper;

  constructor(params: ParamsInput, options: SgdOptions) {
    const { lr, hp } = sgdHyper(options);
    super('SGD', params, lr, hp.momentum !== 0 ? ['momentum_buffer'] : []);
    this.hp = hp;
  }

  get momentum(): number {
    return this.hp.momentum;
  }
  get dampening(): number {
    return this.hp.dampening;
  }
  get weightDecay(): number {
    return this.hp.weightDecay;
  }
  get nesterov(): boolean {
    return this.hp.nesterov;
  }

  protected update(slot: ParamSlot, grad: Storage): boolean {
    const buffer = this.hp.momentum !== 0 ? slot.buffers[0]! : null;
    return sgdStep(slot.param.value.data, grad, buffer, slot.steps === 1, this.lr, this.hp);
  }

  hyperparameters(): SgdConfig {
    const { momentum, dampening, weightDecay, nesterov } = this.hp;
    return { name: 'sgd', lr: this.lr, momentum, dampening, weight_decay: weightDecay, nesterov };
  }
}
