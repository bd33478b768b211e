export { inEvalMode, type LanguageModel } from './model.js';
export { DEFAULT_MAX_BAD_STEPS, validateTrainerOptions, type TrainerOptions } from './options.js';
export {
  Trainer,
  type CheckpointReason,
  type RunOutcome,
  type RunStatus,
  type StepResult,
  type TrainerCallbacks,
  type TrainerData,
} from './trainer.js';
export {
  exportTrainerState,
  importTrainerState,
  readTrainMetadata,
  TRAIN_PREFIX,
  TRAIN_STATE_VERSION,
  type ExportedState,
  type TrainMetadata,
} from './state.js';
export { evaluate, type EvaluateOptions, type Evaluation } from './evaluate.js';
export { dynamicEvaluate, type DynamicEvalOptions, type DynamicEvaluation } from './dynamic-eval.js';
export { LogitSampler, type SamplingOptions } from './sampling.js';
