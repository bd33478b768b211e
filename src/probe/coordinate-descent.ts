/**
 * IRLS + cyclic coordinate descent for the objective of logistic-objective.ts, as in glmnet (Friedman,
 * Hastie & Tibshirani 2010): each outer step replaces the log-loss by its quadratic (Newton) model at
 * the current point, minimises that L1-penalised weighted least-squares problem coordinate by
 * coordinate with soft thresholding (sweeping the active set until it settles, then all coordinates),
 * then takes the step with a backtracking safeguard. Stops on the KKT conditions of the true objective.
 *
 * Why: proximal gradient needs thousands of iterations on wide, ill-conditioned problems (standardised
 * hashed n-grams, where a rare n-gram becomes a column of huge values); a coordinate update only costs
 * the column's non-zeros and is exact along its coordinate.
 *
 * Standardisation without densifying: on a StandardizedMatrix the columns are (x_j − μ_j)/s_j. We keep
 * the linear predictor as η = a + Σ_j x_j·β_j/s_j (raw columns, raw intercept a), and update each β_j
 * jointly with the intercept — which is coordinate descent on the column centred by its Newton-weighted
 * mean m_j. The centring then moves every residual by the same amount, which we hold in one scalar
 * (`shift`) instead of touching every row. Results are reported in the standardised coordinates
 * (weights β, intercept b = a + Σ μ_j β_j / s_j), the same as FISTA's.
 */
import { StandardizedMatrix, type ColumnMatrix, type DesignMatrix } from './design.js';
import { checkFit, kktViolation, l1, meanLoss, sigmoid, type L1LogisticFit, type L1LogisticOptions } from './logistic-objective.js';

/** Newton weights p(1−p) are floored so the quadratic model stays strictly convex near saturation. */
const MIN_WEIGHT = 1e-5;

function unwrap(op: string, x: DesignMatrix): { base: ColumnMatrix; mean: Float64Array | null; scale: Float64Array | null } {
  if (x instanceof StandardizedMatrix) {
    if (!('columnLayout' in x.base)) throw new TypeError(`${op}: the standardised matrix must wrap a DenseMatrix or SparseMatrix`);
    return { base: x.base as ColumnMatrix, mean: x.standardization.mean, scale: x.standardization.scale };
  }
  if (!('columnLayout' in x)) throw new TypeError(`${op}: needs a DenseMatrix, SparseMatrix or a StandardizedMatrix of one`);
  return { base: x as ColumnMatrix, mean: null, scale: null };
}

export function fitL1LogisticCD(x: DesignMatrix, y: ArrayLike<number>, options: L1LogisticOptions): L1LogisticFit {
  const op = 'fitL1LogisticCD';
  const { lambda, tol, maxIterations: maxSweeps } = checkFit(op, x, y, options);
  const { base, mean, scale } = unwrap(op, x);
  const n = x.rows;
  const d = x.cols;
  const { colStart, rowIndex, values } = base.columnLayout();
  // Column j is entries from(j) … to(j)−1 of `values`, in rows rowIndex[k] (sparse) or k − from(j) (dense).
  const from = (j: number): number => (colStart ? colStart[j]! : j * n);
  const to = (j: number): number => (colStart ? colStart[j + 1]! : (j + 1) * n);
  const mu = (j: number): number => (mean ? mean[j]! : 0);
  const inv = new Float64Array(d).map((_, j) => (scale ? 1 / scale[j]! : 1)); // 1/s_j

  const beta = options.initial ? Float64Array.from(options.initial.weights) : new Float64Array(d);
  let a: number; // raw intercept
  if (options.initial) {
    a = options.initial.bias;
    for (let j = 0; j < d; j++) a -= mu(j) * beta[j]! * inv[j]!;
  } else {
    let pos = 0;
    for (let i = 0; i < n; i++) pos += y[i]!;
    const p = Math.min(Math.max(pos / n, 1e-9), 1 - 1e-9);
    a = Math.log(p / (1 - p));
  }

  const eta = new Float64Array(n); // a + Σ x_j β_j / s_j
  const scaled = new Float64Array(d);
  const computeEta = (bb: Float64Array, aa: number, out: Float64Array): void => {
    for (let j = 0; j < d; j++) scaled[j] = bb[j]! * inv[j]!;
    base.mul(scaled, out);
    for (let i = 0; i < n; i++) out[i]! += aa;
  };
  const objective = (z: Float64Array, bb: Float64Array): number => meanLoss(z, y) + lambda * l1(bb);

  const w = new Float64Array(n); // Newton weights
  const r = new Float64Array(n); // working residual, sparse part (the true one is r + shift)
  const colW = new Float64Array(d); // Σ_i w_i x_ij
  const colWW = new Float64Array(d); // Σ_i w_i x_ij²
  const gw = new Float64Array(d);
  const scratch = new Float64Array(n);
  const betaOld = new Float64Array(d);
  const betaFull = new Float64Array(d);
  let fNew = Infinity;
  const etaTrial = new Float64Array(n);
  const active = new Uint8Array(d);
  let sweeps = 0;

  computeEta(beta, a, eta);
  let f = objective(eta, beta);
  let kkt = kktViolation(x, y, eta, beta, lambda, gw, scratch);
  let innerTol = Math.max(tol * tol, 1e-18);
  for (let outer = 0; kkt > tol && sweeps < maxSweeps && outer < 200; outer++) {
    // The quadratic model at the current point: weights w, working residual (y − p)/w.
    let sw = 0;
    let swr = 0;
    for (let i = 0; i < n; i++) {
      const p = sigmoid(eta[i]!);
      const wi = Math.max(p * (1 - p), MIN_WEIGHT);
      w[i] = wi;
      r[i] = (y[i]! - p) / wi;
      sw += wi;
      swr += wi * r[i]!;
    }
    // The intercept first, so that Σ w·r = 0 from here on (each joint update preserves it).
    const da = swr / sw;
    a += da;
    for (let i = 0; i < n; i++) r[i]! -= da;
    let shift = 0;
    for (let j = 0; j < d; j++) {
      const start = from(j);
      const end = to(j);
      let s1 = 0;
      let s2 = 0;
      for (let k = start; k < end; k++) {
        const wi = w[rowIndex ? rowIndex[k]! : k - start]!;
        const v = values[k]!;
        s1 += wi * v;
        s2 += wi * v * v;
      }
      colW[j] = s1;
      colWW[j] = s2;
    }
    betaOld.set(beta);
    const aOld = a - da;
    let fullSweep = true;
    for (;;) {
      let biggest = 0;
      for (let j = 0; j < d; j++) {
        if (!fullSweep && !active[j]) continue;
        const m = colW[j]! / sw; // weighted mean of the raw column
        const q = ((colWW[j]! - colW[j]! * m) * inv[j]! * inv[j]!) / n; // Σ w (x̃c)² / n
        if (!(q > 1e-14)) continue; // a (weighted-)constant column cannot move the fit
        const start = from(j);
        const end = to(j);
        let dot = 0;
        for (let k = start; k < end; k++) {
          const i = rowIndex ? rowIndex[k]! : k - start;
          dot += w[i]! * values[k]! * r[i]!;
        }
        const g = ((dot + shift * colW[j]!) * inv[j]!) / n; // Σ w x̃c (r + shift) / n, using Σ w (r + shift) = 0
        const u = q * beta[j]! + g;
        const next = u > lambda ? (u - lambda) / q : u < -lambda ? (u + lambda) / q : 0;
        const delta = next - beta[j]!;
        if (delta === 0) continue;
        beta[j] = next;
        active[j] = next !== 0 ? 1 : active[j]!;
        const step = delta * inv[j]!;
        for (let k = start; k < end; k++) r[rowIndex ? rowIndex[k]! : k - start]! -= step * values[k]!;
        shift += step * m;
        a -= step * m;
        biggest = Math.max(biggest, q * delta * delta);
      }
      sweeps++;
      if (biggest < innerTol) {
        if (fullSweep) break; // nothing moved anywhere: the quadratic model is minimised
        fullSweep = true; // the active set has settled; check every coordinate once more
      } else {
        fullSweep = false;
      }
      if (sweeps >= maxSweeps) break;
    }
    // Take the Newton step, halving it while it fails to decrease the true objective.
    betaFull.set(beta);
    const aFull = a;
    let accepted = false;
    for (let t = 1, halvings = 0; halvings < 40; halvings++, t /= 2) {
      for (let j = 0; j < d; j++) beta[j] = betaOld[j]! + t * (betaFull[j]! - betaOld[j]!);
      a = aOld + t * (aFull - aOld);
      computeEta(beta, a, etaTrial);
      fNew = objective(etaTrial, beta);
      if (fNew <= f + 1e-12 * Math.abs(f)) {
        accepted = true;
        break;
      }
    }
    if (!accepted) {
      beta.set(betaOld);
      a = aOld;
      innerTol /= 100; // the model step failed: solve the next model more exactly
      if (innerTol < 1e-30) break;
      continue;
    }
    eta.set(etaTrial);
    const improvement = f - fNew;
    f = fNew;
    kkt = kktViolation(x, y, eta, beta, lambda, gw, scratch);
    if (kkt > tol && improvement <= 1e-15 * Math.abs(f)) innerTol = Math.max(innerTol / 100, 1e-30);
  }
  kkt = kktViolation(x, y, eta, beta, lambda, gw, scratch);
  let b = a;
  for (let j = 0; j < d; j++) b += mu(j) * beta[j]! * inv[j]!;
  return { weights: beta, bias: b, iterations: sweeps, converged: kkt <= tol, kktViolation: kkt, objective: f };
}
