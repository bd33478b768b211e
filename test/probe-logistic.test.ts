import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DenseMatrix, SparseMatrix, StandardizedMatrix, computeStandardization } from '../src/probe/design.js';
import { autoSolver, fitL1Logistic, lambdaMax, sigmoid, softplus } from '../src/probe/logistic.js';
import { fitLogistic1D } from '../src/probe/single-unit.js';
import { Rng } from '../src/tensor/rng.js';

/** A random problem whose labels follow a sparse logistic model plus noise. */
function randomProblem(seed: number, n: number, d: number): { x: Float64Array; y: Float64Array } {
  const rng = new Rng(seed);
  const x = new Float64Array(n * d);
  for (let i = 0; i < x.length; i++) x[i] = rng.normal() * (1 + (i % d)) * 0.5 + (i % d === 0 ? 1 : 0);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const z = 1.5 * x[i * d]! - x[i * d + (1 % d)]! + 0.3;
    y[i] = rng.uniform() < sigmoid(z) ? 1 : 0;
  }
  if (y.every((v) => v === y[0])) y[0] = 1 - y[0]!;
  return { x, y };
}

/** The smooth part's gradient, computed directly from the definition (independent of the solver). */
function gradient(x: Float64Array, y: Float64Array, n: number, d: number, w: Float64Array, b: number): { gw: number[]; gb: number } {
  const gw = new Array<number>(d).fill(0);
  let gb = 0;
  for (let i = 0; i < n; i++) {
    let z = b;
    for (let j = 0; j < d; j++) z += x[i * d + j]! * w[j]!;
    const r = 1 / (1 + Math.exp(-z)) - y[i]!;
    gb += r;
    for (let j = 0; j < d; j++) gw[j]! += r * x[i * d + j]!;
  }
  return { gw: gw.map((g) => g / n), gb: gb / n };
}

function objective(x: Float64Array, y: Float64Array, n: number, d: number, w: ArrayLike<number>, b: number, lambda: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) {
    let z = b;
    for (let j = 0; j < d; j++) z += x[i * d + j]! * w[j]!;
    s += Math.log(1 + Math.exp(z)) - y[i]! * z;
  }
  let l1 = 0;
  for (let j = 0; j < d; j++) l1 += Math.abs(w[j]!);
  return s / n + lambda * l1;
}

/**
 * Reference solver, independent of FISTA: cyclic coordinate descent where each coordinate is minimised
 * exactly (to 1e-15) by bisection on its subgradient. Slow, but only the definition of the objective.
 */
function coordinateDescent(x: Float64Array, y: Float64Array, n: number, d: number, lambda: number): { w: Float64Array; b: number } {
  const w = new Float64Array(d);
  let b = 0;
  const derivative = (j: number, value: number): number => {
    const saved = j < 0 ? b : w[j]!;
    if (j < 0) b = value;
    else w[j] = value;
    const g = gradient(x, y, n, d, w, b);
    if (j < 0) b = saved;
    else w[j] = saved;
    return j < 0 ? g.gb : g.gw[j]!;
  };
  const bisect = (f: (v: number) => number, lo: number, hi: number): number => {
    for (let k = 0; k < 200 && hi - lo > 1e-15; k++) {
      const mid = (lo + hi) / 2;
      if (f(mid) > 0) hi = mid;
      else lo = mid;
    }
    return (lo + hi) / 2;
  };
  for (let sweep = 0; sweep < 400; sweep++) {
    let change = 0;
    const nb = bisect((v) => derivative(-1, v), -50, 50);
    change = Math.max(change, Math.abs(nb - b));
    b = nb;
    for (let j = 0; j < d; j++) {
      const g0 = derivative(j, 0);
      let v = 0;
      // 0 is optimal iff |∂f/∂w_j(0)| ≤ λ; otherwise the minimiser has the sign of −g0 and solves f'(v) + λ·sign(v) = 0.
      if (g0 < -lambda) v = bisect((t) => derivative(j, t) + lambda, 0, 50);
      else if (g0 > lambda) v = bisect((t) => derivative(j, t) - lambda, -50, 0);
      change = Math.max(change, Math.abs(v - w[j]!));
      w[j] = v;
    }
    if (change < 1e-13) break;
  }
  return { w, b };
}

describe.each(['cd', 'fista'] as const)('fitL1Logistic, solver %s', (solver) => {
  it('meets the KKT conditions to 1e-6 on random problems (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1e6 }),
        fc.integer({ min: 8, max: 60 }),
        fc.integer({ min: 1, max: 7 }),
        fc.double({ min: 0.02, max: 1.2, noNaN: true }),
        (seed, n, d, frac) => {
          const { x, y } = randomProblem(seed, n, d);
          const X = new DenseMatrix(x, n, d);
          const lambda = frac * lambdaMax(X, y);
          const fit = fitL1Logistic(X, y, { lambda, tolerance: 1e-9, maxIterations: 200000, solver });
          const { gw, gb } = gradient(x, y, n, d, fit.weights, fit.bias);
          expect(Math.abs(gb)).toBeLessThan(1e-6);
          for (let j = 0; j < d; j++) {
            const wj = fit.weights[j]!;
            if (wj === 0) expect(Math.abs(gw[j]!)).toBeLessThanOrEqual(lambda + 1e-6);
            else expect(Math.abs(gw[j]! + lambda * Math.sign(wj))).toBeLessThan(1e-6);
          }
          if (frac >= 1) expect(Array.from(fit.weights).every((v) => v === 0)).toBe(true);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('matches an exact coordinate-descent reference solver (weights to 1e-6, objective to 1e-9)', () => {
    for (const [seed, frac] of [
      [1, 0.05],
      [2, 0.3],
      [3, 0.7],
    ] as const) {
      const n = 40;
      const d = 4;
      const { x, y } = randomProblem(seed, n, d);
      const X = new DenseMatrix(x, n, d);
      const lambda = frac * lambdaMax(X, y);
      const fit = fitL1Logistic(X, y, { lambda, tolerance: 1e-11, maxIterations: 200000, solver });
      const ref = coordinateDescent(x, y, n, d, lambda);
      expect(fit.converged).toBe(true);
      for (let j = 0; j < d; j++) expect(Math.abs(fit.weights[j]! - ref.w[j]!)).toBeLessThan(1e-6);
      expect(Math.abs(fit.bias - ref.b)).toBeLessThan(1e-6);
      expect(Math.abs(fit.objective - objective(x, y, n, d, ref.w, ref.b, lambda))).toBeLessThan(1e-9);
      // Zeros of the reference are exact zeros of the fit (the prox step produces them).
      for (let j = 0; j < d; j++) if (ref.w[j] === 0) expect(fit.weights[j]).toBe(0);
    }
  });

  it('at λ ≥ λ_max all weights are zero and the intercept is the log-odds of the base rate', () => {
    const { x, y } = randomProblem(7, 50, 3);
    const X = new DenseMatrix(x, 50, 3);
    const fit = fitL1Logistic(X, y, { lambda: lambdaMax(X, y) * 1.0001, tolerance: 1e-12, solver });
    const p = y.reduce((a, v) => a + v, 0) / 50;
    expect(Array.from(fit.weights)).toEqual([0, 0, 0]);
    expect(fit.bias).toBeCloseTo(Math.log(p / (1 - p)), 9);
    // Just below λ_max a weight turns on.
    const below = fitL1Logistic(X, y, { lambda: lambdaMax(X, y) * 0.9, tolerance: 1e-10, solver });
    expect(Array.from(below.weights).some((v) => v !== 0)).toBe(true);
  });

  it('gives the same solution on a sparse matrix as on its dense copy, and on an implicit standardisation as on an explicit one', () => {
    const n = 30;
    const d = 5;
    const rng = new Rng(11);
    const dense = new Float64Array(n * d);
    const rowStart = [0];
    const cols: number[] = [];
    const vals: number[] = [];
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < d; j++) {
        if (rng.uniform() < 0.4) {
          const v = Math.fround(rng.uniform() * 3);
          dense[i * d + j] = v;
          cols.push(j);
          vals.push(v);
        }
      }
      rowStart.push(cols.length);
    }
    const y = Float64Array.from({ length: n }, (_, i) => (dense[i * d]! + dense[i * d + 2]! > 1.5 ? 1 : 0));
    const sparse = new SparseMatrix(Int32Array.from(rowStart), Int32Array.from(cols), Float32Array.from(vals), n, d);
    const X = new DenseMatrix(dense, n, d);
    const lambda = 0.02;
    const a = fitL1Logistic(X, y, { lambda, tolerance: 1e-10, solver });
    const b = fitL1Logistic(sparse, y, { lambda, tolerance: 1e-10, solver });
    for (let j = 0; j < d; j++) expect(b.weights[j]).toBeCloseTo(a.weights[j]!, 7);
    // Standardised: implicit view vs the explicitly standardised dense matrix.
    const s = computeStandardization(sparse);
    const explicit = new Float64Array(n * d);
    for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) explicit[i * d + j] = (dense[i * d + j]! - s.mean[j]!) / s.scale[j]!;
    const c = fitL1Logistic(new StandardizedMatrix(sparse, s), y, { lambda, tolerance: 1e-10, solver });
    const e = fitL1Logistic(new DenseMatrix(explicit, n, d), y, { lambda, tolerance: 1e-10, solver });
    for (let j = 0; j < d; j++) expect(c.weights[j]).toBeCloseTo(e.weights[j]!, 7);
    expect(c.bias).toBeCloseTo(e.bias, 7);
  });

  it('rejects bad input with messages naming the problem', () => {
    const X = new DenseMatrix(new Float64Array(4), 2, 2);
    expect(() => fitL1Logistic(X, [0, 2], { lambda: 0.1, solver })).toThrow(/target 1 is 2, expected 0 or 1/);
    expect(() => fitL1Logistic(X, [0], { lambda: 0.1, solver })).toThrow(/1 targets for a matrix of 2 rows/);
    expect(() => fitL1Logistic(X, [0, 1], { lambda: -1, solver })).toThrow(/lambda must be a finite number ≥ 0/);
    expect(() => fitL1Logistic(X, [0, 1], { lambda: NaN, solver })).toThrow(/lambda/);
    expect(() => fitL1Logistic(X, [0, 1], { lambda: 0.1, solver, initial: { weights: new Float64Array(3), bias: 0 } })).toThrow(
      /initial weights have length 3, expected 2/,
    );
  });

  it('warm starts from another solution reach the same optimum', () => {
    const { x, y } = randomProblem(21, 60, 6);
    const X = new DenseMatrix(x, 60, 6);
    const lmax = lambdaMax(X, y);
    const cold = fitL1Logistic(X, y, { lambda: 0.05 * lmax, tolerance: 1e-10, solver });
    const start = fitL1Logistic(X, y, { lambda: 0.5 * lmax, tolerance: 1e-10, solver });
    const warm = fitL1Logistic(X, y, {
      lambda: 0.05 * lmax,
      tolerance: 1e-10,
      solver,
      initial: { weights: start.weights, bias: start.bias },
    });
    for (let j = 0; j < 6; j++) expect(warm.weights[j]).toBeCloseTo(cold.weights[j]!, 7);
    expect(warm.bias).toBeCloseTo(cold.bias, 7);
  });
});

describe('fitL1Logistic: the two solvers', () => {
  it('agree on a wide sparse standardised problem (hashed n-gram shape)', () => {
    const n = 80;
    const d = 300;
    const rng = new Rng(31);
    const rowStart = [0];
    const cols: number[] = [];
    const vals: number[] = [];
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      y[i] = i % 2;
      for (let j = 0; j < d; j++) {
        // Column 0 is informative; the rest are rare (about 3% of rows), so standardising them makes huge values.
        const p = j === 0 ? (y[i] ? 0.8 : 0.2) : 0.03;
        if (rng.uniform() < p) {
          cols.push(j);
          vals.push(Math.fround(Math.log1p(1 + rng.int(3))));
        }
      }
      rowStart.push(cols.length);
    }
    const sparse = new SparseMatrix(Int32Array.from(rowStart), Int32Array.from(cols), Float32Array.from(vals), n, d);
    const X = new StandardizedMatrix(sparse, computeStandardization(sparse));
    const lambda = 0.1 * lambdaMax(X, y);
    const cd = fitL1Logistic(X, y, { lambda, tolerance: 1e-8, solver: 'cd' });
    const fista = fitL1Logistic(X, y, { lambda, tolerance: 1e-8, solver: 'fista', maxIterations: 500000 });
    expect(cd.converged && fista.converged).toBe(true);
    expect(Math.abs(cd.objective - fista.objective)).toBeLessThan(1e-9);
    // With more columns than rows the minimising weights need not be unique, but the fitted scores z are
    // (the loss is strictly convex in z), and so is ‖w‖₁.
    const zc = new Float64Array(n);
    const zf = new Float64Array(n);
    X.mul(cd.weights, zc);
    X.mul(fista.weights, zf);
    for (let i = 0; i < n; i++) expect(Math.abs(zc[i]! + cd.bias - zf[i]! - fista.bias)).toBeLessThan(1e-4);
    const l1 = (w: Float64Array): number => w.reduce((s, v) => s + Math.abs(v), 0);
    expect(Math.abs(l1(cd.weights) - l1(fista.weights))).toBeLessThan(1e-5);
  });

  it("'auto' picks coordinate descent for sparse matrices and FISTA for dense ones", () => {
    const sparse = new SparseMatrix(Int32Array.of(0, 1), Int32Array.of(0), Float32Array.of(1), 1, 1);
    const dense = new DenseMatrix(new Float64Array(1), 1, 1);
    expect(autoSolver(sparse)).toBe('cd');
    expect(autoSolver(new StandardizedMatrix(sparse, computeStandardization(sparse)))).toBe('cd');
    expect(autoSolver(dense)).toBe('fista');
    expect(autoSolver(new StandardizedMatrix(dense, computeStandardization(dense)))).toBe('fista');
  });

  it('names an unknown solver', () => {
    expect(() => fitL1Logistic(new DenseMatrix(new Float64Array(2), 2, 1), [0, 1], { lambda: 0.1, solver: 'sgd' as 'cd' })).toThrow(
      /solver must be 'auto', 'cd' or 'fista', got "sgd"/,
    );
  });
});

describe('numerics', () => {
  it('softplus and sigmoid are stable at extreme arguments', () => {
    expect(softplus(1000)).toBe(1000);
    expect(softplus(-1000)).toBe(0);
    expect(sigmoid(-1000)).toBe(0);
    expect(sigmoid(1000)).toBe(1);
    expect(softplus(0)).toBeCloseTo(Math.LN2, 15);
  });
});

describe('fitLogistic1D (single-unit classifier)', () => {
  it('has zero gradient of its ridge objective at the solution', () => {
    const { x, y } = randomProblem(5, 80, 1);
    const mean = x.reduce((a, v) => a + v, 0) / x.length;
    const sd = Math.sqrt(x.reduce((a, v) => a + (v - mean) ** 2, 0) / x.length);
    const xs = x.map((v) => (v - mean) / sd);
    const { a, b } = fitLogistic1D(xs, y);
    const { gw, gb } = gradient(xs, y, 80, 1, Float64Array.of(a), b);
    expect(Math.abs(gw[0]! + 1e-4 * a)).toBeLessThan(1e-8);
    expect(Math.abs(gb)).toBeLessThan(1e-8);
  });

  it('stays finite on perfectly separable data', () => {
    const x = Float64Array.from([-2, -1, -0.5, 0.5, 1, 2]);
    const y = Float64Array.from([0, 0, 0, 1, 1, 1]);
    const { a, b } = fitLogistic1D(x, y);
    expect(Number.isFinite(a) && a > 1).toBe(true);
    expect(Math.abs(b)).toBeLessThan(1e-6);
  });
});
