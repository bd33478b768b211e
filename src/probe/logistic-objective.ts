/**
 * The objective shared by the probe's solvers: L1-regularised binary logistic regression,
 *
 *     F(w, b) = (1/n) Σ_i [ log(1 + e^{z_i}) − y_i·z_i ] + λ·‖w‖₁,    z = X·w + b,  y_i ∈ {0, 1}
 *
 * (the intercept b is not penalised), and its optimality test. Every solver stops on the KKT
 * conditions of F, with g = ∇ of the smooth part:
 *     |g_b| ≤ tol;   |g_j| ≤ λ + tol where w_j = 0;   |g_j + λ·sign(w_j)| ≤ tol where w_j ≠ 0,
 * which is exactly what test/probe-logistic.test.ts verifies from outside.
 */
import type { DesignMatrix } from './design.js';

export interface L1LogisticOptions {
  /** λ ≥ 0, on the scale of the mean log-loss. */
  lambda: number;
  /** Largest allowed KKT violation at the solution (default 1e-6). */
  tolerance?: number;
  /** Iteration limit (FISTA: proximal steps, default 5000; coordinate descent: sweeps, default 5000). */
  maxIterations?: number;
  /** 'auto' (default: 'cd' on sparse matrices, 'fista' on dense), 'cd' or 'fista'; see logistic.ts. */
  solver?: 'auto' | 'cd' | 'fista';
  /** Warm start (e.g. the solution at a larger λ). */
  initial?: { weights: Float64Array; bias: number };
}

export interface L1LogisticFit {
  weights: Float64Array; // [cols]
  bias: number;
  /** FISTA: proximal steps; coordinate descent: coordinate sweeps (full or over the active set). */
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

export function checkTargets(op: string, x: DesignMatrix, y: ArrayLike<number>): void {
  if (y.length !== x.rows) throw new RangeError(`${op}: ${y.length} targets for a matrix of ${x.rows} rows`);
  if (x.rows === 0) throw new RangeError(`${op}: no rows to fit`);
  for (let i = 0; i < y.length; i++) if (y[i] !== 0 && y[i] !== 1) throw new RangeError(`${op}: target ${i} is ${y[i]}, expected 0 or 1`);
}

/** Mean log-loss of z against y. */
export function meanLoss(z: Float64Array, y: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < z.length; i++) s += softplus(z[i]!) - y[i]! * z[i]!;
  return s / z.length;
}

export function l1(w: Float64Array): number {
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

/**
 * The largest KKT violation of (w, b) for λ, given z = X·w + b. Costs one Xᵀ·r. `gw` receives the
 * gradient of the smooth part.
 */
export function kktViolation(
  x: DesignMatrix,
  y: ArrayLike<number>,
  z: Float64Array,
  w: Float64Array,
  lambda: number,
  gw: Float64Array,
  r: Float64Array,
): number {
  const n = x.rows;
  let gb = 0;
  for (let i = 0; i < n; i++) {
    r[i] = sigmoid(z[i]!) - y[i]!;
    gb += r[i]!;
  }
  x.mulT(r, gw);
  let m = Math.abs(gb / n);
  for (let j = 0; j < x.cols; j++) {
    const g = gw[j]! / n;
    gw[j] = g;
    const wj = w[j]!;
    m = Math.max(m, wj === 0 ? Math.abs(g) - lambda : Math.abs(g + lambda * Math.sign(wj)));
  }
  return m;
}

/** What both solvers start with: the targets and options checked, and the options with their defaults filled in. */
export function checkFit(
  op: string,
  x: DesignMatrix,
  y: ArrayLike<number>,
  options: L1LogisticOptions,
): { lambda: number; tol: number; maxIterations: number } {
  checkTargets(op, x, y);
  const { lambda } = options;
  const tol = options.tolerance ?? 1e-6;
  if (!(lambda >= 0) || !Number.isFinite(lambda)) throw new RangeError(`${op}: lambda must be a finite number ≥ 0, got ${lambda}`);
  if (!(tol > 0)) throw new RangeError(`${op}: tolerance must be > 0, got ${tol}`);
  const maxIterations = options.maxIterations ?? 5000;
  if (!Number.isInteger(maxIterations) || maxIterations < 0)
    throw new RangeError(`${op}: maxIterations must be an integer ≥ 0, got ${maxIterations}`);
  if (options.initial && options.initial.weights.length !== x.cols) {
    throw new RangeError(`${op}: initial weights have length ${options.initial.weights.length}, expected ${x.cols}`);
  }
  return { lambda, tol, maxIterations };
}
