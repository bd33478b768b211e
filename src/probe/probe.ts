/**
 * A linear probe: an L1-regularised logistic regression on standardised features, for labels that are
 * any strings. Two classes: one classifier, classes[1] against classes[0] (classes sorted). More than
 * two: one-vs-rest, one classifier per class, the prediction being the class of the highest score
 * (the binary solver and its KKT guarantee carry over unchanged; softmax would need its own solver).
 *
 * λ is given, or chosen by k-fold cross-validation on the training rows over a geometric grid below
 * λ_max (where every weight is zero), fitting each fold's path from large λ to small with warm starts.
 * Each fold standardises with its own training rows, so held-out rows never leak into a fit.
 */
import { computeStandardization, StandardizedMatrix, type DesignMatrix, type Standardization } from './design.js';
import { fitL1Logistic, lambdaMax, type L1LogisticFit } from './logistic.js';

export const PROBE_FORMAT = 'mlstm-probe/1';

export interface Probe {
  format: typeof PROBE_FORMAT;
  /** Sorted distinct labels. */
  classes: string[];
  lambda: number;
  /** Input standardisation: x̃_j = (x_j − mean_j) / scale_j. */
  mean: number[];
  scale: number[];
  /** [classifiers][features] over standardised inputs; 1 classifier for 2 classes, else one per class. */
  weights: number[][];
  bias: number[];
  /** Where the features come from (pool, checkpoint, n-gram settings), informational. */
  info: Record<string, string | number>;
}

export interface FitProbeOptions {
  /** λ; omitted = chosen by cross-validation. */
  lambda?: number;
  folds?: number; // default 3
  /** λ values tried, from λ_max·10^(−3/grid) down to λ_max·10^(−3) (default 8). */
  grid?: number;
  /** KKT tolerance of each fit (default max(1e-6, λ/100): ample for predictions, and cheap at large λ). */
  tolerance?: number;
  maxIterations?: number; // default 5000
  solver?: 'auto' | 'cd' | 'fista'; // default 'auto' (see logistic.ts)
  info?: Record<string, string | number>;
  /** Progress messages (e.g. "cv fold 2/3"). */
  onProgress?: (message: string) => void;
}

export interface CrossValidation {
  lambdas: number[];
  accuracies: number[];
}

export interface ProbeFit {
  probe: Probe;
  crossValidation?: CrossValidation;
  /** Classifiers whose fit hit maxIterations before meeting the tolerance. */
  unconverged: number;
  iterations: number;
}

/** Sorted distinct labels and each row's class index. */
export function encodeLabels(labels: readonly string[], classes?: readonly string[]): { classes: string[]; targets: Int32Array } {
  const list = classes ? [...classes] : [...new Set(labels)].sort();
  const index = new Map(list.map((c, k) => [c, k]));
  const targets = new Int32Array(labels.length);
  labels.forEach((l, i) => {
    const k = index.get(l);
    if (k === undefined)
      throw new RangeError(
        `encodeLabels: label ${JSON.stringify(l)} of row ${i} is not one of the probe's classes ${JSON.stringify(list)}`,
      );
    targets[i] = k;
  });
  return { classes: list, targets };
}

/** The 0/1 targets of each classifier. */
function classifierTargets(targets: Int32Array, classCount: number): Float64Array[] {
  const count = classCount === 2 ? 1 : classCount;
  return Array.from({ length: count }, (_, k) => Float64Array.from(targets, (t) => (classCount === 2 ? t : t === k ? 1 : 0)));
}

function fitAll(x: DesignMatrix, ys: Float64Array[], lambda: number, options: FitProbeOptions, warm?: L1LogisticFit[]): L1LogisticFit[] {
  return ys.map((y, k) =>
    fitL1Logistic(x, y, {
      lambda,
      tolerance: options.tolerance ?? Math.max(1e-6, lambda / 100),
      maxIterations: options.maxIterations ?? 5000,
      solver: options.solver ?? 'auto',
      initial: warm ? { weights: warm[k]!.weights, bias: warm[k]!.bias } : undefined,
    }),
  );
}

/** Predicted class index per row from scores [rows][classifiers]. */
function argmaxClasses(x: DesignMatrix, fits: readonly { weights: ArrayLike<number>; bias: number }[]): Int32Array {
  const n = x.rows;
  const out = new Int32Array(n);
  const best = new Float64Array(n).fill(-Infinity);
  const z = new Float64Array(n);
  fits.forEach((f, k) => {
    x.mul(Float64Array.from(f.weights), z);
    for (let i = 0; i < n; i++) {
      const s = z[i]! + f.bias;
      if (fits.length === 1) out[i] = s > 0 ? 1 : 0;
      else if (s > best[i]!) {
        best[i] = s;
        out[i] = k;
      }
    }
  });
  return out;
}

function accuracyOfTargets(predicted: Int32Array, targets: Int32Array): number {
  let right = 0;
  for (let i = 0; i < targets.length; i++) if (predicted[i] === targets[i]) right++;
  return right / targets.length;
}

/** Choose λ by k-fold cross-validation (folds: rows i with i mod k = f, deterministic). */
export function crossValidateLambda(
  base: DesignMatrix,
  targets: Int32Array,
  classCount: number,
  options: FitProbeOptions,
): CrossValidation {
  const folds = options.folds ?? 3;
  const grid = options.grid ?? 8;
  if (!Number.isInteger(folds) || folds < 2) throw new RangeError(`crossValidateLambda: folds must be an integer ≥ 2, got ${folds}`);
  if (!Number.isInteger(grid) || grid < 1) throw new RangeError(`crossValidateLambda: grid must be a positive integer, got ${grid}`);
  if (base.rows < folds * 2) throw new RangeError(`crossValidateLambda: ${base.rows} rows are too few for ${folds}-fold cross-validation`);
  const full = new StandardizedMatrix(base, computeStandardization(base));
  const ys = classifierTargets(targets, classCount);
  const top = Math.max(...ys.map((y) => lambdaMax(full, y)));
  const lambdas = Array.from({ length: grid }, (_, i) => top * 10 ** ((-3 * (i + 1)) / grid));
  const correct = new Float64Array(grid);
  for (let f = 0; f < folds; f++) {
    options.onProgress?.(`cross-validation fold ${f + 1}/${folds}`);
    const trainRows: number[] = [];
    const heldRows: number[] = [];
    for (let i = 0; i < base.rows; i++) (i % folds === f ? heldRows : trainRows).push(i);
    const trainBase = base.selectRows(trainRows);
    const standardization = computeStandardization(trainBase);
    const xTrain = new StandardizedMatrix(trainBase, standardization);
    const xHeld = new StandardizedMatrix(base.selectRows(heldRows), standardization);
    const trainTargets = Int32Array.from(trainRows, (i) => targets[i]!);
    const heldTargets = Int32Array.from(heldRows, (i) => targets[i]!);
    const trainYs = classifierTargets(trainTargets, classCount);
    let warm: L1LogisticFit[] | undefined;
    lambdas.forEach((lambda, g) => {
      warm = fitAll(xTrain, trainYs, lambda, options, warm);
      correct[g]! += accuracyOfTargets(argmaxClasses(xHeld, warm), heldTargets) * heldRows.length;
    });
  }
  return { lambdas, accuracies: Array.from(correct, (c) => c / base.rows) };
}

/** Fit a probe on raw features `x` [rows, units] with one label per row. */
export function fitProbe(x: DesignMatrix, labels: readonly string[], options: FitProbeOptions = {}): ProbeFit {
  const op = 'fitProbe';
  if (labels.length !== x.rows) throw new RangeError(`${op}: ${labels.length} labels for ${x.rows} rows`);
  const { classes, targets } = encodeLabels(labels);
  if (classes.length < 2)
    throw new RangeError(`${op}: the training labels hold ${classes.length} class (${JSON.stringify(classes)}); a probe needs at least 2`);
  if (options.lambda !== undefined && !(options.lambda >= 0 && Number.isFinite(options.lambda))) {
    throw new RangeError(`${op}: lambda must be a finite number ≥ 0, got ${options.lambda}`);
  }
  let crossValidation: CrossValidation | undefined;
  let lambda = options.lambda;
  if (lambda === undefined) {
    crossValidation = crossValidateLambda(x, targets, classes.length, options);
    // The most accurate λ; among equals the largest (the sparsest probe).
    let best = 0;
    crossValidation.accuracies.forEach((a, g) => {
      if (a > crossValidation!.accuracies[best]!) best = g;
    });
    lambda = crossValidation.lambdas[best]!;
  }
  options.onProgress?.(`fitting λ = ${lambda.toPrecision(3)}`);
  const standardization = computeStandardization(x);
  const xs = new StandardizedMatrix(x, standardization);
  const fits = fitAll(xs, classifierTargets(targets, classes.length), lambda, options);
  const probe = makeProbe(classes, lambda, standardization, fits, options.info ?? {});
  return {
    probe,
    crossValidation,
    unconverged: fits.filter((f) => !f.converged).length,
    iterations: fits.reduce((s, f) => s + f.iterations, 0),
  };
}

function makeProbe(
  classes: string[],
  lambda: number,
  s: Standardization,
  fits: L1LogisticFit[],
  info: Record<string, string | number>,
): Probe {
  return {
    format: PROBE_FORMAT,
    classes,
    lambda,
    mean: Array.from(s.mean),
    scale: Array.from(s.scale),
    weights: fits.map((f) => Array.from(f.weights)),
    bias: fits.map((f) => f.bias),
    info,
  };
}

/** Predicted labels of raw feature rows. */
export function predict(probe: Probe, x: DesignMatrix): string[] {
  if (x.cols !== probe.mean.length)
    throw new RangeError(`predict: the probe reads ${probe.mean.length} features, the matrix has ${x.cols} columns`);
  const xs = new StandardizedMatrix(x, { mean: Float64Array.from(probe.mean), scale: Float64Array.from(probe.scale) });
  const fits = probe.weights.map((w, k) => ({ weights: w, bias: probe.bias[k]! }));
  return Array.from(argmaxClasses(xs, fits), (k) => probe.classes[k]!);
}

export function accuracy(predicted: readonly string[], truth: readonly string[]): number {
  if (predicted.length !== truth.length) throw new RangeError(`accuracy: ${predicted.length} predictions for ${truth.length} labels`);
  if (truth.length === 0) throw new RangeError('accuracy: no rows');
  let right = 0;
  for (let i = 0; i < truth.length; i++) if (predicted[i] === truth[i]) right++;
  return right / truth.length;
}

export interface UnitWeight {
  unit: number;
  /** Weight on the standardised unit in the classifier where |weight| is largest (binary: the one classifier, classes[1] vs classes[0]). */
  weight: number;
  /** Binary: the class the unit speaks for (classes[1] if weight > 0, else classes[0]). Multi-class: that classifier's class (weight > 0 for it, < 0 against it). */
  class: string;
}

/** The `count` units with the largest |weight| (over all classifiers), non-zero ones only. */
export function topUnits(probe: Probe, count: number): UnitWeight[] {
  const binary = probe.weights.length === 1;
  const rows: UnitWeight[] = [];
  for (let j = 0; j < probe.mean.length; j++) {
    let bestK = 0;
    for (let k = 1; k < probe.weights.length; k++) if (Math.abs(probe.weights[k]![j]!) > Math.abs(probe.weights[bestK]![j]!)) bestK = k;
    const weight = probe.weights[bestK]![j]!;
    if (weight !== 0) rows.push({ unit: j, weight, class: probe.classes[binary ? (weight > 0 ? 1 : 0) : bestK]! });
  }
  rows.sort((a, b) => Math.abs(b.weight) - Math.abs(a.weight) || a.unit - b.unit);
  return rows.slice(0, Math.max(0, count));
}

/** Number of units with a non-zero weight in any classifier. */
export function nonZeroUnits(probe: Probe): number {
  let count = 0;
  for (let j = 0; j < probe.mean.length; j++) if (probe.weights.some((w) => w[j] !== 0)) count++;
  return count;
}
