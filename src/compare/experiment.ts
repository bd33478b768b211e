import type { Tape } from '../autograd/tape.js';
import { CharLM } from '../nn/charlm.js';
import { Rng } from '../tensor/rng.js';
import { dynamicEvaluate } from '../train/dynamic-eval.js';
import { evaluate } from '../train/evaluate.js';
import { windowDropoutOf, type TrainerOptions } from '../train/options.js';
import { Trainer, type StepResult } from '../train/trainer.js';
import type { CellTiming } from './budget.js';
import type { MatchedSize, SharedShape } from './sizes.js';

/**
 * One comparison run: a model of one cell and size, from one seed, trained on the shared data with the
 * shared options, its validation curve recorded, then scored on the evaluation text plainly (the last
 * point of the curve) and with dynamic evaluation. And the calibration that times a cell before the
 * budget is planned (budget.ts).
 */

/** What every run of a comparison shares. */
export interface ComparisonSetup {
  shape: SharedShape;
  /** Every option of the runs: the same steps, windows, optimiser, schedule and clipping for every cell. validBatch 1: the curve scores the evaluation text as one sequence. */
  trainer: TrainerOptions;
  /** Dynamic evaluation's SGD learning rate and segment length. */
  dynamic: { lr: number; seq: number };
  /** The training tokens. */
  train: Int32Array;
  /** The held-out tokens every score is computed on (the curve, the final and the dynamic bpc). */
  evalText: Int32Array;
  /** Names the training text in errors (see TrainerData). */
  source?: string;
}

/** One point of a validation curve. */
export interface CurvePoint {
  step: number;
  /** Training characters seen: step · batch · seq. */
  chars: number;
  /** Training wall seconds so far (validations excluded). */
  seconds: number;
  bpc: number;
}

/** One run's result, as the JSON report stores it (snake_case keys). */
export interface ComparisonRun {
  cell: string;
  hidden: number;
  params: number;
  seed: number;
  /** 'diverged': stopped after too many non-finite steps (no scores). */
  status: 'completed' | 'diverged';
  /** Bits/char of the evaluation text at the end of training (one sequence, state carried). */
  valid_bpc: number | null;
  /** Bits/char under dynamic evaluation of the same text (null if diverged or it failed). */
  dynamic_bpc: number | null;
  /** Training characters per second (validations excluded). */
  chars_per_s: number;
  train_seconds: number;
  /** Training characters seen. */
  chars: number;
  curve: CurvePoint[];
}

/** How a run reports progress and is stopped. */
export interface RunHooks {
  tape: Tape;
  /** Milliseconds (performance.now in a browser or Node). */
  clock: () => number;
  onStep?(result: StepResult): void;
  onValidation?(step: number, bpc: number): void;
  onWarning?(message: string): void;
  /** Polled before every step: true abandons the run (runComparisonOne returns null). */
  shouldStop?(): boolean;
  yieldToHost?(): Promise<void>;
}

/** The model of a run: its cell and size, initialised from the seed. */
export function comparisonModel(setup: ComparisonSetup, size: MatchedSize, seed: number): CharLM {
  const { vocab, embed, layers } = setup.shape;
  return new CharLM({ cell: size.cell, weightNorm: false, vocab, embed, hidden: size.hidden, layers }, { rng: new Rng(seed) });
}

function trainerFor(
  setup: ComparisonSetup,
  model: CharLM,
  seed: number,
  options: TrainerOptions,
  tape: Tape,
  valid: Int32Array | null,
): Trainer {
  const p = windowDropoutOf(options);
  const rng = p.embed > 0 || p.hidden > 0 ? new Rng(seed).fork() : undefined;
  const data = { train: setup.train, valid, ...(setup.source !== undefined ? { source: setup.source } : {}) };
  return new Trainer(model, data, options, { tape, ...(rng ? { rng } : {}) });
}

/**
 * Train and score one run. Resolves to the run and its trained model, or null when `shouldStop` ended
 * it early (an unfinished run is not a result).
 */
export async function runComparisonOne(
  setup: ComparisonSetup,
  size: MatchedSize,
  seed: number,
  hooks: RunHooks,
): Promise<{ run: ComparisonRun; model: CharLM } | null> {
  const { clock, tape } = hooks;
  const model = comparisonModel(setup, size, seed);
  const trainer = trainerFor(setup, model, seed, setup.trainer, tape, setup.evalText);
  const { batch, seq } = setup.trainer;
  const curve: CurvePoint[] = [{ step: 0, chars: 0, seconds: 0, bpc: trainer.validate() }];
  let trainMs = 0;
  let mark = clock();
  const outcome = await trainer.run({
    onStep: (r) => {
      const now = clock();
      trainMs += now - mark;
      mark = now;
      hooks.onStep?.(r);
    },
    onValidation: (step, bpc) => {
      curve.push({ step, chars: step * batch * seq, seconds: trainMs / 1000, bpc });
      hooks.onValidation?.(step, bpc);
      mark = clock(); // the validation is not training time
    },
    ...(hooks.onWarning ? { onWarning: hooks.onWarning } : {}),
    ...(hooks.shouldStop ? { shouldStop: hooks.shouldStop } : {}),
    ...(hooks.yieldToHost ? { yieldToHost: hooks.yieldToHost } : {}),
  });
  if (outcome.status === 'interrupted') return null;
  // A step threw (e.g. a worker of a parallel backend died): no score for this run; the caller reports it.
  if (outcome.status === 'failed') throw outcome.error;
  const chars = trainer.step * batch * seq;
  const row = (status: ComparisonRun['status'], valid: number | null, dynamic: number | null): ComparisonRun => ({
    cell: size.cell,
    hidden: size.hidden,
    params: size.params,
    seed,
    status,
    valid_bpc: valid,
    dynamic_bpc: dynamic,
    chars_per_s: trainMs > 0 ? chars / (trainMs / 1000) : 0,
    train_seconds: trainMs / 1000,
    chars,
    curve,
  });
  if (outcome.status === 'diverged') {
    hooks.onWarning?.(`${size.cell} seed ${seed}: ${outcome.message ?? 'diverged'}`);
    return { run: row('diverged', null, null), model };
  }
  let dynamic: number | null = null;
  try {
    dynamic = dynamicEvaluate(model, setup.evalText, { ...setup.dynamic, tape }).bpc;
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    hooks.onWarning?.(`${size.cell} seed ${seed}: dynamic evaluation failed: ${e.message}`);
  }
  return { run: row('completed', curve[curve.length - 1]!.bpc, dynamic), model };
}

/** How much a calibration measures. */
export interface CalibrationOptions {
  /** Untimed steps first (the engine's first windows are slower: compilation, buffer growth). Default 2. */
  warmup?: number;
  /** Timed training steps. Default 3. */
  steps?: number;
  /** Characters of the evaluation text timed for plain and dynamic evaluation. Default 2000 and 1000. */
  evalChars?: number;
  dynamicChars?: number;
}

/**
 * Time one cell at its size on this machine, now: seconds per training step, and characters per second
 * of plain and of dynamic evaluation. The model is thrown away; the numbers feed planBudget.
 */
export async function calibrate(
  setup: ComparisonSetup,
  size: MatchedSize,
  hooks: RunHooks,
  options: CalibrationOptions = {},
): Promise<CellTiming> {
  const warmup = options.warmup ?? 2;
  const steps = options.steps ?? 3;
  const { clock, tape } = hooks;
  const model = comparisonModel(setup, size, 0);
  const trainer = trainerFor(setup, model, 0, { ...setup.trainer, steps: warmup + steps }, tape, null);
  const pause = hooks.yieldToHost ?? ((): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0)));
  for (let i = 0; i < warmup; i++) {
    trainer.trainStep();
    await pause();
  }
  let stepMs = 0;
  for (let i = 0; i < steps; i++) {
    const t0 = clock();
    trainer.trainStep();
    stepMs += clock() - t0;
    await pause();
  }
  const n = setup.evalText.length;
  const plain = setup.evalText.subarray(0, Math.max(2, Math.min(n, options.evalChars ?? 2000)));
  let t0 = clock();
  evaluate(model, plain, { batch: 1, tape });
  const evalMs = clock() - t0;
  const dyn = setup.evalText.subarray(0, Math.max(2, Math.min(n, options.dynamicChars ?? 1000)));
  t0 = clock();
  dynamicEvaluate(model, dyn, { ...setup.dynamic, tape });
  const dynMs = clock() - t0;
  const rate = (chars: number, ms: number): number => chars / Math.max(ms, 1e-3) / 1e-3;
  return {
    cell: size.cell,
    secondsPerStep: stepMs / steps / 1000,
    evalCharsPerSecond: rate(plain.length, evalMs),
    dynamicCharsPerSecond: rate(dyn.length, dynMs),
  };
}
