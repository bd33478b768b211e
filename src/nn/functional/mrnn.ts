import { Tensor } from '../../tensor/tensor.js';
import type { Tape } from '../../autograd/tape.js';
import { gradBuffer, Var } from '../../autograd/var.js';
import type { LayerState } from '../state.js';
import {
  accumulateMultiplicativeGrads,
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
 * The multiplicative RNN (docs/CONTRACT.md, Sutskever et al. 2011) as one differentiable op per window:
 *
 *   m_t = (x_t·wmxᵀ) ⊙ (h_{t−1}·wmhᵀ),   h_t = tanh(x_t·whxᵀ + m_t·whmᵀ + bias)
 *
 * There is no cell state: the state is h alone.
 *
 * With a variational hidden-dropout mask M [B,H] (docs/training.md) m_t reads h̃_{t−1} = M ⊙ h_{t−1}
 * (h̃_{−1} = M ⊙ h0) and the outputs hs are h̃_t; the final state hT is not masked.
 */

export interface MRNNWeights {
  wmx: Var; // [H,D]
  wmh: Var; // [H,H]
  whx: Var; // [H,D]
  whm: Var; // [H,H]
  bias: Var; // [H]
}

export interface MRNNSequenceResult {
  hs: Var; // [T,B,H] h_t, or h̃_t = M ⊙ h_t with a hidden mask
  state: LayerState; // h [B,H], the last, never masked; c null (the mRNN has none)
  /** [T,B,H] every m_t, for inspection (not differentiable). */
  ms: Tensor;
}

export interface MRNNStepResult {
  h: Var; // [B,H] the next state (never masked)
  c: null; // the mRNN has no cell state
  m: Tensor; // [B,H]
  /** [B,H] the step's output: M ⊙ h with a hidden mask, else `h` itself. */
  out: Var;
}

/** Run the mRNN over a window: x [T,B,D], h0 [B,H]; `hiddenMask` M [B,H] for variational hidden dropout. */
export function mrnnSequence(tape: Tape, x: Var, h0: Var, w: MRNNWeights, hiddenMask?: Tensor | null): MRNNSequenceResult {
  return mrnnCore(tape, 'mrnnSequence', 'sequence', x, h0, w, hiddenMask);
}

/** One mRNN step: x [B,D], h [B,H]. With `hiddenMask` M the step reads M ⊙ h (the same M at every step of a window). */
export function mrnnStep(tape: Tape, x: Var, h: Var, w: MRNNWeights, hiddenMask?: Tensor | null): MRNNStepResult {
  const r = mrnnCore(tape, 'mrnnStep', 'step', x, h, w, hiddenMask);
  return { h: r.state.h, c: null, m: r.ms.reshape(r.state.h.shape), out: hiddenMask ? r.hs : r.state.h };
}

function mrnnCore(
  tape: Tape,
  op: string,
  form: 'sequence' | 'step',
  x: Var,
  h0: Var,
  w: MRNNWeights,
  hiddenMask: Tensor | null | undefined,
): MRNNSequenceResult {
  const { T, B, D, H } = recurrentDims(op, form, x, h0, null);
  const legend = (s: string): string => `${s} with H=${H}, D=${D}`;
  checkWeight(op, 'wmx', w.wmx, [H, D], legend('[H,D]'));
  checkWeight(op, 'wmh', w.wmh, [H, H], legend('[H,H]'));
  checkWeight(op, 'whx', w.whx, [H, D], legend('[H,D]'));
  checkWeight(op, 'whm', w.whm, [H, H], legend('[H,H]'));
  checkWeight(op, 'bias', w.bias, [H], legend('[H]'));
  const inputs = [x, h0, w.wmx, w.wmh, w.whx, w.whm, w.bias];
  const call = recurrentCall(tape, inputs);
  const { dtype, backend, ws, record } = call;
  // The hidden-dropout mask [B,H] or null, copied into the workspace with the loop's other buffers.
  const maskData = hiddenMaskData(op, hiddenMask, B, H);
  const mask = maskData ? ws.acquireForWrite(dtype, B * H) : null;
  if (mask) mask.set(maskData!);
  const kernels = backend.recurrent; // the gate kernels: the backend's, like the products
  const BH = B * H;
  const dims = { T, B, D, H, G: H }; // G: whx, whm and bias have H rows (the mLSTM's 4H)

  // ---- forward.
  // The time loop's buffers are the workspace's, like XM, Z and HM (see stepRowsCopy); the window's outputs are copies.
  const Hbuf = ws.acquireForWrite(dtype, (T + 1) * BH); // [T+1,B,H]: row 0 = h0, row t+1 = h_t
  Hbuf.set(h0.data);
  // What the recurrence reads and the window outputs: Hbuf, or with a hidden mask its masked copy (row t = M ⊙ h_{t−1}).
  const Hin = mask ? ws.acquireForWrite(dtype, (T + 1) * BH) : Hbuf; // [T+1,B,H]
  if (mask) applyHiddenMask(BH, mask, Hbuf, 0, Hin, 0, false);
  // The multiplicative half, shared with the mLSTM: XM = x·wmxᵀ and Z = x·whxᵀ + bias for every step
  // at once (each [T·B,H]), m_t (M), h̃_{t−1}·wmhᵀ (HM), and the loop's two gemms as argument objects.
  const { XM, Z, M, HM, hmStride, hmArgs, zArgs } = multiplicativeForwardSetup(call, dims, x, w, Hin);
  // A backend that runs the whole loop in one call (split by batch rows across threads) takes it; the same bits.
  const windowed =
    T >= 2 &&
    hmArgs.packedB !== undefined &&
    zArgs.packedB !== undefined &&
    backend.recurrentWindows?.mrnnForward({ T, B, H, Hin, Hbuf, XM, HM, hmStride, M, Z, mask, wmh: hmArgs.packedB, whm: zArgs.packedB }) ===
      true;
  if (!windowed) {
    for (let t = 0; t < T; t++) {
      hmArgs.aOffset = t * BH;
      hmArgs.cOffset = t * hmStride;
      backend.gemm(hmArgs); // HM_t = h̃_{t−1}·wmhᵀ
      kernels.multiplicativeForward(BH, XM, t * BH, HM, t * hmStride, M, t * BH);
      zArgs.aOffset = t * BH;
      zArgs.cOffset = t * BH;
      backend.gemm(zArgs); // z_t = XZ_t + m_t·whmᵀ
      kernels.tanhForward(BH, Z, t * BH, Hbuf, (t + 1) * BH);
      if (mask) applyHiddenMask(BH, mask, Hbuf, (t + 1) * BH, Hin, (t + 1) * BH, false); // h̃_t = M ⊙ h_t
    }
  }
  releaseLoopWeights(backend, hmArgs, zArgs);

  // Outputs are copies of the workspace's buffers (see stepRowsCopy, lastRowCopy); the final state is unmasked.
  const hs = new Var(new Tensor(stepRowsCopy(Hin, BH, T), form === 'step' ? [B, H] : [T, B, H]));
  const hT = new Var(new Tensor(lastRowCopy(Hbuf, BH, T), [B, H]));
  const result: MRNNSequenceResult = { hs, state: { h: hT, c: null }, ms: new Tensor(M.slice(), [T, B, H]) };
  // What only the forward and the backward read, given back to the workspace after the last of them.
  const releaseWindow = (): void => {
    ws.release(XM, Z, HM, M, Hbuf);
    if (mask) ws.release(Hin, mask);
  };
  if (!record) {
    releaseWindow();
    return result;
  }

  tape.record(
    op,
    inputs,
    [hs, hT],
    () => {
      /*
       * Sweep t = T−1 … 0 carrying dh = ∂L/∂h_t:
       *   dz_t  = dh ⊙ (1 − h_t²)                  (h = tanh z)
       *   dm_t  = dz_t·whm;  dXM_t = dm_t ⊙ HM_t;  dHM_t = dm_t ⊙ XM_t
       *   dh_{t−1} = dHM_t·wmh (+ dhs_{t−1}, already in row t of DH, which the product adds into)
       * With a hidden mask that is ∂L/∂h̃_{t−1}, and the step reads dhCell = M ⊙ dh (hT alone is unmasked);
       * tanh' still reads the unmasked h_t.
       * After: dwhm += DZᵀ·M, dwmh += DHMᵀ·H_prev (the rows the recurrence read), dwhx += DZᵀ·X,
       * dwmx += DXMᵀ·X, dbias += Σ DZ, dx += DZ·whx + DXM·wmx.
       */
      const dHs = hs.grad ? hs.grad.data : null; // [T,B,H]
      const hidden = hiddenGradsSetup(ws, dtype, T, BH, mask, dHs, hT.grad ? hT.grad.data : null); // see HiddenGrads
      const { DH, dhCell, dhCellLast } = hidden;
      const DZ = Z; // [T,B,H] z's storage: no backward reads z (tanh' comes from h_t), and tanhBackward rewrites row t before anything reads it, so a rerun (retainGraph) sees nothing stale
      const needH0 = h0.requiresGrad;
      const { DXM, DHM, dm, dmArgs, dhArgs } = multiplicativeBackwardSetup(call, dims, DZ, w, DH, true);
      const windowed =
        T >= 2 &&
        dmArgs.packedB !== undefined &&
        dhArgs.packedB !== undefined &&
        backend.recurrentWindows?.mrnnBackward({
          T,
          B,
          H,
          Hbuf,
          XM,
          HM,
          DZ,
          DH,
          dhCell,
          dhCellLast,
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
          kernels.tanhBackward(BH, Hbuf, (t + 1) * BH, cell, cellOff, DZ, t * BH);
          dmArgs.aOffset = t * BH;
          backend.gemm(dmArgs);
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
      accumulateMultiplicativeGrads(call, { ...dims, x, w, DZ, DXM, DHM, M, Hprev: Hin }, gradBuffer);
      ws.release(DXM, DHM, dm);
    },
    releaseWindow,
  ); // when the graph is discarded: only the backward reads these
  return result;
}
