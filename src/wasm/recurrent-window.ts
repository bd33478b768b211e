import { LSTM_SAVED_PER_UNIT } from '../tensor/kernels/recurrent-lstm-gates.js';
import { gemmRowsPackingA } from './gemm-driver.js';
import { GEMM_FLAGS } from './gemm-kernels.js';
import type { KernelExports } from './kernel-module.js';

/*
 * The cells' time loops for a window (the mLSTM's, the LSTM's and the mRNN's), run for batch rows [r0, r1) by calls of the kernel
 * module's exports over byte addresses in its memory: the loops of nn/functional/mlstm.ts and lstm.ts
 * (MLSTMForwardWindow, MLSTMBackwardWindow, LSTMForwardWindow and LSTMBackwardWindow in tensor/backend.ts
 * say what they compute), with every product a gemmRowsPackingA on those rows against a weight packed
 * once per window.
 *
 * Why rows. A batch row's recurrence never reads another row: h_t of stream b depends only on
 * h_{t−1} of stream b. So threads that each take some rows can run the whole window without meeting
 * once, where splitting each step's products between threads cost two joins per step (256 per
 * training window at T = 64, each a wake-up and a wait). The single-thread backend runs the same
 * function over all rows.
 *
 * Why the same bits. A product's rows from a multiple of 4 are computed exactly as in the whole
 * product (gemm-driver.ts), and the gate kernels work row by row, so any split of the rows at
 * multiples of 4 gives the bits of one call over all of them, and those of the loop in mlstm.ts (the
 * same kernel calls, in the same order, on the same buffers).
 *
 * The descriptor: WINDOW_INTS Int32 fields (Win.*) at `at` in an Int32Array, byte addresses and
 * sizes, written by the caller (writeForward / writeBackward); a thread's rows and its own packing
 * block come as arguments. The threaded backend keeps it in the control block its workers read.
 */

/** Which loop a window descriptor runs (Win.Loop). */
export const WindowLoop = { MlstmForward: 0, MlstmBackward: 1, LstmForward: 2, LstmBackward: 3, MrnnForward: 4, MrnnBackward: 5 } as const;
/** The op names errors give, by WindowLoop. */
export const WINDOW_OPS = [
  'mlstmForward window',
  'mlstmBackward window',
  'lstmForward window',
  'lstmBackward window',
  'mrnnForward window',
  'mrnnBackward window',
] as const;

/** Int32 fields of a window descriptor: sizes, then byte addresses (0: absent). */
export const Win = {
  T: 0,
  B: 1,
  H: 2,
  Mask: 3, // [B,H] or 0
  Cbuf: 4, // [T+1,B,H]
  XM: 5, // [T,B,H]
  HM: 6, // [T,B,H] or [B,H]
  HmStride: 7, // bytes between steps of HM
  Z: 8, // [T,B,4H] (the backward's DZ)
  S: 9, // [T,B,5H] or [B,5H]
  SavedStride: 10, // bytes between steps of S
  Wmh: 11, // packed panels: forward wmhᵀ [H,H], backward wmh [H,H] (the LSTM: unused)
  Whm: 12, // forward whmᵀ [H,4H], backward whm [4H,H] (the LSTM: whᵀ [H,4H] and wh [4H,H])
  // forward only
  Hin: 13, // [T+1,B,H]
  Hbuf: 14, // [T+1,B,H]
  M: 15, // [T,B,H] (the LSTM: unused)
  // backward only
  DH: 16, // [T+1,B,H]
  DhCell: 17, // [B,H] or 0
  DhCellLast: 18, // [B,H] or 0
  Dc: 19, // [B,H]
  Dm: 20, // [B,H] (the LSTM: unused)
  DXM: 21, // [T,B,H] (the LSTM: unused)
  DHM: 22, // [T,B,H] (the LSTM: unused)
  NeedH0: 23, // 0 or 1
  // the packing blocks: thread p packs its rows of A into Slots + p·SlotBytes
  Slots: 24,
  SlotBytes: 25,
  Loop: 26, // WindowLoop.*
} as const;
export const WINDOW_INTS = 27;

/** Saved gate values per unit (σ(i), σ(f), tanh(g), σ(o), tanh(c)). */
const SW = LSTM_SAVED_PER_UNIT;

/**
 * The forward loop for rows [r0, r1) of the batch; `slot` is this thread's packing block. Per step t, for the
 * three cells (the same calls, in the same order, as their loops in nn/functional):
 *   multiplicative (mLSTM, mRNN):  HM_t = h̃_{t−1}·wmhᵀ,  m_t = XM_t ⊙ HM_t,  the recurrent input is m_t;
 *                                  the LSTM's is h̃_{t−1} itself
 *   z_t = XZ_t + input·whmᵀ       (the LSTM's single weight wh sits in the Whm field)
 *   gated (mLSTM, LSTM):  the fused gates give c_t, h_t and the saved values;  the mRNN:  h_t = tanh(z_t)
 *   with a mask:  h̃_t = M ⊙ h_t
 */
function forwardRows(
  kx: KernelExports,
  d: Int32Array,
  at: number,
  r0: number,
  r1: number,
  slot: number,
  gated: boolean,
  multiplicative: boolean,
): void {
  const T = d[at + Win.T]!,
    B = d[at + Win.B]!,
    H = d[at + Win.H]!;
  const rows = r1 - r0;
  if (rows <= 0) return;
  const G = gated ? 4 * H : H;
  const rowH = H * 4, // bytes of one row of a [·,B,H] buffer
    rowG = G * 4;
  const stepH = B * rowH, // bytes of one step of a [T,B,H] buffer
    stepG = B * rowG;
  const a = (field: number): number => d[at + field]! >>> 0;
  const hin = a(Win.Hin) + r0 * rowH,
    hbuf = a(Win.Hbuf) + r0 * rowH,
    cbuf = a(Win.Cbuf) + r0 * rowH,
    xm = a(Win.XM) + r0 * rowH,
    hm = a(Win.HM) + r0 * rowH,
    m = a(Win.M) + r0 * rowH,
    z = a(Win.Z) + r0 * rowG,
    s = a(Win.S) + r0 * SW * rowH;
  const mask = a(Win.Mask);
  const hmStride = d[at + Win.HmStride]!,
    savedStride = d[at + Win.SavedStride]!;
  const wmh = a(Win.Wmh),
    whm = a(Win.Whm);
  const n = rows * H;
  for (let t = 0; t < T; t++) {
    let input = hin + t * stepH; // what z_t's product reads: h̃_{t−1} (row stride H floats), or m_t
    if (multiplicative) {
      gemmRowsPackingA(kx, H, H, input, rowH, 4, 0, rows, slot, wmh, hm + t * hmStride, rowH, 1, 0, 0); // HM_t = h̃_{t−1}·wmhᵀ
      kx.multiplicative_forward(n, xm + t * stepH, hm + t * hmStride, m + t * stepH); // m_t = XM_t ⊙ HM_t
      input = m + t * stepH;
    }
    gemmRowsPackingA(kx, G, H, input, rowH, 4, 0, rows, slot, whm, z + t * stepG, rowG, 1, 0, GEMM_FLAGS.accumulate); // z_t += input·whmᵀ
    if (gated) {
      kx.lstm_gates_forward(rows, H, z + t * stepG, cbuf + t * stepH, cbuf + (t + 1) * stepH, hbuf + (t + 1) * stepH, s + t * savedStride);
    } else kx.tanh_forward(n, z + t * stepH, hbuf + (t + 1) * stepH); // h_t = tanh(z_t)
    if (mask !== 0) kx.multiplicative_forward(n, mask + r0 * rowH, hbuf + (t + 1) * stepH, hin + (t + 1) * stepH); // h̃_t = M ⊙ h_t
  }
}

/**
 * The backward sweep for rows [r0, r1) of the batch; `slot` is this thread's packing block. Per step
 * t = T−1 … 0 (the loops of nn/functional, call for call):
 *   ∂L/∂h_t as the step reads it: DH_{t+1}, or with a mask M ⊙ DH_{t+1} (at t = T−1 the caller's dhCellLast)
 *   gated:  the fused gate backward gives DZ_t and carries dc;  the mRNN:  DZ_t = dh ⊙ (1 − h_t²)
 *   multiplicative:  dm = DZ_t·whm,  DXM_t = dm ⊙ HM_t,  DHM_t = dm ⊙ XM_t,  DH_t += DHM_t·wmh
 *   the LSTM:  DH_t += DZ_t·wh  (wh in the Whm field)          (DH_t for t = 0 only when needH0)
 */
function backwardRows(
  kx: KernelExports,
  d: Int32Array,
  at: number,
  r0: number,
  r1: number,
  slot: number,
  gated: boolean,
  multiplicative: boolean,
): void {
  const T = d[at + Win.T]!,
    B = d[at + Win.B]!,
    H = d[at + Win.H]!;
  const rows = r1 - r0;
  if (rows <= 0) return;
  const G = gated ? 4 * H : H;
  const rowH = H * 4,
    rowG = G * 4;
  const stepH = B * rowH,
    stepG = B * rowG;
  const a = (field: number): number => d[at + field]! >>> 0;
  const hbuf = a(Win.Hbuf) + r0 * rowH,
    cbuf = a(Win.Cbuf) + r0 * rowH,
    xm = a(Win.XM) + r0 * rowH,
    hm = a(Win.HM) + r0 * rowH,
    dz = a(Win.Z) + r0 * rowG,
    s = a(Win.S) + r0 * SW * rowH,
    dh = a(Win.DH) + r0 * rowH,
    dc = a(Win.Dc) + r0 * rowH,
    dm = a(Win.Dm) + r0 * rowH,
    dxm = a(Win.DXM) + r0 * rowH,
    dhm = a(Win.DHM) + r0 * rowH;
  const mask = a(Win.Mask);
  const dhCell = mask === 0 ? 0 : a(Win.DhCell) + r0 * rowH,
    dhCellLast = mask === 0 ? 0 : a(Win.DhCellLast) + r0 * rowH;
  const hmStride = d[at + Win.HmStride]!,
    savedStride = d[at + Win.SavedStride]!;
  const wmh = a(Win.Wmh),
    whm = a(Win.Whm);
  const needH0 = d[at + Win.NeedH0] !== 0;
  const n = rows * H;
  for (let t = T - 1; t >= 0; t--) {
    let cell = dh + (t + 1) * stepH;
    if (mask !== 0) {
      if (t === T - 1) cell = dhCellLast;
      else {
        kx.multiplicative_forward(n, mask + r0 * rowH, cell, dhCell);
        cell = dhCell;
      }
    }
    if (gated) kx.lstm_gates_backward(rows, H, s + t * savedStride, cbuf + t * stepH, cell, dc, dz + t * stepG, dc);
    else kx.tanh_backward(n, hbuf + (t + 1) * stepH, cell, dz + t * stepH); // dz_t = dh ⊙ (1 − h_t²)
    // What DH_t gets its product from: dHM_t (through wmh), or the LSTM's dz_t (through wh)
    let back = dz + t * stepG,
      backK = G,
      backW = whm;
    if (multiplicative) {
      gemmRowsPackingA(kx, H, G, dz + t * stepG, rowG, 4, 0, rows, slot, whm, dm, rowH, 1, 0, 0); // dm_t = dz_t·whm (row stride G floats)
      kx.multiplicative_backward(n, dm, xm + t * stepH, hm + t * hmStride, dxm + t * stepH, dhm + t * stepH);
      back = dhm + t * stepH;
      backK = H;
      backW = wmh;
    }
    if (t > 0 || needH0)
      gemmRowsPackingA(kx, H, backK, back, backK * 4, 4, 0, rows, slot, backW, dh + t * stepH, rowH, 1, 0, GEMM_FLAGS.accumulate); // DH_t += back·W
  }
}

/** Runs the loop the descriptor at d[at…] names (Win.Loop) for rows [r0, r1): what every thread of a window job calls. */
export function runWindowRows(loop: number, kx: KernelExports, d: Int32Array, at: number, r0: number, r1: number, slot: number): void {
  if (!Number.isInteger(loop) || loop < 0 || loop > WindowLoop.MrnnBackward) throw new RangeError(`window job: unknown loop ${loop}`);
  const gated = loop !== WindowLoop.MrnnForward && loop !== WindowLoop.MrnnBackward;
  const multiplicative = loop !== WindowLoop.LstmForward && loop !== WindowLoop.LstmBackward;
  const forward = loop === WindowLoop.MlstmForward || loop === WindowLoop.LstmForward || loop === WindowLoop.MrnnForward;
  if (forward) forwardRows(kx, d, at, r0, r1, slot, gated, multiplicative);
  else backwardRows(kx, d, at, r0, r1, slot, gated, multiplicative);
}
