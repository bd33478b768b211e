import { Adam, AdamW } from './adam.js';
import type { OptimizerConfigInput } from './hyperparameters.js';
import type { Optimizer, ParamsInput } from './optimizer.js';
import { SGD } from './sgd.js';
import { describeValue, knownKeys } from './validate.js';

const ADAM_KEYS = ['name', 'lr', 'beta1', 'beta2', 'eps', 'weight_decay', 'amsgrad'] as const;
const SGD_KEYS = ['name', 'lr', 'momentum', 'dampening', 'weight_decay', 'nesterov'] as const;

/** Build an optimiser from its JSON config (hyperparameters.ts); unknown names and keys are errors, values are validated by the class. */
export function makeOptimizer(params: ParamsInput, config: OptimizerConfigInput): Optimizer {
  if (config === null || typeof config !== 'object')
    throw new TypeError(`makeOptimizer: config must be an object, got ${describeValue(config)}`);
  switch (config.name) {
    case 'sgd': {
      knownKeys('makeOptimizer(sgd)', config, SGD_KEYS);
      return new SGD(params, {
        lr: config.lr,
        ...(config.momentum !== undefined && { momentum: config.momentum }),
        ...(config.dampening !== undefined && { dampening: config.dampening }),
        ...(config.weight_decay !== undefined && { weightDecay: config.weight_decay }),
        ...(config.nesterov !== undefined && { nesterov: config.nesterov }),
      });
    }
    case 'adam':
    case 'adamw': {
      knownKeys(`makeOptimizer(${config.name})`, config, ADAM_KEYS);
      const options = {
        ...(config.lr !== undefined && { lr: config.lr }),
        ...((config.beta1 !== undefined || config.beta2 !== undefined) && {
          betas: [config.beta1 ?? 0.9, config.beta2 ?? 0.999] as const,
        }),
        ...(config.eps !== undefined && { eps: config.eps }),
        ...(config.weight_decay !== undefined && { weightDecay: config.weight_decay }),
        ...(config.amsgrad !== undefined && { amsgrad: config.amsgrad }),
      };
      return config.name === 'adam' ? new Adam(params, options) : new AdamW(params, options);
    }
    default:
      throw new RangeError(
        `makeOptimizer: unknown optimiser name ${describeValue((config as { name?: unknown }).name)} (expected sgd, adam or adamw)`,
      );
  }
}
