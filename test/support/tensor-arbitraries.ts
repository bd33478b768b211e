import fc from 'fast-check';
import type { DType } from '../../src/tensor/dtype.js';
import { Rng } from '../../src/tensor/rng.js';
import { Tensor, zeros } from '../../src/tensor/tensor.js';

/*
 * Shared generators and first-principles helpers for the element-wise / reduction tests.
 * Shapes: rank 0..4, every dim 1..7 (so size-1 axes and sizes that are not multiples of anything
 * come up constantly). Values come from a seeded Rng, the seed drawn by fast-check.
 */

export const dimArb = fc.integer({ min: 1, max: 7 });

export function shapeArb(minRank = 0, maxRank = 4): fc.Arbitrary<number[]> {
  return fc.array(dimArb, { minLength: minRank, maxLength: maxRank });
}

/** A shape that broadcasts to `out`: a suffix of it (rank difference) with some dims replaced by 1. */
export function operandShapeArb(out: readonly number[]): fc.Arbitrary<number[]> {
  return fc
    .tuple(fc.integer({ min: 0, max: out.length }), fc.array(fc.boolean(), { minLength: out.length, maxLength: out.length }))
    .map(([rank, ones]) => out.slice(out.length - rank).map((d, i) => (ones[out.length - rank + i] ? 1 : d)));
}

/** Two shapes that broadcast together (to `out`, or to a shape `out` reduces to when dims drop). */
export const broadcastPairArb = shapeArb().chain((out) =>
  fc.tuple(operandShapeArb(out), operandShapeArb(out)).map(([a, b]) => ({ out, a, b })),
);

export const seedArb = fc.integer({ min: 0, max: 0x7fffffff });

/** A tensor of `shape` with normal values (mean 0, deviation `std`) from a seeded Rng. */
export function normalTensor(shape: readonly number[], seed: number, std = 1, dtype: DType = 'float64'): Tensor {
  const t = zeros(shape, dtype);
  new Rng(seed).fillNormal(t.data, 0, std);
  return t;
}

/** A random permutation of 0..n−1 (Fisher–Yates over a seeded Rng). */
export function shuffledIndices(n: number, seed: number): number[] {
  const rng = new Rng(seed);
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [p[i], p[j]] = [p[j]!, p[i]!];
  }
  return p;
}

/** A tensor of `shape` with values uniform in [lo, hi). */
export function uniformTensor(shape: readonly number[], seed: number, lo = -2, hi = 2, dtype: DType = 'float64'): Tensor {
  const t = zeros(shape, dtype);
  new Rng(seed).fillUniform(t.data, lo, hi);
  return t;
}

/** A tensor whose |values| are uniform in [lo, hi) with random signs — away from 0 by at least lo. */
export function awayFromZeroTensor(shape: readonly number[], seed: number, lo = 0.1, hi = 2): Tensor {
  const rng = new Rng(seed);
  const t = zeros(shape, 'float64');
  for (let i = 0; i < t.size; i++) t.data[i] = (rng.next() < 0.5 ? -1 : 1) * rng.uniform(lo, hi);
  return t;
}

/** A tensor whose values are a random permutation of 0..n−1 times `step`: all distinct by ≥ step. */
export function distinctTensor(shape: readonly number[], seed: number, step = 0.01): Tensor {
  const rng = new Rng(seed);
  const t = zeros(shape, 'float64');
  const perm = Array.from({ length: t.size }, (_, i) => i);
  for (let i = perm.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [perm[i], perm[j]] = [perm[j]!, perm[i]!];
  }
  for (let i = 0; i < t.size; i++) t.data[i] = (perm[i]! - t.size / 2) * step;
  return t;
}

/** Every multi-index of `shape` in row-major order (a scalar shape has one, the empty index). */
export function allIndices(shape: readonly number[]): number[][] {
  let out: number[][] = [[]];
  for (const d of shape) {
    const next: number[][] = [];
    for (const prefix of out) for (let i = 0; i < d; i++) next.push([...prefix, i]);
    out = next;
  }
  return out;
}

/** The element of `t` that broadcasting reads at `outIndex` of a larger (right-aligned) shape. */
export function broadcastGet(t: Tensor, outIndex: readonly number[]): number {
  const lead = outIndex.length - t.rank;
  return t.get(...t.shape.map((d, i) => (d === 1 ? 0 : outIndex[lead + i]!)));
}
