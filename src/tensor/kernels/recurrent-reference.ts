/**
 * Naive references for the fused recurrent kernels: straight from the equations of docs/CONTRACT.md,
 * recomputing every activation from the preactivation z (nothing saved, nothing fused), with the
 * derivatives written in a different but equivalent form (σ'(z) = σ(z)·σ(−z), tanh'(z) = 1/cosh²z)
 * so that a slip in the fast kernels' algebra cannot be repeated here. Slow and allocating; for tests.
 */

/** σ(z) written as the textbook formula; exp(−z) = ∞ for very negative z still gives the right 0. */
function sigmoidNaive(z: number): number {
  return 1 / (1 + Math.exp(-z));
}

function dsigmoidNaive(z: number): number {
  return sigmoidNaive(z) * sigmoidNaive(-z);
}

function dtanhNaive(z: number): number {
  const ch = Math.cosh(z);
  return 1 / (ch * ch);
}

/** z [B,4H], cPrev [B,H] → c [B,H], h [B,H]. */
export function lstmGatesForwardNaive(
  B: number,
  H: number,
  z: ArrayLike<number>,
  cPrev: ArrayLike<number>,
): { c: Float64Array; h: Float64Array } {
  const c = new Float64Array(B * H);
  const h = new Float64Array(B * H);
  for (let b = 0; b < B; b++) {
    for (let j = 0; j < H; j++) {
      const gate = (block: number): number => z[b * 4 * H + block * H + j]!;
      const cell = sigmoidNaive(gate(1)) * cPrev[b * H + j]! + sigmoidNaive(gate(0)) * Math.tanh(gate(2));
      c[b * H + j] = cell;
      h[b * H + j] = sigmoidNaive(gate(3)) * Math.tanh(cell);
    }
  }
  return { c, h };
}

/**
 * z [B,4H], cPrev [B,H], dh [B,H], dcNext [B,H] → dz [B,4H], dcPrev [B,H], by the chain rule
 * through c = σ(f)c_prev + σ(i)tanh(g), h = σ(o)tanh(c).
 */
export function lstmGatesBackwardNaive(
  B: number,
  H: number,
  z: ArrayLike<number>,
  cPrev: ArrayLike<number>,
  dh: ArrayLike<number>,
  dcNext: ArrayLike<number>,
): { dz: Float64Array; dcPrev: Float64Array } {
  const dz = new Float64Array(B * 4 * H);
  const dcPrev = new Float64Array(B * H);
  for (let b = 0; b < B; b++) {
    for (let j = 0; j < H; j++) {
      const k = b * H + j;
      const zi = z[b * 4 * H + j]!;
      const zf = z[b * 4 * H + H + j]!;
      const zg = z[b * 4 * H + 2 * H + j]!;
      const zo = z[b * 4 * H + 3 * H + j]!;
      const cell = sigmoidNaive(zf) * cPrev[k]! + sigmoidNaive(zi) * Math.tanh(zg);
      // ∂h/∂c = σ(o)·tanh'(c); the total ∂L/∂c adds what flows in from step t+1.
      const dcTotal = dh[k]! * sigmoidNaive(zo) * dtanhNaive(cell) + dcNext[k]!;
      dz[b * 4 * H + j] = dcTotal * Math.tanh(zg) * dsigmoidNaive(zi);
      dz[b * 4 * H + H + j] = dcTotal * cPrev[k]! * dsigmoidNaive(zf);
      dz[b * 4 * H + 2 * H + j] = dcTotal * sigmoidNaive(zi) * dtanhNaive(zg);
      dz[b * 4 * H + 3 * H + j] = dh[k]! * Math.tanh(cell) * dsigmoidNaive(zo);
      dcPrev[k] = dcTotal * sigmoidNaive(zf);
    }
  }
  return { dz, dcPrev };
}

/** h = tanh(z) over n elements. */
export function tanhForwardNaive(z: ArrayLike<number>): Float64Array {
  return Float64Array.from(z as ArrayLike<number>, (v) => Math.tanh(v));
}

/** dz = dh · tanh'(z), evaluated from z (not from h). */
export function tanhBackwardNaive(z: ArrayLike<number>, dh: ArrayLike<number>): Float64Array {
  const dz = new Float64Array(z.length);
  for (let k = 0; k < z.length; k++) dz[k] = dh[k]! * dtanhNaive(z[k]!);
  return dz;
}

/** m = xm ⊙ hm. */
export function multiplicativeForwardNaive(xm: ArrayLike<number>, hm: ArrayLike<number>): Float64Array {
  const m = new Float64Array(xm.length);
  for (let k = 0; k < xm.length; k++) m[k] = xm[k]! * hm[k]!;
  return m;
}
