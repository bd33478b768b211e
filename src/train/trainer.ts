import type { Tape } from '../autograd/tape.js';
import { tapeFor, type ComputeOptions } from './default-tape.js';
import { makeOptimizer } from '../optim/config.js';
import { clipGradNorm } from '../optim/clip.js';
import type { Optimizer } from '../optim/optimizer.js';
import { makeSchedule, type Schedule } from '../optim/schedule.js';
import type { Rng } from '../tensor/rng.js';
import { tokensFingerprint } from '../data/split.js';
import { WindowStreams } from '../data/streams.js';
import { evaluate } from './evaluate.js';
import type { LayerState } from '../nn/state.js';
import { LN2, type LanguageModel } from './model.js';
import { validateTrainerOptions, windowDropoutOf, type TrainerOptions } from './options.js';
import { drawWindowMasks, type WindowMasks } from '../nn/window-dropout.js';

/** What one training step did. */
export interface StepResult {
  /** Steps completed, this one included (1-based). */
  step: number;
  /** Mean cross-entropy of the window in nats (NaN/Inf when skipped for it). */
  loss: number;
  bpc: number;
  /** Global gradient norm before clipping (NaN when the loss was already non-finite). */
  gradNorm: number;
  lr: number;
  /** True when the update was skipped because the loss or the gradient was not finite. */
  skipped: boolean;
}

export type RunStatus = 'completed' | 'interrupted' | 'diverged' | 'failed';

export interface RunOutcome {
  status: RunStatus;
  /** Steps completed: with 'failed', the last good state (the checkpoint asked for holds it). */
  step: number;
  /** Why the run stopped early ('diverged', 'failed'). */
  message?: string;
  /** What a step or a validation threw ('failed'): e.g. a GemmWorkerFault of a parallel backend. */
  error?: unknown;
  /** The last validation bits/char, if any. */
  validBpc?: number;
}

/** Why a checkpoint is asked for; 'failed': a step or validation threw, and the state is the last good one. */
export type CheckpointReason = 'periodic' | 'final' | 'interrupted' | 'failed';

export interface TrainerCallbacks {
  onStep?(result: StepResult): void;
  onValidation?(step: number, bpc: number): void;
  onWarning?(message: string): void;
  /** Persist the run (the caller encodes `trainer.exportState()` with the model and writes it). */
  onCheckpoint?(reason: CheckpointReason, step: number): void | Promise<void>;
  /** Polled before every step: true stops the run (status 'interrupted', a checkpoint is requested). */
  shouldStop?(): boolean;
  /**
   * Let the host handle events (Ctrl-C) between steps. Default: a zero-delay timer at most every
   * 50 ms. Awaiting it does not change any number the run computes.
   */
  yieldToHost?(): Promise<void>;
}

export interface TrainerData {
  train: Int32Array;
  /** Validation tokens (null: no validation). */
  valid: Int32Array | null;
  /** Names the training text in errors (default 'training text'). */
  source?: string;
  /** What a token is, for errors: 'characters' (default) or 'bytes'. */
  unit?: string;
}

/**
 * Truncated-BPTT training of a character language model on B contiguous streams: each step reads the
 * next window of T tokens per stream, draws the window's dropout masks (options embedDropout,
 * hiddenDropout; docs/training.md), runs the model from the state carried (detached) from the
 * previous window, back-propagates the mean cross-entropy, clips the global gradient norm and applies
 * the optimiser with the scheduled learning rate. The carried state restarts from zero at the start of
 * each pass over the text. A step whose loss or gradient norm is not finite changes neither the
 * parameters nor the optimiser nor the carried state (it still consumes its window); `maxBadSteps` of
 * them in a row stop the run as 'diverged'.
 *
 * Everything that influences later numbers (parameters, optimiser moments and counts, step, data cursor,
 * carried state, the RNG given for dropout) is in `exportState()`, so a run resumed from it computes the
 * same numbers as one that was never interrupted.
 *
 * A step that throws before it updates anything (the forward or backward pass: a worker of a parallel
 * backend failing, say) is rewound: the data cursor and the dropout generator go back to where the
 * step found them, so the trainer is exactly as after the last completed step, and `run` saves that
 * state ('failed' checkpoint) before it reports the failure. Resumed from it, the run gives the numbers
 * an uninterrupted one would have.
 */
export class Trainer {
  readonly model: LanguageModel;
  readonly options: TrainerOptions;
  readonly optimizer: Optimizer;
  readonly streams: WindowStreams;
  readonly valid: Int32Array | null;
  /** The generator the model draws dropout masks from (saved and restored with the run), if any. */
  readonly rng: Rng | null;
  readonly dataFingerprint: string;
  private readonly schedule: Schedule;
  private readonly tape: Tape;
  private carried: LayerState[];
  private completed = 0;
  private badInARow = 0;
  private bpcHistory: Float32Array;
  private validations: [number, number][] = [];
  /** The window's embedding/hidden-dropout masks, redrawn in place every step (null without that dropout). */
  private readonly masks: WindowMasks | null;
  /** The error the last trainStep threw after rewinding itself (run reports it as 'failed'). */
  private rewoundFor: unknown = undefined;

  constructor(model: LanguageModel, data: TrainerData, options: TrainerOptions, extras: { rng?: Rng } & ComputeOptions = {}) {
    validateTrainerOptions(options);
    this.model = model;
    this.options = options;
    this.streams = new WindowStreams(data.train, options.batch, options.seq, data.source, data.unit);
    this.valid = data.valid && data.valid.length >= 2 ? data.valid : null;
    this.rng = extras.rng ?? null;
    this.masks = model.windowMasks(options.batch, windowDropoutOf(options));
    if (this.masks && !this.rng)
      throw new RangeError(
        'Trainer: embedDropout and hiddenDropout need a seeded generator (extras.rng), saved with the run so a resumed run draws the same masks',
      );
    this.tape = tapeFor(extras);
    this.optimizer = makeOptimizer(model.namedParameters(), options.optimizer);
    this.schedule = makeSchedule(options.schedule);
    this.carried = model.zeroState(options.batch);
    this.bpcHistory = new Float32Array(options.steps).fill(NaN);
    this.dataFingerprint = tokensFingerprint(data.train);
  }

  /** Steps completed so far. */
  get step(): number {
    return this.completed;
  }

  /** Non-finite steps in a row so far. */
  get consecutiveBadSteps(): number {
    return this.badInARow;
  }

  /** Training bits/char of steps 1..step (NaN for skipped steps); a copy. */
  get history(): Float32Array {
    return this.bpcHistory.slice(0, this.completed);
  }

  /** [step, validation bits/char] so far; a copy. */
  get validationHistory(): [number, number][] {
    return this.validations.map(([s, b]) => [s, b]);
  }

  get carriedState(): LayerState[] {
    return this.carried;
  }

  /**
   * One window: forward, backward, clip, update (or skip when anything is non-finite). If the forward
   * or backward pass throws, nothing has been updated yet: the step is rewound (data cursor, dropout
   * generator) and the error rethrown, so the trainer stays as after the last completed step.
   */
  trainStep(): StepResult {
    const { model, streams, tape, optimizer } = this;
    const { batch: B, seq: T } = this.options;
    const cursor = streams.cursor;
    const rngState = this.rng?.getState();
    let carried = this.carried;
    let out: ReturnType<LanguageModel['loss']>;
    let loss: number;
    let gradNorm = NaN;
    try {
      const where = streams.next();
      if (where.startsEpoch) carried = model.zeroState(B);
      if (this.masks) drawWindowMasks(this.rng!, this.masks, windowDropoutOf(this.options));
      model.zeroGrad();
      out = model.loss(tape, streams.inputs, streams.targets, T, B, carried, this.masks);
      loss = out.loss.value.item();
      if (Number.isFinite(loss)) {
        tape.backward(out.loss);
        gradNorm = clipGradNorm(model.parameters(), this.options.clip > 0 ? this.options.clip : Infinity);
      } else {
        tape.clear();
      }
    } catch (error) {
      streams.seek(cursor);
      if (rngState) this.rng!.setState(rngState);
      tape.clear();
      this.rewoundFor = error;
      throw error;
    }
    this.carried = carried;
    const lr = this.schedule(this.completed);
    let skipped = true;
    if (Number.isFinite(loss) && Number.isFinite(gradNorm)) {
      optimizer.lr = lr;
      optimizer.step(); // throws (after a full update) only if finite gradients overflowed a parameter
      skipped = false;
    }
    if (skipped) {
      this.badInARow++;
    } else {
      this.badInARow = 0;
      this.carried = model.detachState(out.state);
    }
    const bpc = loss / LN2;
    if (this.completed >= this.bpcHistory.length) this.growHistory(this.completed + 1);
    this.bpcHistory[this.completed] = skipped ? NaN : bpc;
    this.completed++;
    return { step: this.completed, loss, bpc, gradNorm, lr, skipped };
  }

  /** Bits/char on the validation text (B streams, state carried through each; see `evaluate`). */
  validate(): number {
    if (!this.valid) throw new RangeError('Trainer.validate: no validation text');
    return evaluate(this.model, this.valid, { batch: this.options.validBatch, seq: this.options.seq, tape: this.tape }).bpc;
  }

  /** Validate now and remember the result for the curves. */
  recordValidation(): number {
    const bpc = this.validate();
    const last = this.validations[this.validations.length - 1];
    if (last && last[0] === this.completed) last[1] = bpc;
    else this.validations.push([this.completed, bpc]);
    return bpc;
  }

  /**
   * Train until `options.steps`, validating and asking for checkpoints as configured. Returns when done,
   * interrupted (a checkpoint is requested first), diverged (no checkpoint: the last good one stays) or
   * failed: a step threw and was rewound, or a validation threw, and a 'failed' checkpoint of the state
   * after the last completed step is requested before returning (the error is in the outcome). Anything
   * else thrown (a checkpoint that cannot be written; an update that overflowed) propagates.
   */
  async run(callbacks: TrainerCallbacks = {}): Promise<RunOutcome> {
    const { steps, validEvery, checkpointEvery, maxBadSteps } = this.options;
    const yieldToHost = callbacks.yieldToHost ?? defaultYield();
    let validBpc: number | undefined;
    const validateNow = (): void => {
      if (!this.valid) return;
      validBpc = this.recordValidation();
      callbacks.onValidation?.(this.completed, validBpc);
    };
    const failed = async (error: unknown): Promise<RunOutcome> => {
      await callbacks.onCheckpoint?.('failed', this.completed);
      const message = error instanceof Error ? error.message : String(error);
      return { status: 'failed', step: this.completed, message, error, ...(validBpc !== undefined && { validBpc }) };
    };
    // A run saved when its validation failed resumes with that validation, as if it had never stopped.
    const last = this.validations[this.validations.length - 1];
    if (
      this.valid &&
      validEvery > 0 &&
      this.completed > 0 &&
      this.completed < steps &&
      this.completed % validEvery === 0 &&
      last?.[0] !== this.completed
    ) {
      try {
        validateNow();
      } catch (error) {
        return failed(error);
      }
    }
    while (this.completed < steps) {
      if (callbacks.shouldStop?.()) {
        await callbacks.onCheckpoint?.('interrupted', this.completed);
        return { status: 'interrupted', step: this.completed, ...(validBpc !== undefined && { validBpc }) };
      }
      let r: StepResult;
      try {
        r = this.trainStep();
      } catch (error) {
        if (error !== this.rewoundFor) throw error;
        this.rewoundFor = undefined;
        return failed(error);
      }
      callbacks.onStep?.(r);
      if (r.skipped) {
        const what = Number.isFinite(r.loss) ? `gradient norm ${r.gradNorm}` : `loss ${r.loss}`;
        callbacks.onWarning?.(`step ${r.step}: ${what} is not finite; update skipped (${this.badInARow} in a row)`);
        if (this.badInARow >= maxBadSteps) {
          return {
            status: 'diverged',
            step: this.completed,
            message: `training diverged: ${this.badInARow} non-finite steps in a row (last at step ${r.step}); the last good checkpoint is kept — try a lower --lr or --clip`,
          };
        }
        continue;
      }
      if (this.completed < steps) {
        if (validEvery > 0 && this.completed % validEvery === 0) {
          try {
            validateNow();
          } catch (error) {
            return failed(error);
          }
        }
        if (checkpointEvery > 0 && this.completed % checkpointEvery === 0) await callbacks.onCheckpoint?.('periodic', this.completed);
      }
      await yieldToHost();
    }
    try {
      if (this.valid && (this.validations.length === 0 || this.validations[this.validations.length - 1]![0] !== this.completed))
        validateNow();
      else if (this.validations.length > 0) validBpc = this.validations[this.validations.length - 1]![1];
    } catch (error) {
      return failed(error);
    }
    await callbacks.onCheckpoint?.('final', this.completed);
    return { status: 'completed', step: this.completed, ...(validBpc !== undefined && { validBpc }) };
  }

  /** @internal used by state.ts to restore a run */
  restore(fields: {
    step: number;
    badInARow: number;
    carried: LayerState[];
    history: Float32Array;
    validations: [number, number][];
  }): void {
    this.completed = fields.step;
    this.badInARow = fields.badInARow;
    this.carried = fields.carried;
    this.growHistory(Math.max(this.options.steps, fields.step));
    this.bpcHistory.fill(NaN);
    this.bpcHistory.set(fields.history.subarray(0, fields.step));
    this.validations = fields.validations.map(([s, b]) => [s, b]);
  }

  private growHistory(length: number): void {
    if (length <= this.bpcHistory.length) return;
    const grown = new Float32Array(length).fill(NaN);
    grown.set(this.bpcHistory);
    this.bpcHistory = grown;
  }
}

function defaultYield(): () => Promise<void> {
  let last = Date.now();
  return async () => {
    const now = Date.now();
    if (now - last < 50) return;
    last = now;
    await new Promise<void>((resolve) => setTimeout(resolve, 0));
  };
}
