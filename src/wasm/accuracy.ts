import { VECTOR_MATH_ACCURACY } from './vector-math.js';

/**
 * The accuracy the wasm kernels state, as functions the tests check them against (u is the
 * float32 unit roundoff 2⁻²⁴; γ_n = n·u/(1 − n·u), Higham's constant for n roundings).
 *
 * GEMM (both the fma and the mul+add module). Per element, with the float32 inputs taken as exact:
 *   |ĉ − c| ≤ γ_{k+3}·M + (k + 3)·2⁻¹⁴⁹,    M = |α|·Σ_p |a_p·b_p| + |bias_j| + |C_old|
 * (the k-term dot product in float32, γ_k; rounding α to float32, α·s, + bias, C +: three more;
 * the absolute term covers products that underflow). The JS blocked kernel sums float64 products
 * in float64 within a k-block, so the two backends agree to this bound, not bit for bit.
 *
 * Gate kernels: σ and tanh within VECTOR_MATH_ACCURACY ulps of the correctly rounded value
 * (vector-math.ts; σ flushed to 0 below 1.23·10⁻³⁸); the cell arithmetic in float32 on top of them,
 * bounded per output by gateErrorBound from the number of roundings on its longest path and its
 * magnitude M (the same expression evaluated on absolute values), plus FUNCTION_ABSOLUTE_ERROR where
 * a σ is a factor.
 */

export const FLOAT32_UNIT_ROUNDOFF = 2 ** -24;
const MIN_SUBNORMAL = 2 ** -149;

/** γ_n = n·u/(1 − n·u). */
export function gamma(n: number): number {
  const nu = n * FLOAT32_UNIT_ROUNDOFF;
  return nu / (1 - nu);
}

/** The bound on |ĉ − c| of one element of a wasm GEMM with dot-product length k and magnitude M (above). */
export function gemmErrorBound(k: number, magnitude: number): number {
  return gamma(k + 3) * magnitude + (k + 3) * MIN_SUBNORMAL;
}

/** Relative error of one σ or tanh value: `ulps` float32 ulps of a result in [2^e, 2^(e+1)) are at most ulps·2u of it. */
export const FUNCTION_RELATIVE_ERROR = {
  sigmoid: 2 * VECTOR_MATH_ACCURACY.sigmoidUlps * FLOAT32_UNIT_ROUNDOFF,
  tanh: 2 * VECTOR_MATH_ACCURACY.tanhUlps * FLOAT32_UNIT_ROUNDOFF,
} as const;

/**
 * Absolute error on top of the relative one: σ is flushed to 0 where its true value is below
 * VECTOR_MATH_ACCURACY.flushBelow (≈ 1.23·10⁻³⁸), so an output with a factor σ(z) may be off by that
 * times the factor's partner (|c_prev|, |tanh g|, |tanh c|).
 */
export const FUNCTION_ABSOLUTE_ERROR = { sigmoid: VECTOR_MATH_ACCURACY.flushBelow, tanh: 0 } as const;

/**
 * Bound for an output of the elementwise kernels: `roundings` float32 operations on its longest
 * path, `functionError` the summed relative errors of the σ/tanh values it uses (0 for the
 * backward kernels, which read saved values), M its magnitude; the absolute term allows one
 * subnormal spacing per rounding (and per function value) for results that underflow.
 */
export function gateErrorBound(roundings: number, functionError: number, magnitude: number): number {
  return (gamma(roundings) + functionError) * magnitude * (1 + 1e-6) + (roundings + 2) * MIN_SUBNORMAL;
}

export { VECTOR_MATH_ACCURACY };
