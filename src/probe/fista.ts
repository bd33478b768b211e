/**
 * FISTA (Beck & Teboulle 2009) with backtracking and gradient-based momentum restart (O'Donoghue &
 * Candès 2015) for the objective of logistic-objective.ts. Each iteration is one X·w and one Xᵀ·r, so
 * it works unchanged on any DesignMatrix, and the proximal step (soft thresholding) gives exact zeros.
 * The probe's solver for dense features (logistic.ts says when each solver is used and why).
 */
import type { DesignMatrix } from './design.js';
import { checkFit, kktViolation, l1, meanLoss, sigmoid, type L1LogisticFit, type L1LogisticOptions } from './logistic-objective.js';

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

export function fitL1LogisticFista(x: DesignMatrix, y: ArrayLike<number>, options: L1LogisticOptions): L1LogisticFit {
  const op = 'fitL1LogisticFista';
  const { lambda, tol, maxIterations } = checkFit(op, x, y, options);
  const n = x.rows;
  const d = x.cols;

  // Iterates: x_k (w, b), the momentum point v (vw, vb), the trial point (tw, tb).
  const w = options.initial ? Float64Array.from(options.initial.weights) : new Float64Array(d);
  let b = options.initial?.bias ?? 0;
  const vw = Float64Array.from(w);
  let vb = b;
  const tw = new Float64Array(d);
  let tb: number;
  const zv = new Float64Array(n); // z at v
  const zt = new Float64Array(n); // z at the trial point
  const r = new Float64Array(n); // p − y
  const gw = new Float64Array(d); // gradient of the smooth part (w block)
  let L = estimateLipschitz(x);
  let t = 1;
  let iterations = 0;
  let kkt: number;

  const evalZ = (ww: Float64Array, bb: number, out: Float64Array): void => {
    x.mul(ww, out);
    for (let i = 0; i < n; i++) out[i]! += bb;
  };
  /** Gradient of the smooth part at z: the w block into gw, the intercept's returned. */
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
  const violation = (ww: Float64Array, z: Float64Array): number => kktViolation(x, y, z, ww, lambda, gw, r);

  evalZ(w, b, zt);
  kkt = violation(w, zt);
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
    if (iterations % 5 === 0 || iterations === maxIterations) kkt = violation(w, zt);
  }
  evalZ(w, b, zt);
  kkt = violation(w, zt);
  return { weights: w, bias: b, iterations, converged: kkt <= tol, kktViolation: kkt, objective: meanLoss(zt, y) + lambda * l1(w) };
}
