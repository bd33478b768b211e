import type { Storage } from '../dtype.js';
import { stableSigmoid } from './stable-sigmoid.js';

/**
 * The fused LSTM gate nonlinearity shared by the mLSTM and the LSTM: everything of one time step
 * that follows the preactivation z, in one pass over [B,H] with no temporaries.
 *
 *   i, f, g, o = split(z, 4)                          (gate order of docs/CONTRACT.md)
 *   c = σ(f) ⊙ c_prev + σ(i) ⊙ tanh(g)
 *   h = σ(o) ⊙ tanh(c)
 *
 * Buffers are flat with an offset so that a caller can address time step t of a [T,B,·] buffer
 * without copying. The naive references live in recurrent-reference.ts.
 */

/** Width of one saved row per hidden unit: σ(i), σ(f), tanh(g), σ(o), tanh(c). */
export const LSTM_SAVED_PER_UNIT = 5;

/**
 * Forward of the gates for one time step.
 *
 * @param z       [B,4H] preactivations at zOff, gate blocks i, f, g, o (read only)
 * @param cPrev   [B,H] previous cell state at cPrevOff (read only)
 * @param c       [B,H] new cell state, written at cOff
 * @param h       [B,H] new hidden state, written at hOff
 * @param saved   [B,5H] written at savedOff: per row the blocks σ(i), σ(f), tanh(g), σ(o), tanh(c),
 *                everything the backward needs besides c_prev
 */
export function lstmGatesForward(
  B: number,
  H: number,
  z: Storage,
  zOff: number,
  cPrev: Storage,
  cPrevOff: number,
  c: Storage,
  cOff: number,
  h: Storage,
  hOff: number,
  saved: Storage,
  savedOff: number,
): void {
  const G = 4 * H;
  const S = LSTM_SAVED_PER_UNIT * H;
  for (let b = 0; b < B; b++) {
    const zr = zOff + b * G;
    const sr = savedOff + b * S;
    const cr = b * H;
    for (let j = 0; j < H; j++) {
      const si = stableSigmoid(z[zr + j]!);
      const sf = stableSigmoid(z[zr + H + j]!);
      const tg = Math.tanh(z[zr + 2 * H + j]!);
      const so = stableSigmoid(z[zr + 3 * H + j]!);
      const cn = sf * cPrev[cPrevOff + cr + j]! + si * tg;
      const tc = Math.tanh(cn);
      c[cOff + cr + j] = cn;
      h[hOff + cr + j] = so * tc;
      saved[sr + j] = si;
      saved[sr + H + j] = sf;
      saved[sr + 2 * H + j] = tg;
      saved[sr + 3 * H + j] = so;
      saved[sr + 4 * H + j] = tc;
    }
  }
}

/*
 * Backward derivation (per element; dh = ∂L/∂h, dc_next = ∂L/∂c arriving from step t+1 and/or the
 * loss, σ' = σ(1−σ), tanh' = 1−tanh²):
 *
 *   h = σ(o)·tanh(c)              ⇒ ∂L/∂o (preactivation) = dh·tanh(c)·σ(o)(1−σ(o))
 *                                   c receives dh·σ(o)·(1−tanh²c) from h
 *   dc     = dh·σ(o)·(1−tanh²c) + dc_next              (total derivative w.r.t. c_t)
 *   c = σ(f)·c_prev + σ(i)·tanh(g) ⇒
 *   di     = dc·tanh(g)·σ(i)(1−σ(i))
 *   df     = dc·c_prev·σ(f)(1−σ(f))
 *   dg     = dc·σ(i)·(1−tanh²g)
 *   dc_prev = dc·σ(f)
 *
 * All factors are the saved activations, so no exp/tanh is evaluated in the backward.
 */

/**
 * Backward of the gates for one time step.
 *
 * @param saved   [B,5H] at savedOff, as written by lstmGatesForward
 * @param cPrev   [B,H] the c_prev the forward read, at cPrevOff
 * @param dh      [B,H] ∂L/∂h_t at dhOff
 * @param dcNext  [B,H] ∂L/∂c_t from later steps (or the loss) at dcNextOff
 * @param dz      [B,4H] ∂L/∂z_t, overwritten at dzOff
 * @param dcPrev  [B,H] ∂L/∂c_{t−1}, overwritten at dcPrevOff. It may be the same buffer and offset as
 *                dcNext (each element is read before it is written), which lets a caller carry one
 *                dc buffer through the whole time sweep.
 */
export function lstmGatesBackward(
  B: number,
  H: number,
  saved: Storage,
  savedOff: number,
  cPrev: Storage,
  cPrevOff: number,
  dh: Storage,
  dhOff: number,
  dcNext: Storage,
  dcNextOff: number,
  dz: Storage,
  dzOff: number,
  dcPrev: Storage,
  dcPrevOff: number,
): void {
  const G = 4 * H;
  const S = LSTM_SAVED_PER_UNIT * H;
  for (let b = 0; b < B; b++) {
    const zr = dzOff + b * G;
    const sr = savedOff + b * S;
    const cr = b * H;
    for (let j = 0; j < H; j++) {
      const si = saved[sr + j]!;
      const sf = saved[sr + H + j]!;
      const tg = saved[sr + 2 * H + j]!;
      const so = saved[sr + 3 * H + j]!;
      const tc = saved[sr + 4 * H + j]!;
      const dhv = dh[dhOff + cr + j]!;
      const dc = dhv * so * (1 - tc * tc) + dcNext[dcNextOff + cr + j]!;
      dz[zr + j] = dc * tg * si * (1 - si);
      dz[zr + H + j] = dc * cPrev[cPrevOff + cr + j]! * sf * (1 - sf);
      dz[zr + 2 * H + j] = dc * si * (1 - tg * tg);
      dz[zr + 3 * H + j] = dhv * tc * so * (1 - so);
      dcPrev[dcPrevOff + cr + j] = dc * sf;
    }
  }
}
