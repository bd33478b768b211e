import { f32x4, i32, i32x4, v128, type Local, type V128 } from './expr.js';
import type { FunctionBuilder } from './module-builder.js';

/**
 * exp, σ and tanh on four float32 lanes, for the gate kernels: WebAssembly has no transcendental
 * instructions, so they are built from range reduction and a polynomial, branch-free (every lane
 * takes the same path; special values fall out of the arithmetic).
 *
 * Range reduction (Cody–Waite): x = n·ln2 + r with n = round(x/ln2) and |r| ≤ ln2/2, computed as
 * r = (x − n·LN2_HI) − n·LN2_LO where LN2_HI has 9 significant bits, so n·LN2_HI is exact for
 * |n| < 2¹⁵ and the first subtraction is exact (Sterbenz); LN2_HI + LN2_LO = ln 2 to ~2⁻³³.
 * n comes from the "magic number" rounding: t = x·log2 e + 1.5·2²³ has the integer nearest to
 * x·log2 e in its low mantissa bits, so t − 1.5·2²³ is n as a float and bits(t) − bits(1.5·2²³) is
 * n as an integer (cheaper on x64 than f32x4.nearest and a saturating conversion).
 * Then e^r − 1 = r + r²·(1/2! + r·(1/3! + … + r/7!)), the Taylor series to r⁷: on |r| ≤ ln2/2 its
 * truncation error is < r⁸/8!·√2 ≈ 7·10⁻⁹, ≤ 0.3 ulp of the result. The scaling by 2ⁿ is an
 * integer add to the exponent field.
 *
 *  - exp(x) for x ≤ 0 (σ needs only these): x is clamped at −87.3, so n ≥ −126 and every
 *    intermediate is a normal number, and lanes below −87.3 are set to 0 (their true value is below
 *    e^−87.3 ≈ 1.23·10⁻³⁸, the bottom of the normal range): x86 computes subnormal results in
 *    microcode, 2–5× slower, and a saturated gate does not need them.
 *  - expm1(x) for x ≥ 0 (tanh): 2ⁿ·(1 + q) − 1 = (2ⁿ − 1) + 2ⁿ·q, where 2ⁿ − 1 and 2ⁿ·q are exact,
 *    so it is one rounding away from (2ⁿ−1) + 2ⁿ·q̂ and keeps full relative accuracy near 0 (n = 0
 *    gives q itself), where tanh needs it.
 *  - σ(z) = 1/(1 + e) for z ≥ 0 and e/(1 + e) for z < 0, with e = exp(−|z|) ∈ (0, 1]: never
 *    overflows, and both forms are well conditioned.
 *  - tanh(z) = sign(z)·m/(m + 2) with m = expm1(2·min(|z|, 9.5)): tanh(9.5) is 1 in float32
 *    (1 − tanh 9.5 ≈ 1.1·10⁻⁸ < 2⁻²⁵), and the clamp keeps m finite.
 * Special values: NaN propagates (the clamps are pmin/pmax with the input first, which keep a NaN;
 * a NaN lane's scale factor is garbage, but NaN times anything is NaN); ±Inf and huge inputs
 * saturate to the limits (σ → 0 or 1, tanh → ±1); tanh(−0) = −0, σ(±0) = ½; tanh of a subnormal is
 * that subnormal.
 */

/**
 * Worst errors, in float32 ulps of the correctly rounded result (the spacing of float32 numbers at
 * the true value; 2⁻¹⁴⁹ below 2⁻¹²⁶), over every float32 input: bench/wasm-math-accuracy.mjs
 * measures them exhaustively, test/wasm-vector-math.test.ts checks a 2²²-point sweep on every run.
 */
export const VECTOR_MATH_ACCURACY = {
  /** σ(z), z ≥ −87.3; below, 0 (a true value under flushBelow). */
  sigmoidUlps: 3,
  /** tanh(z), every z. */
  tanhUlps: 3,
  /** exp(x), −87.3 ≤ x ≤ 0; below, 0 (a true value under flushBelow). */
  expUlps: 1.5,
  /** exp and σ results below this are returned as 0: e^−87.3, just above the smallest normal 2⁻¹²⁶. */
  flushBelow: Math.exp(-87.3),
  /** The argument below which exp(x) and σ(x) are 0. */
  flushArgument: -87.3,
} as const;

const LOG2E = Math.LOG2E;
const LN2_HI = 0.693359375; // 355/512: 9 significant bits
const LN2_LO = -2.1219444e-4; // ln 2 − LN2_HI, rounded to float32
const ROUNDING_MAGIC = 1.5 * 2 ** 23; // adding it rounds |x| < 2²² to an integer, kept in the low mantissa bits
const ROUNDING_MAGIC_BITS = 0x4b40_0000;
const EXP_FLUSH_ARG = -87.3;
const TANH_MAX_ARG = 9.5;
const SIGN_BIT = 0x8000_0000;

/**
 * The constants of the routines below, each held in a local set once at function entry (a
 * v128.const inside a loop is rematerialised by V8 at every iteration).
 */
export interface MathConstants {
  readonly one: Local<'v128'>;
  readonly two: Local<'v128'>;
  readonly log2e: Local<'v128'>;
  readonly ln2Hi: Local<'v128'>;
  readonly ln2Lo: Local<'v128'>;
  /** 1/2!, 1/3!, …, 1/7!. */
  readonly taylor: readonly Local<'v128'>[];
  readonly magic: Local<'v128'>;
  readonly magicBits: Local<'v128'>;
  readonly expFlushArg: Local<'v128'>;
  readonly tanhMaxArg: Local<'v128'>;
  readonly zero: Local<'v128'>;
  readonly exponentBias: Local<'v128'>;
  readonly signBit: Local<'v128'>;
}

export function mathConstants(f: FunctionBuilder): MathConstants {
  const taylor: Local<'v128'>[] = [];
  let factorial = 1;
  for (let k = 2; k <= 7; k++) {
    factorial *= k;
    taylor.push(f.let(v128.splatF32(1 / factorial), `inv${k}!`));
  }
  return {
    one: f.let(v128.splatF32(1), 'one'),
    two: f.let(v128.splatF32(2), 'two'),
    log2e: f.let(v128.splatF32(LOG2E), 'log2e'),
    ln2Hi: f.let(v128.splatF32(LN2_HI), 'ln2Hi'),
    ln2Lo: f.let(v128.splatF32(LN2_LO), 'ln2Lo'),
    taylor,
    magic: f.let(v128.splatF32(ROUNDING_MAGIC), 'magic'),
    magicBits: f.let(v128.splatI32(ROUNDING_MAGIC_BITS), 'magicBits'),
    expFlushArg: f.let(v128.splatF32(EXP_FLUSH_ARG), 'expFlushArg'),
    tanhMaxArg: f.let(v128.splatF32(TANH_MAX_ARG), 'tanhMaxArg'),
    zero: f.let(v128.splatF32(0), 'zero'),
    exponentBias: f.let(v128.splatI32(127), 'exponentBias'),
    signBit: f.let(v128.splatI32(SIGN_BIT), 'signBit'),
  };
}

/** n = round(x·log2 e), as a float and as an integer, and r = x − n·ln 2 in two steps (Cody–Waite). */
function reduce(f: FunctionBuilder, c: MathConstants, x: V128): { n: Local<'v128'>; ni: Local<'v128'>; r: Local<'v128'> } {
  const xl = f.let(x);
  const t = f.let(f32x4.add(f32x4.mul(xl, c.log2e), c.magic));
  const n = f.let(f32x4.sub(t, c.magic));
  const ni = f.let(i32x4.sub(t, c.magicBits));
  const r = f.let(f32x4.sub(f32x4.sub(xl, f32x4.mul(n, c.ln2Hi)), f32x4.mul(n, c.ln2Lo)));
  return { n, ni, r };
}

/**
 * e^r − 1 for |r| ≤ ln2/2: r + r²·P(r), P(r) = 1/2! + r/3! + … + r⁵/7! by Estrin's scheme,
 * (c₂ + c₃r) + r²(c₄ + c₅r) + r⁴(c₆ + c₇r): a dependency chain of 4 operations where Horner's has 10
 * (the kernels are latency-bound), for the same accuracy here.
 */
function expm1Reduced(f: FunctionBuilder, c: MathConstants, r: Local<'v128'>): Local<'v128'> {
  const [c2, c3, c4, c5, c6, c7] = c.taylor as [Local<'v128'>, Local<'v128'>, Local<'v128'>, Local<'v128'>, Local<'v128'>, Local<'v128'>];
  const r2 = f.let(f32x4.mul(r, r));
  const r4 = f32x4.mul(r2, r2);
  const low = f32x4.add(c2, f32x4.mul(c3, r));
  const mid = f32x4.mul(r2, f32x4.add(c4, f32x4.mul(c5, r)));
  const high = f32x4.mul(r4, f32x4.add(c6, f32x4.mul(c7, r)));
  return f.let(f32x4.add(r, f32x4.mul(r2, f32x4.add(f32x4.add(low, mid), high))));
}

/** 2ⁿ for integer lanes n ∈ [−126, 127]: (n + 127) in the exponent field. */
const pow2 = (c: MathConstants, n: V128): V128 => i32x4.shl(i32x4.add(n, c.exponentBias), i32.const(23));

/** exp(x) for lanes x ≤ 0 (NaN → NaN; x < −87.3, −Inf included → 0). */
export function expNonPositive(f: FunctionBuilder, c: MathConstants, x: V128): Local<'v128'> {
  const xl = f.let(x);
  const { ni, r } = reduce(f, c, f32x4.pmax(xl, c.expFlushArg)); // ni ∈ [−126, 0]: 2ⁿ is normal
  const q = expm1Reduced(f, c, r);
  const e = f32x4.mul(f32x4.add(c.one, q), pow2(c, ni));
  return f.let(v128.andnot(e, f32x4.lt(xl, c.expFlushArg))); // a NaN compares false: kept
}

/** e^x − 1 for lanes 0 ≤ x ≤ 19 (NaN → NaN). */
export function expm1NonNegative(f: FunctionBuilder, c: MathConstants, x: V128): Local<'v128'> {
  const { ni, r } = reduce(f, c, x);
  const q = expm1Reduced(f, c, r);
  const scale = f.let(pow2(c, ni));
  return f.let(f32x4.add(f32x4.sub(scale, c.one), f32x4.mul(scale, q)));
}

/** σ(z) = 1/(1 + e^−z), lane by lane. */
export function sigmoid(f: FunctionBuilder, c: MathConstants, z: V128): Local<'v128'> {
  const zl = f.let(z);
  const e = expNonPositive(f, c, v128.or(zl, c.signBit)); // −|z|
  const s = f.let(f32x4.div(c.one, f32x4.add(c.one, e)));
  return f.let(v128.bitselect(f32x4.mul(e, s), s, f32x4.lt(zl, c.zero)));
}

/** tanh(z), lane by lane. */
export function tanh(f: FunctionBuilder, c: MathConstants, z: V128): Local<'v128'> {
  const zl = f.let(z);
  const a = f.let(f32x4.pmin(v128.andnot(zl, c.signBit), c.tanhMaxArg)); // min(|z|, 9.5), NaN kept
  const m = expm1NonNegative(f, c, f32x4.add(a, a));
  const t = f32x4.div(m, f32x4.add(m, c.two));
  return f.let(v128.bitselect(zl, t, c.signBit));
}
