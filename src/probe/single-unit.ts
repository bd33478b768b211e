/**
 * The best single unit: how much of the task one feature carries on its own (the "sentiment neuron"
 * question). For every unit j we fit, on the training rows only, a 1-D logistic regression of the
 * label on x_j (one per class, one-vs-rest, when there are more than two classes) and keep the unit
 * with the best training accuracy (ties: the lower training log-loss). Its accuracy on the test rows is
 * then the honest number — the test set plays no part in choosing the unit.
 *
 * The 1-D fits use Newton's method on (a, b) with a tiny ridge ρ·a²/2 on the slope, which keeps the
 * solution finite when a unit separates the classes perfectly.
 */
import type { DesignMatrix } from './design.js';
import { sigmoid, softplus } from './logistic.js';

const RIDGE = 1e-4;

export interface UnitClassifier {
  /** Per classifier (1 for two classes, else one per class): score = slope·x + intercept on the RAW unit value. */
  slopes: number[];
  intercepts: number[];
}

export interface SingleUnitResult extends UnitClassifier {
  unit: number;
  trainAccuracy: number;
  trainLoss: number;
  testAccuracy: number;
  /** For two classes: the unit value where the prediction flips (classes[1] above it when slope > 0). */
  threshold?: number;
}

/** Fit a 1-D logistic regression y ~ σ(a·x + b) with ridge on a. x should be roughly standardised. */
export function fitLogistic1D(x: Float64Array, y: ArrayLike<number>): { a: number; b: number; loss: number } {
  const n = x.length;
  let a = 0;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += y[i]!;
  mean = Math.min(Math.max(mean / n, 1e-6), 1 - 1e-6);
  let b = Math.log(mean / (1 - mean));
  const objective = (aa: number, bb: number): number => {
    let s = 0;
    for (let i = 0; i < n; i++) {
      const z = aa * x[i]! + bb;
      s += softplus(z) - y[i]! * z;
    }
    return s / n + (RIDGE / 2) * aa * aa;
  };
  let f = objective(a, b);
  for (let it = 0; it < 50; it++) {
    let ga = 0;
    let gb = 0;
    let haa = 0;
    let hab = 0;
    let hbb = 0;
    for (let i = 0; i < n; i++) {
      const xi = x[i]!;
      const p = sigmoid(a * xi + b);
      const r = p - y[i]!;
      const wgt = p * (1 - p);
      ga += r * xi;
      gb += r;
      haa += wgt * xi * xi;
      hab += wgt * xi;
      hbb += wgt;
    }
    ga = ga / n + RIDGE * a;
    gb /= n;
    haa = haa / n + RIDGE;
    hab /= n;
    hbb = hbb / n + 1e-12;
    if (Math.abs(ga) + Math.abs(gb) < 1e-10) break;
    const det = haa * hbb - hab * hab;
    let da = -(hbb * ga - hab * gb) / det;
    let db = -(haa * gb - hab * ga) / det;
    if (!Number.isFinite(da) || !Number.isFinite(db)) {
      da = -ga;
      db = -gb;
    }
    // Damped Newton: halve the step until the objective does not increase.
    let step = 1;
    let fNew = objective(a + da, b + db);
    while (fNew > f && step > 1e-8) {
      step /= 2;
      fNew = objective(a + step * da, b + step * db);
    }
    if (fNew > f) break;
    a += step * da;
    b += step * db;
    const improvement = f - fNew;
    f = fNew;
    if (improvement < 1e-14) break;
  }
  return { a, b, loss: f };
}

/** Class index predicted by a unit classifier for the value v. */
function predictUnit(c: UnitClassifier, v: number): number {
  if (c.slopes.length === 1) return c.slopes[0]! * v + c.intercepts[0]! > 0 ? 1 : 0;
  let best = 0;
  let bestScore = -Infinity;
  for (let k = 0; k < c.slopes.length; k++) {
    const s = c.slopes[k]! * v + c.intercepts[k]!;
    if (s > bestScore) {
      bestScore = s;
      best = k;
    }
  }
  return best;
}

function accuracyOf(c: UnitClassifier, column: Float64Array, targets: ArrayLike<number>): number {
  let right = 0;
  for (let i = 0; i < column.length; i++) if (predictUnit(c, column[i]!) === targets[i]) right++;
  return right / column.length;
}

/**
 * Search every column of `train` for the best single unit; `trainTargets`/`testTargets` are class
 * indices into a list of `classCount` classes.
 */
export function bestSingleUnit(
  train: DesignMatrix,
  trainTargets: ArrayLike<number>,
  test: DesignMatrix,
  testTargets: ArrayLike<number>,
  classCount: number,
): SingleUnitResult {
  const op = 'bestSingleUnit';
  if (train.cols !== test.cols) throw new RangeError(`${op}: train has ${train.cols} columns, test ${test.cols}`);
  if (trainTargets.length !== train.rows || testTargets.length !== test.rows) throw new RangeError(`${op}: targets do not match the rows`);
  if (classCount < 2) throw new RangeError(`${op}: need at least 2 classes, got ${classCount}`);
  const n = train.rows;
  const column = new Float64Array(n);
  const standardised = new Float64Array(n);
  const binary = classCount === 2;
  const oneVsRest = Array.from({ length: binary ? 1 : classCount }, (_, k) => {
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) y[i] = binary ? trainTargets[i]! : trainTargets[i] === k ? 1 : 0;
    return y;
  });
  let best: Omit<SingleUnitResult, 'testAccuracy' | 'threshold'> | null = null;
  for (let j = 0; j < train.cols; j++) {
    train.column(j, column);
    let mean = 0;
    for (let i = 0; i < n; i++) mean += column[i]!;
    mean /= n;
    let variance = 0;
    for (let i = 0; i < n; i++) variance += (column[i]! - mean) ** 2;
    const sd = Math.sqrt(variance / n);
    if (!(sd > 0)) continue; // a constant unit predicts one class only; any varying unit is at least as good
    for (let i = 0; i < n; i++) standardised[i] = (column[i]! - mean) / sd;
    const slopes: number[] = [];
    const intercepts: number[] = [];
    let loss = 0;
    for (const y of oneVsRest) {
      const fit = fitLogistic1D(standardised, y);
      // Back to raw units: a·(x − mean)/sd + b.
      slopes.push(fit.a / sd);
      intercepts.push(fit.b - (fit.a * mean) / sd);
      loss += fit.loss;
    }
    const classifier = { slopes, intercepts };
    const acc = accuracyOf(classifier, column, trainTargets);
    if (!best || acc > best.trainAccuracy || (acc === best.trainAccuracy && loss < best.trainLoss)) {
      best = { unit: j, trainAccuracy: acc, trainLoss: loss, ...classifier };
    }
  }
  if (!best) {
    // Every unit is constant: report unit 0 predicting the majority class.
    const counts = new Array<number>(classCount).fill(0);
    for (let i = 0; i < n; i++) counts[trainTargets[i]!]!++;
    const major = counts.indexOf(Math.max(...counts));
    const slopes = binary ? [0] : counts.map(() => 0);
    const intercepts = binary ? [major === 1 ? 1 : -1] : counts.map((_, k) => (k === major ? 1 : 0));
    best = { unit: 0, trainAccuracy: counts[major]! / n, trainLoss: NaN, slopes, intercepts };
  }
  const testColumn = new Float64Array(test.rows);
  test.column(best.unit, testColumn);
  const result: SingleUnitResult = { ...best, testAccuracy: accuracyOf(best, testColumn, testTargets) };
  if (binary && best.slopes[0] !== 0) result.threshold = -best.intercepts[0]! / best.slopes[0]!;
  return result;
}
