import { describe, expect, it } from 'vitest';
import { Rng } from '../src/tensor/rng.js';
import { stableSigmoid } from '../src/tensor/kernels/stable-sigmoid.js';
import { VECTOR_MATH_ACCURACY } from '../src/wasm/index.js';
import { bitsOf, fromBits, wasmBackends } from './support/wasm.js';

/*
 * The vector σ, tanh and exp of the gate kernels (src/wasm/vector-math.ts) against the float64
 * Math functions: a sweep of 2²² inputs spread over every float32 bit pattern (both signs, every
 * exponent, subnormals, infinities and NaNs), in float32 ulps of the correctly rounded result, to
 * the stated VECTOR_MATH_ACCURACY (bench/wasm-math-accuracy.mjs checks every float32 input), σ and exp
 * flushed to 0 below −87.3; then the saturated and special inputs one by one.
 */

const { mulAdd: backend, all } = wasmBackends();
const SUBNORMAL_ULP = 2 ** -149;
const FLUSH_ARG = Math.fround(VECTOR_MATH_ACCURACY.flushArgument);

/** Spacing of float32 numbers at the correctly rounded value of r. */
function ulp(r: number): number {
  const a = Math.abs(Math.fround(r));
  return a < 2 ** -126 ? SUBNORMAL_ULP : 2 ** (Math.floor(Math.log2(a)) - 23);
}

/** 2²² inputs: every 1024th bit pattern, each moved by a seeded random amount within its stride. */
function sweep(): Float32Array {
  const rng = new Rng(42);
  const n = 1 << 22;
  const bits = new Array<number>(n);
  for (let i = 0; i < n; i++) bits[i] = i * 1024 + Math.floor(rng.uniform(0, 1024));
  return fromBits(bits);
}

type Fn = 'sigmoid' | 'tanh' | 'expNonPositive';

function apply(fn: Fn, x: Float32Array): Float32Array {
  const y = new Float32Array(x.length);
  backend.elementwise(fn, x, y);
  return y;
}

/** Worst ulp error over the inputs in the domain; NaN in and only NaN in gives NaN out. */
function worstUlps(fn: Fn, reference: (x: number) => number, domain: (x: number) => boolean): { ulps: number; at: number } {
  const x = sweep();
  const y = apply(fn, x);
  let ulps = 0;
  let at = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (!domain(v)) continue;
    const want = reference(v);
    if (Number.isNaN(want) || Number.isNaN(y[i]!)) {
      expect(Number.isNaN(y[i]!), `${fn}(${v}) = ${y[i]}`).toBe(Number.isNaN(want));
      continue;
    }
    const e = Math.abs(y[i]! - want) / ulp(want);
    if (e > ulps) {
      ulps = e;
      at = v;
    }
  }
  return { ulps, at };
}

describe('vector σ, tanh, exp over the float32 range', () => {
  const FLUSH = Math.fround(VECTOR_MATH_ACCURACY.flushArgument);
  const aboveFlush = (v: number): boolean => !(v < FLUSH);

  it(`σ within ${VECTOR_MATH_ACCURACY.sigmoidUlps} ulps (above the flush to zero)`, () => {
    const { ulps, at } = worstUlps('sigmoid', stableSigmoid, aboveFlush);
    console.log(`σ: worst ${ulps.toFixed(3)} ulps at ${at}`);
    expect(ulps).toBeLessThanOrEqual(VECTOR_MATH_ACCURACY.sigmoidUlps);
    expect(ulps).toBeGreaterThan(0.5); // an approximation: not correctly rounded everywhere (the test measures)
  });

  it(`tanh within ${VECTOR_MATH_ACCURACY.tanhUlps} ulps`, () => {
    const { ulps, at } = worstUlps('tanh', Math.tanh, () => true);
    console.log(`tanh: worst ${ulps.toFixed(3)} ulps at ${at}`);
    expect(ulps).toBeLessThanOrEqual(VECTOR_MATH_ACCURACY.tanhUlps);
  });

  it(`exp(x ≤ 0) within ${VECTOR_MATH_ACCURACY.expUlps} ulps (above the flush to zero)`, () => {
    const { ulps, at } = worstUlps('expNonPositive', Math.exp, (v) => !(v > 0) && aboveFlush(v));
    console.log(`exp: worst ${ulps.toFixed(3)} ulps at ${at}`);
    expect(ulps).toBeLessThanOrEqual(VECTOR_MATH_ACCURACY.expUlps);
  });

  it('σ and exp are 0 below −87.3, where their true values are below e^−87.3 ≈ 1.23e-38', () => {
    const x = sweep().filter((v) => v < FLUSH);
    expect(x.length).toBeGreaterThan(1000);
    for (const fn of ['sigmoid', 'expNonPositive'] as const) expect(apply(fn, x).every((v) => v === 0)).toBe(true);
    expect(stableSigmoid(FLUSH)).toBeLessThan(VECTOR_MATH_ACCURACY.flushBelow * 1.0001);
    expect(VECTOR_MATH_ACCURACY.flushBelow).toBeGreaterThan(2 ** -126); // the results kept are all normal numbers
  });

  it('the gate math is the same bits in the fma and the mul+add module (it uses no fused operation)', () => {
    const x = sweep().subarray(0, 1 << 18);
    for (const fn of ['sigmoid', 'tanh', 'expNonPositive'] as const) {
      const outs = all.map((b) => {
        const y = new Float32Array(x.length);
        b.elementwise(fn, x, y);
        return bitsOf(y);
      });
      for (const o of outs) expect(o).toEqual(outs[0]);
    }
  });
});

describe('saturated and special inputs', () => {
  const run = (fn: Fn, xs: number[]): number[] => Array.from(apply(fn, Float32Array.from(xs)));
  const same = (got: number[], want: number[]) =>
    got.forEach((g, i) => expect(Object.is(g, want[i]), `lane ${i}: ${g} vs ${want[i]}`).toBe(true));

  it('σ: ±Inf, ±1e4 and ±3e38 saturate to 0 and 1; ±0 and tiny give ½; NaN propagates', () => {
    same(run('sigmoid', [Infinity, -Infinity, 1e4, -1e4, 3e38, -3e38, 0, -0]), [1, 0, 1, 0, 1, 0, 0.5, 0.5]);
    same(run('sigmoid', [1e-40, -1e-40, 1e-30, 17, -17]), [0.5, 0.5, 0.5, 1, Math.fround(stableSigmoid(-17))]);
    expect(run('sigmoid', [NaN, -NaN, 1, NaN]).map(Number.isNaN)).toEqual([true, true, false, true]);
  });

  it('σ at the bottom of the normal range: accurate down to −87.3, 0 below (where the true value is subnormal)', () => {
    const xs = [-80, -87, -87.29, -87.31, -88.7, -103.9, -150].map(Math.fround);
    const y = run('sigmoid', xs);
    xs.forEach((x, i) => {
      const want = stableSigmoid(x);
      if (x >= FLUSH_ARG) expect(Math.abs(y[i]! - want), `σ(${x})`).toBeLessThanOrEqual(VECTOR_MATH_ACCURACY.sigmoidUlps * ulp(want));
      else expect(y[i], `σ(${x})`).toBe(0);
    });
  });

  it('tanh: ±Inf and ±1e4 saturate to ±1; −0 stays −0; tiny and subnormal x give x; NaN propagates', () => {
    same(run('tanh', [Infinity, -Infinity, 1e4, -1e4, 3e38, -3e38, 0, -0]), [1, -1, 1, -1, 1, -1, 0, -0]);
    const tiny = [1e-40, -1e-40, 1e-30, -1e-20, 1e-8].map(Math.fround);
    same(run('tanh', tiny), tiny);
    same(run('tanh', [9.5, 10, -12]), [1, 1, -1]);
    expect(Math.abs(run('tanh', [9])[0]! - Math.tanh(9))).toBeLessThanOrEqual(VECTOR_MATH_ACCURACY.tanhUlps * ulp(Math.tanh(9)));
    expect(run('tanh', [NaN, 0.5, -NaN, NaN]).map(Number.isNaN)).toEqual([true, false, true, true]);
  });

  it('exp: 0 and −0 give 1, −Inf and −1e4 give 0, accurate down to −87.3 and 0 below; NaN propagates', () => {
    same(run('expNonPositive', [0, -0, -Infinity, -1e4, -87.31, -90]), [1, 1, 0, 0, 0, 0]);
    const x = Math.fround(-87.29);
    expect(Math.abs(run('expNonPositive', [x])[0]! - Math.exp(x))).toBeLessThanOrEqual(VECTOR_MATH_ACCURACY.expUlps * ulp(Math.exp(x)));
    expect(Number.isNaN(run('expNonPositive', [NaN])[0]!)).toBe(true);
  });

  it('lengths that are not a multiple of 4 compute the tail like the rest and write nothing past it', () => {
    const x = Float32Array.from({ length: 11 }, (_, i) => i / 3 - 1.5);
    const y = new Float32Array(14).fill(7);
    backend.elementwise('tanh', x, y.subarray(0, 11));
    for (let i = 0; i < 11; i++) {
      const lone = new Float32Array(1);
      backend.elementwise('tanh', x.subarray(i, i + 1), lone);
      expect(Object.is(y[i], lone[0])).toBe(true);
    }
    expect(Array.from(y.subarray(11))).toEqual([7, 7, 7]);
  });
});
