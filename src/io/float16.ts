/**
 * IEEE 754 binary16 (F16) and bfloat16 (BF16) ⇄ float32, as bit manipulations.
 * Decoding is exact (every half value is a float32). Encoding rounds to nearest, ties to even;
 * NaN stays NaN (quiet), ±Inf stays ±Inf, F16 overflow becomes ±Inf.
 */

/** float32 bits of a binary16 value. */
export function halfBitsToFloatBits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exponent = (h >>> 10) & 0x1f;
  let mantissa = h & 0x3ff;
  if (exponent === 0x1f) return (sign | 0x7f800000 | (mantissa << 13)) >>> 0; // Inf / NaN (payload kept)
  if (exponent !== 0) return (sign | ((exponent + 112) << 23) | (mantissa << 13)) >>> 0; // 112 = 127 - 15
  if (mantissa === 0) return sign >>> 0; // ±0
  // Subnormal half: normalise, since every half subnormal is a normal float32.
  let e = 113; // exponent of 2^-14 in float32 bias, decremented per shift
  while ((mantissa & 0x400) === 0) {
    mantissa <<= 1;
    e--;
  }
  return (sign | (e << 23) | ((mantissa & 0x3ff) << 13)) >>> 0;
}

/** binary16 bits nearest to the float32 with bits `b` (ties to even). */
export function floatBitsToHalfBits(b: number): number {
  const sign = (b >>> 16) & 0x8000;
  const exponent = (b >>> 23) & 0xff;
  const mantissa = b & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa !== 0 ? 0x200 | (mantissa >>> 13) : 0);
  const e = exponent - 127; // unbiased
  if (e > 15) return sign | 0x7c00;
  if (e >= -14) {
    // Normal half. A carry out of the mantissa correctly bumps the exponent (up to Inf).
    let half = ((e + 15) << 10) | (mantissa >>> 13);
    const rest = mantissa & 0x1fff;
    if (rest > 0x1000 || (rest === 0x1000 && (half & 1) !== 0)) half++;
    return sign | half;
  }
  if (e < -25) return sign; // below half the smallest subnormal (2^-24): rounds to ±0
  // Subnormal half in units of 2^-24: value = significand · 2^(e+1) units.
  const significand = mantissa | 0x800000;
  const shift = -e - 1; // 14 … 24
  let half = significand >>> shift;
  const rest = significand & ((1 << shift) - 1);
  const halfway = 1 << (shift - 1);
  if (rest > halfway || (rest === halfway && (half & 1) !== 0)) half++;
  return sign | half;
}

/** float32 bits of a bfloat16 value: bfloat16 is the top half of a float32. */
export function bfloatBitsToFloatBits(h: number): number {
  return (h << 16) >>> 0;
}

/** bfloat16 bits nearest to the float32 with bits `b` (ties to even); NaN stays a quiet NaN. */
export function floatBitsToBfloatBits(b: number): number {
  if ((b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff) !== 0) return ((b >>> 16) | 0x0040) & 0xffff;
  // The sum stays below 2^32 for every non-NaN input, so `>>> 16` is exact; a carry rounds up into the exponent.
  return ((b >>> 0) + 0x7fff + ((b >>> 16) & 1)) >>> 16;
}
