export { Optimizer, OPTIM_PREFIX, type ParamsInput, type ParamSlot, type OptimizerLoadOptions } from './optimizer.js';
export { SGD, type SgdOptions } from './sgd.js';
export { Adam, AdamW, type AdamOptions } from './adam.js';
export { sgdStep, adamStep, adamwStep, type SgdHyper, type AdamHyper } from './rules.js';
export { clipGradNorm, globalGradNorm, CLIP_EPS } from './clip.js';
export { constant, linearDecay, cosine, warmup, makeSchedule, type Schedule, type ScheduleSpec } from './schedule.js';
export { makeOptimizer } from './config.js';
export type { OptimizerConfig, OptimizerConfigInput, SgdConfig, AdamConfig } from './hyperparameters.js';
