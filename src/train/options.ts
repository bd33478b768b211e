import type { OptimizerConfigInput } from '../optim/hyperparameters.js';
import type { ScheduleSpec } from '../optim/schedule.js';

/**
 * Everything that determines a training run besides the model, the data and the seed. Plain JSON: it
 * is stored in the checkpoint so `--resume` can check it continues the same run.
 */
export interface TrainerOptions {
  /** Parallel streams B. */
  batch: number;
  /** Window length T (truncated-BPTT horizon). */
  seq: number;
  /** Total steps (one window each) the run should reach. */
  steps: number;
  /** Optimiser (its `lr` is overwritten before each step by the schedule). */
  optimizer: OptimizerConfigInput;
  /** Learning rate per step (indexed by the 0-based trainer step). */
  schedule: ScheduleSpec;
  /** Max global L2 norm of the gradients; 0 disables clipping. */
  clip: number;
  /** Validate every this many steps (0: only at the end). */
  validEvery: number;
  /** Streams used for validation (default: batch). */
  validBatch: number;
  /** Ask for a checkpoint every this many steps (0: only at the end and on interrupt). */
  checkpointEvery: number;
  /** Stop after this many non-finite steps in a row. */
  maxBadSteps: number;
}

export const DEFAULT_MAX_BAD_STEPS = 5;

export function validateTrainerOptions(o: TrainerOptions): void {
  const int = (name: keyof TrainerOptions, min: number): void => {
    const v = o[name];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min)
      throw new RangeError(`Trainer: option ${name} must be an integer ≥ ${min}, got ${String(v)}`);
  };
  int('batch', 1);
  int('seq', 1);
  int('steps', 0);
  int('validEvery', 0);
  int('validBatch', 1);
  int('checkpointEvery', 0);
  int('maxBadSteps', 1);
  if (!(o.clip >= 0) || !Number.isFinite(o.clip)) throw new RangeError(`Trainer: option clip must be a finite number ≥ 0, got ${o.clip}`);
}
