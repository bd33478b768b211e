import type { Storage } from '../dtype.js';

/**
 * The multiplicative intermediate state of the mLSTM and mRNN for one time step:
 *
 *   m = xm ⊙ hm      with xm = x·wmxᵀ and hm = h_{t−1}·wmhᵀ, each [B,H] (n = B·H elements)
 *
 * @param xm  [B,H] at xmOff (read only)
 * @param hm  [B,H] at hmOff (read only)
 * @param m   [B,H] written at mOff
 */
export function multiplicativeForward(n: number, xm: Storage, xmOff: number, hm: Storage, hmOff: number, m: Storage, mOff: number): void {
  for (let k = 0; k < n; k++) m[mOff + k] = xm[xmOff + k]! * hm[hmOff + k]!;
}

/**
 * Backward of the product rule: ∂L/∂xm = dm ⊙ hm and ∂L/∂hm = dm ⊙ xm.
 *
 * @param dm   [B,H] ∂L/∂m at dmOff
 * @param xm   [B,H] forward operand at xmOff
 * @param hm   [B,H] forward operand at hmOff
 * @param dxm  [B,H] overwritten at dxmOff
 * @param dhm  [B,H] overwritten at dhmOff
 */
export function multiplicativeBackward(
  n: number,
  dm: Storage,
  dmOff: number,
  xm: Storage,
  xmOff: number,
  hm: Storage,
  hmOff: number,
  dxm: Storage,
  dxmOff: number,
  dhm: Storage,
  dhmOff: number,
): void {
  for (let k = 0; k < n; k++) {
    const g = dm[dmOff + k]!;
    dxm[dxmOff + k] = g * hm[hmOff + k]!;
    dhm[dhmOff + k] = g * xm[xmOff + k]!;
  }
}
