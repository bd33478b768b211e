import { Adam, AdamW } from './adam.js';
import type { Optimizer, ParamsInput } from './optimizer.js';
import { SGD } from './sgd.js';
import { describeValue, knownKeys } from './validate.js';

/*
 * Optimiser hyperparameters as JSON, in the shape of the fixtures' `config.optimizer`
 * ({"name": "adam", "lr": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0})
 * and of checkpoint metadata: `hyperparameters()` writes it, `makeOptimizer` reads it back.
 */

export interface SgdConfig {
  name: 'sgd';
  lr: number;
  momentum: number;
  dampening: number;
  weight_decay: number;
  nesterov: boolean;
}

export interface AdamConfig {
  name: 'adam' | 'adamw';
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weight_decay: number;
  amsgrad: boolean;
}

export type OptimizerConfig = SgdConfig | AdamConfig;

/** A config as read from JSON: every field but `name` (and `lr` for SGD) may be left to its default. */
export type OptimizerConfigInput =
  | ({ name: 'sgd'; lr: number } & Partial<Omit<SgdConfig, 'name' | 'lr'>>)
  | ({ name: 'adam' | 'adamw' } & Partial<Omit<AdamConfig, 'name'>>);

const ADAM_KEYS = ['name', 'lr', 'beta1', 'beta2', 'eps', 'weight_decay', 'amsgrad'] as const;
const SGD_KEYS = ['name', 'lr', 'momentum', 'dampening', 'weight_decay', 'nesterov'] as const;

/** Build an optimiser from its JSON config; unknown names and keys are errors, values are validated by the class. */
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
