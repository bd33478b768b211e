/**
 * How a time budget becomes one number of training steps shared by every run of a comparison. Every
 * cell must see the same characters, so the budget cannot simply stop each run on a clock: instead each
 * cell's speed is measured first (a few timed training steps, a timed evaluation), and the common step
 * count N is the largest for which
 *
 *   seeds · Σ_cells ( N · secondsPerStep_c + evaluations · evalChars / evalCharsPerSecond_c
 *                                          + evalChars / dynamicCharsPerSecond_c )
 *
 * fits in what is left of the budget after the calibration, less a safety margin (the machine may be
 * slower later than when it was measured). `evaluations` is the number of points on each validation
 * curve: the start, then every `validEvery` steps, and the end.
 */

export interface CellTiming {
  cell: string;
  /** Wall seconds of one training step (one window of B·T characters). */
  secondsPerStep: number;
  /** Characters per second of a plain evaluation (one sequence, no gradients). */
  evalCharsPerSecond: number;
  /** Characters per second of dynamic evaluation (forward, backward and an SGD step per segment). */
  dynamicCharsPerSecond: number;
}

export interface BudgetRequest {
  /** The whole budget, in seconds. */
  budgetSeconds: number;
  /** Already spent (the calibration), in seconds. */
  spentSeconds: number;
  seeds: number;
  /** Characters of the evaluation text. */
  evalChars: number;
  /** Validation points per curve besides the start (the end included). */
  curvePoints: number;
  /** Share of the remaining time kept in reserve (default 0.1). */
  margin?: number;
  /** Fewer steps than this is an error: the budget is too small to say anything (default 10). */
  minSteps?: number;
}

export interface BudgetPlan {
  steps: number;
  /** Validate every this many steps (⌈steps / curvePoints⌉). */
  validEvery: number;
  /** Predicted wall seconds of all runs (calibration excluded). */
  estimatedSeconds: number;
}

/** Predicted seconds of one run of a cell: training, the curve's evaluations, dynamic evaluation. */
export function runSeconds(t: CellTiming, steps: number, validEvery: number, evalChars: number): number {
  const evaluations = 1 + Math.ceil(steps / validEvery);
  return steps * t.secondsPerStep + (evaluations * evalChars) / t.evalCharsPerSecond + evalChars / t.dynamicCharsPerSecond;
}

/** The common step count for a budget (see the file comment); a budget too small for `minSteps` is an error naming what it needs. */
export function planBudget(timings: readonly CellTiming[], request: BudgetRequest): BudgetPlan {
  const { budgetSeconds, spentSeconds, seeds, evalChars, curvePoints } = request;
  const margin = request.margin ?? 0.1;
  const minSteps = request.minSteps ?? 10;
  if (timings.length === 0) throw new RangeError('planBudget: no cells to time');
  const available = (budgetSeconds - spentSeconds) * (1 - margin);
  const perStep = timings.reduce((s, t) => s + t.secondsPerStep, 0);
  // Evaluation cost per seed, with the curve at its full number of points (curvePoints + 1 evaluations).
  const fixed = timings.reduce(
    (s, t) => s + ((curvePoints + 1) * evalChars) / t.evalCharsPerSecond + evalChars / t.dynamicCharsPerSecond,
    0,
  );
  const steps = Math.floor((available / seeds - fixed) / perStep);
  if (!(steps >= minSteps)) {
    const needed = spentSeconds + (seeds * (fixed + minSteps * perStep)) / (1 - margin);
    throw new RangeError(
      `a budget of ${formatMinutes(budgetSeconds)} leaves fewer than ${minSteps} training steps per run (${seeds} seeds × ${timings.length} cells); ` +
        `it needs at least ${formatMinutes(needed)} on this machine now, or fewer seeds, cells or evaluation characters`,
    );
  }
  const validEvery = Math.max(1, Math.ceil(steps / curvePoints));
  const estimatedSeconds = seeds * timings.reduce((s, t) => s + runSeconds(t, steps, validEvery, evalChars), 0);
  return { steps, validEvery, estimatedSeconds };
}

function formatMinutes(seconds: number): string {
  return `${(seconds / 60).toFixed(1)} minutes`;
}
