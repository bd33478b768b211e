import type { Storage } from '../dtype.js';

/**
 * The mRNN's output nonlinearity, h = tanh(z), for one time step of n = B·H elements.
 * The output itself is all the backward needs (tanh' = 1 − tanh²), so nothing else is saved.
 *
 * @param z  [B,H] preactivations at zOff (read only)
 * @param h  [B,H] written at hOff
 */
export function tanhForward(n: number, z: Storage, zOff: number, h: Storage, hOff: number): void {
  for (let k = 0; k < n; k++) h[hOff + k] = Math.tanh(z[zOff + k]!);
}

/**
 * Backward: dz = dh ⊙ (1 − h²), since d tanh(z)/dz = 1 − tanh²(z) = 1 − h².
 *
 * @param h   [B,H] the forward's output at hOff
 * @param dh  [B,H] ∂L/∂h at dhOff
 * @param dz  [B,H] overwritten at dzOff (may alias dh at the same offset)
 */
export function tanhBackward(n: number, h: Storage, hOff: number, dh: Storage, dhOff: number, dz: Storage, dzOff: number): void {
  for (let k = 0; k < n; k++) {
    const hv = h[hOff + k]!;
    dz[dzOff + k] = dh[dhOff + k]! * (1 - hv * hv);
  }
}
