/**
 * L1-regularised binary logistic regression by FISTA (Beck & Teboulle 2009) with backtracking and
 * gradient-based momentum restart (O'Donoghue & Candès 2015). It minimises
 *
 *     F(w, b) = (1/n) Σ_i [ log(1 + e^{z_i}) − y_i·z_i ] + λ·‖w‖₁,    z = X·w + b,  y_i ∈ {0, 1}
 *
 * (the intercept b is not penalised). Why FISTA: each iteration is one X·w and one Xᵀ·r, so it works
 * unchanged on a dense feature matrix and on an implicitly standardised sparse one, and the proximal
 * step (soft thresholding) gives exact zeros — the sparsity we want to read units from.
 *
 * Stopping rule: the KKT conditions of F, with g = ∇ of the smooth part,
 *     |g_b| ≤ tol;   |g_j| ≤ λ + tol where w_j = 0;   |g_j + λ·sign(w_j)| ≤ tol where w_j ≠ 0,
 * which is exactly what test/probe-logistic.test.ts verifies from outside.
 */
import type { DesignMatrix } from './design.js';

export interface L1LogisticOptions {
  /** λ ≥ 0, on the scale of the mean log-loss. */
  lambda: number;
  /** Largest allowed KKT violation at the solution (default 1e-6). */
  tolerance?: number;
  maxIterations?: number; // default 5000
  /** Warm start (e.g. the solution at a larger λ). */
  initial?: { weights: Float64Array; bias: number };
}

export interface L1LogisticFit {
  weights: Float64Array; // [cols]
  bias: number;
  iterations: number;
  /** Whether the KKT violation fell below the tolerance (else maxIterations was reached). */
  converged: boolean;
  /** Largest KKT violation at the returned point. */
  kktViolation: number;
  objective: number;
}

/** log(1 + e^z) without overflow. */
export function softplus(z: number): number {
  return z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z));
}

export function sigmoid(z: number): number {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}

function checkTargets(op: string, x: DesignMatrix, y: ArrayLike<number>): void {
  if (y.length !== x.rows) throw new RangeError(`${op}: ${y.length} targets for a matrix of ${x.rows} rows`);
  if (x.rows === 0) throw new RangeError(`${op}: no rows to fit`);
  for (let i = 0; i < y.length; i++) if (y[i] !== 0 && y[i] !== 1) throw new RangeError(`${op}: target ${i} is ${y[i]}, expected 0 or 1`);
}

/** Mean log-loss of z against y. */
function meanLoss(z: Float64Array, y: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < z.length; i++) s += softplus(z[i]!) - y[i]! * z[i]!;
  return s / z.length;
}

function l1(w: Float64Array): number {
  let s = 0;
  for (let j = 0; j < w.length; j++) s += Math.abs(w[j]!);
  return s;
}

/**
 * The smallest λ at which w = 0 is optimal: ‖Xᵀ(ȳ − y)‖∞ / n (the intercept alone fits the base rate).
 * Regularisation paths start here.
 */
export function lambdaMax(x: DesignMatrix, y: ArrayLike<number>): number {
  checkTargets('lambdaMax', x, y);
  const n = x.rows;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += y[i]!;
  mean /= n;
  const r = new Float64Array(n);
  for (let i = 0; i < n; i++) r[i] = mean - y[i]!;
  const g = new Float64Array(x.cols);
  x.mulT(r, g);
  let m = 0;
  for (let j = 0; j < x.cols; j++) m = Math.max(m, Math.abs(g[j]!));
  return m / n;
}

/** A lower estimate of the Lipschitz constant of the gradient (backtracking corrects it upward). */
function estimateLipschitz(x: DesignMatrix): number {
  const n = x.rows;
  let v = new Float64Array(x.cols).fill(1 / Math.sqrt(x.cols + 1));
  let vb = 1 / Math.sqrt(x.cols + 1);
  const u = new Float64Array(n);
  const next = new Float64Array(x.cols);
  let sigma2 = 1;
  for (let it = 0; it < 15; it++) {
    x.mul(v, u);
    for (let i = 0; i < n; i++) u[i]! += vb;
    x.mulT(u, next);
    let nb = 0;
    for (let i = 0; i < n; i++) nb += u[i]!;
    let norm = nb * nb;
    for (let j = 0; j < x.cols; j++) norm += next[j]! * next[j]!;
    norm = Math.sqrt(norm);
    if (!(norm > 0)) break;
    sigma2 = norm;
    v = next.map((e) => e / norm);
    vb = nb / norm;
  }
  return Math.max(1e-12, (0.25 * sigma2) / n);
}

/** Fit one binary L1 logistic regression; see the module comment for the objective and stopping rule. */
export function fitL1Logistic(x: DesignMatrix, y: ArrayLike<number>, options: L1LogisticOptions): L1LogisticFit {
  const op = 'fitL1Logistic';
  checkTargets(op, x, y);
  const { lambda } = options;
  const tol = options.tolerance ?? 1e-6;
  const maxIterations = options.maxIterations ?? 5000;
  if (!(lambda >= 0) || !Number.isFinite(lambda)) throw new RangeError(`${op}: lambda must be a finite number ≥ 0, got ${lambda}`);
  if (!(tol > 0)) throw new RangeError(`${op}: tolerance must be > 0, got ${tol}`);
  const n = x.rows;
  const d = x.cols;
  if (options.initial && options.initial.weights.length !== d) throw new RangeError(`${op}: initial weights have length ${options.initial.weights.length}, expected ${d}`);

  // Iterates: x_k (w, b), the momentum point v (vw, vb), the trial point (tw, tb).
  const w = options.initial ? Float64Array.from(options.initial.weights) : new Float64Array(d);
  let b = options.initial?.bias ?? 0;
  const vw = Float64Array.from(w);
  let vb = b;
  const tw = new Float64Array(d);
  let tb = 0;
  const zv = new Float64Array(n); // z at v
  const zt = new Float64Array(n); // z at the trial point
  const r = new Float64Array(n); // p − y
  const gw = new Float64Array(d); // gradient of the smooth part (w block)
  let L = estimateLipschitz(x);
  let t = 1;
  let iterations = 0;
  let kkt = Infinity;

  const evalZ = (ww: Float64Array, bb: number, out: Float64Array): void => {
    x.mul(ww, out);
    for (let i = 0; i < n; i++) out[i]! += bb;
  };
  /** Gradient at z into gw; returns the intercept's gradient. */
  const gradient = (z: Float64Array): number => {
    let gb = 0;
    for (let i = 0; i < n; i++) {
      r[i] = sigmoid(z[i]!) - y[i]!;
      gb += r[i]!;
    }
    x.mulT(r, gw);
    for (let j = 0; j < d; j++) gw[j]! /= n;
    return gb / n;
  };
  const violation = (ww: Float64Array, gb: number): number => {
    let m = Math.abs(gb);
    for (let j = 0; j < d; j++) {
      const g = gw[j]!;
      const wj = ww[j]!;
      m = Math.max(m, wj === 0 ? Math.abs(g) - lambda : Math.abs(g + lambda * Math.sign(wj)));
    }
    return m;
  };

  evalZ(w, b, zt);
  kkt = violation(w, gradient(zt));
  while (kkt > tol && iterations < maxIterations) {
    iterations++;
    evalZ(vw, vb, zv);
    const fv = meanLoss(zv, y);
    const gb = gradient(zv);
    // Backtracking: grow L until the quadratic model at v majorises the loss at the trial point.
    for (;;) {
      const thr = lambda / L;
      for (let j = 0; j < d; j++) {
        const u = vw[j]! - gw[j]! / L;
        tw[j] = u > thr ? u - thr : u < -thr ? u + thr : 0;
      }
      tb = vb - gb / L;
      evalZ(tw, tb, zt);
      const ft = meanLoss(zt, y);
      let inner = (tb - vb) * gb;
      let sq = (tb - vb) * (tb - vb);
      for (let j = 0; j < d; j++) {
        const dj = tw[j]! - vw[j]!;
        inner += dj * gw[j]!;
        sq += dj * dj;
      }
      if (ft <= fv + inner + (L / 2) * sq + 1e-15 * Math.abs(fv)) break;
      L *= 2;
    }
    // Momentum with restart when the step goes against the momentum direction.
    let against = (vb - tb) * (tb - b);
    for (let j = 0; j < d; j++) against += (vw[j]! - tw[j]!) * (tw[j]! - w[j]!);
    const tNext = against > 0 ? 1 : (1 + Math.sqrt(1 + 4 * t * t)) / 2;
    const beta = against > 0 ? 0 : (t - 1) / tNext;
    for (let j = 0; j < d; j++) {
      vw[j] = tw[j]! + beta * (tw[j]! - w[j]!);
      w[j] = tw[j]!;
    }
    vb = tb + beta * (tb - b);
    b = tb;
    t = tNext;
    // The KKT check costs one Xᵀ·r; do it every few iterations (zt already holds z at the new point).
    if (iterations % 5 === 0 || iterations === maxIterations) kkt = violation(w, gradient(zt));
  }
  evalZ(w, b, zt);
  kkt = violation(w, gradient(zt));
  return { weights: w, bias: b, iterations, converged: kkt <= tol, kktViolation: kkt, objective: meanLoss(zt, y) + lambda * l1(w) };
}
