/*
 * Optimiser hyperparameters as JSON, in the shape of the fixtures' `config.optimizer`
 * ({"name": "adam", "lr": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0})
 * and of checkpoint metadata: an optimiser's `hyperparameters()` writes it, `makeOptimizer` (config.ts)
 * reads it back. Types only: the optimiser classes and the factory both depend on this file, never on
 * each other's modules for it.
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
