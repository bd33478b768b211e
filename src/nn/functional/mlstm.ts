import { Tensor } from '../../tensor/tensor.js';
import { LSTM_SAVED_PER_UNIT } from '../../tensor/kernels/recurrent-lstm-gates.js';
import type { Tape } from '../../autograd/tape.js';
import { gradBuffer, Var } from '../../autograd/var.js';
import type { LayerState } from '../state.js';
import {
  accumulateMultiplicativeGrads,
  addInto,
  applyHiddenMask,
  checkWeight,
  finishHiddenGrads,
  hiddenGradsSetup,
  hiddenMaskData,
  lastRowCopy,
  multiplicativeBackwardSetup,
  multiplicativeForwardSetup,
  recurrentCall,
  recurrentDims,
  releaseLoopWeights,
  stepRowsCopy,
} from './recurrent-common.js';

/**
 * The multiplicative LSTM (docs/CONTRACT.md, Krause et al. 2016) as ONE differentiable op per window:
 *
 *   m_t = (x_t·wmxᵀ) ⊙ (h_{t−1}·wmhᵀ)
 *   z_t = x_t·whxᵀ + m_t·whmᵀ + bias,   i,f,g,o = split(z_t, 4)
 *   c_t = σ(f)⊙c_{t−1} + σ(i)⊙tanh(g),   h_t = σ(o)⊙tanh(c_t)
 *
 * Recording the whole window as one node (instead of ~10 small ops per step) is what makes the
 * speed: the x-projections of all T steps are two large gemms before the time loop, the weight
 * gradients of all T steps are single large gemms after the backward sweep, and the time loop does
 * only what the recurrence forces (two B×H and one B×4H gemm, the product and the fused gates).
 *
 * With a variational hidden-dropout mask M [B,H] (docs/training.md) the recurrence reads
 * h̃_{t−1} = M ⊙ h_{t−1} (h̃_{−1} = M ⊙ h0) in place of h_{t−1}, and the outputs hs are h̃_t; c_t and
 * the final state hT, cT (what the next window starts from) are not masked.
 */

export interface MLSTMWeights {
  wmx: Var; // [H,D]
  wmh: Var; // [H,H]
  whx: Var; // [4H,D]
  whm: Var; // [4H,H]
  bias: Var; // [4H]
}

export interface MLSTMSequenceResult {
  /** [T,B,H] every h_t (differentiable), or h̃_t = M ⊙ h_t with a hidden mask. */
  hs: Var;
  /** [B,H] each, the last h (never masked) and c (differentiable; without a mask h has the values of hs[T−1], its gradient adds to theirs). */
  state: LayerState;
  /** [T,B,H] every c_t, for inspection (not differentiable). */
  cs: Tensor;
  /** [T,B,H] every m_t, for inspection (not differentiable). */
  ms: Tensor;
}

export interface MLSTMStepResult {
  h: Var; // [B,H] the next state (never masked)
  c: Var; // [B,H]
  m: Tensor; // [B,H]
  /** [B,H] the step's output: M ⊙ h with a hidden mask, else `h` itself. */
  out: Var;
}

/** Run the mLSTM over a window: x [T,B,D], h0 [B,H], c0 [B,H]; `hiddenMask` M [B,H] for variational hidden dropout. */
export function mlstmSequence(tape: Tape, x: Var, h0: Var, c0: Var, w: MLSTMWeights, hiddenMask?: Tensor | null): MLSTMSequenceResult {
  return mlstmCore(tape, 'mlstmSequence', 'sequence', x, h0, c0, w, hiddenMask);
}

/**
 * One mLSTM step (sampling, step-by-step teaching): x [B,D], h [B,H], c [B,H]; the same kernels as the sequence
 * op with T = 1. With `hiddenMask` M the step reads M ⊙ h; pass the same M at every step of a window.
 */
export function mlstmStep(tape: Tape, x: Var, h: Var, c: Var, w: MLSTMWeights, hiddenMask?: Tensor | null): MLSTMStepResult {
  const r = mlstmCore(tape, 'mlstmStep', 'step', x, h, c, w, hiddenMask);
  return { h: r.state.h, c: r.state.c!, m: r.ms.reshape(r.state.h.shape), out: hiddenMask ? r.hs : r.state.h };
}

function checkWeights(op: string, w: MLSTMWeights, H: number, D: number): void {
  const legend = (s: string): string => `${s} with H=${H}, D=${D}`;
  checkWeight(op, 'wmx', w.wmx, [H, D], legend('[H,D]'));
  checkWeight(op, 'wmh', w.wmh, [H, H], legend('[H,H]'));
  checkWeight(op, 'whx', w.whx, [4 * H, D], legend('[4H,D]'));
  checkWeight(op, 'whm', w.whm, [4 * H, H], legend('[4H,H]'));
  checkWeight(op, 'bias', w.bias, [4 * H], legend('[4H]'));
}

function mlstmCore(
  tape: Tape,
  op: string,
  form: 'sequence' | 'step',
  x: Var,
  h0: Var,
  c0: Var,
  w: MLSTMWeights,
  hiddenMask: Tensor | null | undefined,
): MLSTMSequenceResult {
  const { T, B, D, H } = recurrentDims(op, form, x, h0, c0);
  checkWeights(op, w, H, D);
  const inputs = [x, h0, c0, w.wmx, w.wmh, w.whx, w.whm, w.bias];
  const call = recurrentCall(tape, inputs);
  const { dtype, backend, ws, record } = call;
  // The hidden-dropout mask [B,H] or null, copied into the workspace with the loop's other buffers.
  const maskData = hiddenMaskData(op, hiddenMask, B, H);
  const mask = maskData ? ws.acquireForWrite(dtype, B * H) : null;
  if (mask) mask.set(maskData!);
  const kernels = backend.recurrent; // the gate kernels: the backend's, like the products
  const G = 4 * H;
  const BH = B * H;
  const BG = B * G;
  const TB = T * B;
  const SW = LSTM_SAVED_PER_UNIT * H; // saved values per batch row
  const dims = { T, B, D, H, G };

  // ---- forward.
  // The time loop's buffers are the workspace's, like XM, Z, HM and S: the backend's kernels work on them in
  // place (see stepRowsCopy). The window's outputs are copies.
  const Hbuf = ws.acquireForWrite(dtype, (T + 1) * BH); // [T+1,B,H]: row 0 is h_{−1} = h0, row t+1 is h_t
  const Cbuf = ws.acquireForWrite(dtype, (T + 1) * BH); // [T+1,B,H]: likewise for c
  Hbuf.set(h0.data);
  Cbuf.set(c0.data);
  // What the recurrence reads and the window outputs: Hbuf itself, or with a hidden mask its masked copy,
  // [T+1,B,H] with row t = h̃_{t−1} = M ⊙ h_{t−1}.
  const Hin = mask ? ws.acquireForWrite(dtype, (T + 1) * BH) : Hbuf;
  if (mask) applyHiddenMask(BH, mask, Hbuf, 0, Hin, 0, false);
  // The multiplicative half, shared with the mRNN: XM = x·wmxᵀ [T·B,H] and Z = x·whxᵀ + bias [T·B,4H] for every
  // step at once, m_t (M), h̃_{t−1}·wmhᵀ (HM), and the loop's two gemms as argument objects.
  const { XM, Z, M, HM, hmStride, hmArgs, zArgs } = multiplicativeForwardSetup(call, dims, x, w, Hin);
  // Without a recording, the saved gate values of a step are dead after it: keep one row.
  const savedStride = record ? B * SW : 0;
  const S = ws.acquireForWrite(dtype, record ? TB * SW : B * SW); // [T,B,5H] σ(i),σ(f),tanh(g),σ(o),tanh(c)
  // A backend that runs the whole loop in one call (split by batch rows across threads: no per-step
  // synchronisation) takes it, else this loop runs it; the two compute the same bits.
  const windowed =
    T >= 2 &&
    hmArgs.packedB !== undefined &&
    zArgs.packedB !== undefined &&
    backend.recurrentWindows?.mlstmForward({
      T,
      B,
      H,
      Hin,
      Hbuf,
      Cbuf,
      XM,
      HM,
      hmStride,
      M,
      Z,
      S,
      savedStride,
      mask,
      wmh: hmArgs.packedB,
      whm: zArgs.packedB,
    }) === true;
  if (!windowed) {
    for (let t = 0; t < T; t++) {
      hmArgs.aOffset = t * BH;
      hmArgs.cOffset = t * hmStride;
      backend.gemm(hmArgs); // HM_t = h̃_{t−1}·wmhᵀ
      kernels.multiplicativeForward(BH, XM, t * BH, HM, t * hmStride, M, t * BH); // m_t = XM_t ⊙ HM_t
      zArgs.aOffset = t * BH;
      zArgs.cOffset = t * BG;
      backend.gemm(zArgs); // z_t = XZ_t + m_t·whmᵀ
      kernels.lstmGatesForward(B, H, Z, t * BG, Cbuf, t * BH, Cbuf, (t + 1) * BH, Hbuf, (t + 1) * BH, S, t * savedStride);
      if (mask) applyHiddenMask(BH, mask, Hbuf, (t + 1) * BH, Hin, (t + 1) * BH, false); // h̃_t = M ⊙ h_t
    }
  }
  releaseLoopWeights(backend, hmArgs, zArgs);

  // Outputs are copies of the workspace's buffers (see stepRowsCopy, lastRowCopy); the final state is unmasked.
  const hs = new Var(new Tensor(stepRowsCopy(Hin, BH, T), form === 'step' ? [B, H] : [T, B, H]));
  const hT = new Var(new Tensor(lastRowCopy(Hbuf, BH, T), [B, H]));
  const cT = new Var(new Tensor(lastRowCopy(Cbuf, BH, T), [B, H]));
  const result: MLSTMSequenceResult = {
    hs,
    state: { h: hT, c: cT },
    cs: new Tensor(stepRowsCopy(Cbuf, BH, T), [T, B, H]),
    ms: new Tensor(M.slice(), [T, B, H]),
  };
  // What only the forward and the backward read, given back to the workspace after the last of them.
  const releaseWindow = (): void => {
    ws.release(XM, Z, HM, S, M, Hbuf, Cbuf);
    if (mask) ws.release(Hin, mask);
  };
  if (!record) {
    releaseWindow();
    return result;
  }

  tape.record(
    op,
    inputs,
    [hs, hT, cT],
    () => {
      /*
       * Backward sweep, t = T−1 … 0, carrying dh = ∂L/∂h_t and dc = ∂L/∂c_t (each the sum of what the
       * loss sends directly and what step t+1 sends back; a missing output grad counts as zero):
       *   dz_t            from the fused gate backward (see recurrent-lstm-gates.ts), dc ← dc_{t−1}
       *   dm_t  = dz_t · whm                      (z = … + m·whmᵀ)
       *   dXM_t = dm_t ⊙ HM_t,  dHM_t = dm_t ⊙ XM_t   (m = XM ⊙ HM)
       *   dh_{t−1} = dHM_t · wmh  (+ dhs_{t−1})      (HM = h_{t−1}·wmhᵀ)
       * With a hidden mask that is ∂L/∂h̃_{t−1}, and the step reads dhCell = M ⊙ dh: the mask is a constant
       * factor on every path from h_{t−1} except the unmasked final state hT.
       * The parameter gradients are sums over steps of per-step outer products, so after the sweep each
       * is one gemm over all T·B rows with a transposed operand:
       *   dwhm += DZᵀ·M, dwmh += DHMᵀ·H_prev, dwhx += DZᵀ·X, dwmx += DXMᵀ·X, dbias += Σ_rows DZ,
       *   dx += DZ·whx + DXM·wmx   (H_prev: the rows the recurrence read, h̃ with a mask).
       */
      const dHs = hs.grad ? hs.grad.data : null; // [T,B,H]
      const hidden = hiddenGradsSetup(ws, dtype, T, BH, mask, dHs, hT.grad ? hT.grad.data : null); // see HiddenGrads
      const { DH, dhCell, dhCellLast } = hidden;
      const dc = ws.acquire(dtype, BH); // [B,H] running ∂L/∂c_t
      if (cT.grad) dc.set(cT.grad.data);
      const DZ = Z; // [T,B,4H] z's storage: no backward reads z (the gates work from the saved activations S), and lstmGatesBackward rewrites row t before anything reads it, so a rerun (retainGraph) sees nothing stale
      const needH0 = h0.requiresGrad;
      const { DXM, DHM, dm, dmArgs, dhArgs } = multiplicativeBackwardSetup(call, dims, DZ, w, DH, true);
      // As in the forward: a backend may run the whole sweep in one call, with the same bits.
      const windowed =
        T >= 2 &&
        dmArgs.packedB !== undefined &&
        dhArgs.packedB !== undefined &&
        backend.recurrentWindows?.mlstmBackward({
          T,
          B,
          H,
          S,
          Cbuf,
          XM,
          HM,
          DZ,
          DH,
          dhCell,
          dhCellLast,
          dc,
          dm,
          DXM,
          DHM,
          mask,
          whm: dmArgs.packedB,
          wmh: dhArgs.packedB,
          needH0,
        }) === true;
      if (!windowed) {
        for (let t = T - 1; t >= 0; t--) {
          let cell = DH; // ∂L/∂h_t as the step reads it, at cell[cellOff]
          let cellOff = (t + 1) * BH;
          if (mask) {
            cell = t === T - 1 ? dhCellLast! : dhCell!;
            cellOff = 0;
            if (t < T - 1) applyHiddenMask(BH, mask, DH, (t + 1) * BH, dhCell!, 0, false); // ∂L/∂h_t = M ⊙ ∂L/∂h̃_t
          }
          kernels.lstmGatesBackward(B, H, S, t * savedStride, Cbuf, t * BH, cell, cellOff, dc, 0, DZ, t * BG, dc, 0);
          dmArgs.aOffset = t * BG;
          backend.gemm(dmArgs); // dm_t = dz_t·whm
          kernels.multiplicativeBackward(BH, dm, 0, XM, t * BH, HM, t * BH, DXM, t * BH, DHM, t * BH);
          if (t > 0 || needH0) {
            dhArgs.aOffset = t * BH;
            dhArgs.cOffset = t * BH;
            backend.gemm(dhArgs); // DH_t += dHM_t·wmh
          }
        }
      }
      releaseLoopWeights(backend, dmArgs, dhArgs);
      finishHiddenGrads(ws, hidden, gradBuffer(h0), mask, T, BH);
      const gc0 = gradBuffer(c0);
      if (gc0) addInto(gc0, dc, BH);
      accumulateMultiplicativeGrads(call, { ...dims, x, w, DZ, DXM, DHM, M, Hprev: Hin }, gradBuffer);
      ws.release(DXM, DHM, dm, dc);
    },
    releaseWindow,
  ); // when the graph is discarded: only the backward reads these
  return result;
}
