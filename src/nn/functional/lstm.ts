import type { GemmArgs } from '../../tensor/backend.js';
import { Tensor } from '../../tensor/tensor.js';
import { LSTM_SAVED_PER_UNIT } from '../../tensor/kernels/recurrent-lstm-gates.js';
import type { Tape } from '../../autograd/tape.js';
import { gradBuffer, Var } from '../../autograd/var.js';
import type { LayerState } from '../state.js';
import {
  addBiasGrad,
  addInto,
  applyHiddenMask,
  checkWeight,
  finishHiddenGrads,
  hiddenGradsSetup,
  hiddenMaskData,
  lastRowCopy,
  recurrentCall,
  recurrentDims,
  releaseLoopWeights,
  stepRowsCopy,
  withLoopWeight,
} from './recurrent-common.js';

/**
 * The baseline LSTM (docs/CONTRACT.md) as one differentiable op per window:
 *
 *   z_t = x_t·wxᵀ + h_{t−1}·whᵀ + bias,   i,f,g,o = split(z_t, 4)
 *   c_t = σ(f)⊙c_{t−1} + σ(i)⊙tanh(g),    h_t = σ(o)⊙tanh(c_t)
 *
 * Same structure as mlstm.ts: x·wxᵀ + bias for all steps in one gemm, one B×4H gemm per step,
 * the fused gates, and the weight gradients as one gemm each after the backward sweep.
 *
 * With a variational hidden-dropout mask M [B,H] (docs/training.md) z_t reads h̃_{t−1} = M ⊙ h_{t−1}
 * (h̃_{−1} = M ⊙ h0) and the outputs hs are h̃_t; c_t and the final state hT, cT are not masked.
 */

export interface LSTMWeights {
  wx: Var; // [4H,D]
  wh: Var; // [4H,H]
  bias: Var; // [4H]
}

export interface LSTMSequenceResult {
  hs: Var; // [T,B,H] h_t, or h̃_t = M ⊙ h_t with a hidden mask
  state: LayerState; // [B,H] each: the last h (never masked) and c
  /** [T,B,H] every c_t, for inspection (not differentiable). */
  cs: Tensor;
}

export interface LSTMStepResult {
  h: Var; // [B,H] the next state (never masked)
  c: Var; // [B,H]
  /** [B,H] the step's output: M ⊙ h with a hidden mask, else `h` itself. */
  out: Var;
}

/** Run the LSTM over a window: x [T,B,D], h0 [B,H], c0 [B,H]; `hiddenMask` M [B,H] for variational hidden dropout. */
export function lstmSequence(tape: Tape, x: Var, h0: Var, c0: Var, w: LSTMWeights, hiddenMask?: Tensor | null): LSTMSequenceResult {
  return lstmCore(tape, 'lstmSequence', 'sequence', x, h0, c0, w, hiddenMask);
}

/** One LSTM step: x [B,D], h [B,H], c [B,H]. With `hiddenMask` M the step reads M ⊙ h (the same M at every step of a window). */
export function lstmStep(tape: Tape, x: Var, h: Var, c: Var, w: LSTMWeights, hiddenMask?: Tensor | null): LSTMStepResult {
  const r = lstmCore(tape, 'lstmStep', 'step', x, h, c, w, hiddenMask);
  return { h: r.state.h, c: r.state.c!, out: hiddenMask ? r.hs : r.state.h };
}

function lstmCore(
  tape: Tape,
  op: string,
  form: 'sequence' | 'step',
  x: Var,
  h0: Var,
  c0: Var,
  w: LSTMWeights,
  hiddenMask: Tensor | null | undefined,
): LSTMSequenceResult {
  const { T, B, D, H } = recurrentDims(op, form, x, h0, c0);
  const legend = (s: string): string => `${s} with H=${H}, D=${D}`;
  checkWeight(op, 'wx', w.wx, [4 * H, D], legend('[4H,D]'));
  checkWeight(op, 'wh', w.wh, [4 * H, H], legend('[4H,H]'));
  checkWeight(op, 'bias', w.bias, [4 * H], legend('[4H]'));
  const inputs = [x, h0, c0, w.wx, w.wh, w.bias];
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
  const SW = LSTM_SAVED_PER_UNIT * H;
  const xd = x.data; // [T,B,D]
  const wh = w.wh.data;

  // ---- forward: Z = x·wxᵀ + bias [T·B,4H] for every step at once, then z_t += h̃_{t−1}·whᵀ per step.
  const Z = ws.acquireForWrite(dtype, TB * G); // [T,B,4H] (later DZ: see backward)
  if (TB > 0) backend.gemm({ m: TB, n: G, k: D, a: xd, b: w.wx.data, transB: true, c: Z, bias: w.bias.data });
  // The time loop's buffers are the workspace's, like Z and S (see stepRowsCopy); the window's outputs are copies.
  const Hbuf = ws.acquireForWrite(dtype, (T + 1) * BH); // [T+1,B,H]: row 0 = h0, row t+1 = h_t
  const Cbuf = ws.acquireForWrite(dtype, (T + 1) * BH); // [T+1,B,H]
  Hbuf.set(h0.data);
  Cbuf.set(c0.data);
  // What the recurrence reads and the window outputs: Hbuf, or with a hidden mask its masked copy (row t = M ⊙ h_{t−1}).
  const Hin = mask ? ws.acquireForWrite(dtype, (T + 1) * BH) : Hbuf; // [T+1,B,H]
  if (mask) applyHiddenMask(BH, mask, Hbuf, 0, Hin, 0, false);
  const savedStride = record ? B * SW : 0;
  const S = ws.acquireForWrite(dtype, record ? TB * SW : B * SW); // [T,B,5H]
  const zArgs: GemmArgs = withLoopWeight(backend, T, {
    m: B,
    n: G,
    k: H,
    a: Hin,
    aOffset: 0,
    b: wh,
    transB: true,
    c: Z,
    cOffset: 0,
    accumulate: true,
  });
  // A backend that runs the whole loop in one call (split by batch rows across threads) takes it; the same bits.
  const windowed =
    T >= 2 &&
    zArgs.packedB !== undefined &&
    backend.recurrentWindows?.lstmForward({ T, B, H, Hin, Hbuf, Cbuf, Z, S, savedStride, mask, wh: zArgs.packedB }) === true;
  if (!windowed) {
    for (let t = 0; t < T; t++) {
      zArgs.aOffset = t * BH;
      zArgs.cOffset = t * BG;
      backend.gemm(zArgs); // z_t = XZ_t + h_{t−1}·whᵀ (h̃_{t−1} with a hidden mask)
      kernels.lstmGatesForward(B, H, Z, t * BG, Cbuf, t * BH, Cbuf, (t + 1) * BH, Hbuf, (t + 1) * BH, S, t * savedStride);
      if (mask) applyHiddenMask(BH, mask, Hbuf, (t + 1) * BH, Hin, (t + 1) * BH, false); // h̃_t = M ⊙ h_t
    }
  }
  releaseLoopWeights(backend, zArgs);

  // Outputs are copies of the workspace's buffers (see stepRowsCopy, lastRowCopy); the final state is unmasked.
  const hs = new Var(new Tensor(stepRowsCopy(Hin, BH, T), form === 'step' ? [B, H] : [T, B, H]));
  const hT = new Var(new Tensor(lastRowCopy(Hbuf, BH, T), [B, H]));
  const cT = new Var(new Tensor(lastRowCopy(Cbuf, BH, T), [B, H]));
  const result: LSTMSequenceResult = { hs, state: { h: hT, c: cT }, cs: new Tensor(stepRowsCopy(Cbuf, BH, T), [T, B, H]) };
  // What only the forward and the backward read, given back to the workspace after the last of them.
  const releaseWindow = (): void => {
    ws.release(Z, S, Hbuf, Cbuf);
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
       * Sweep t = T−1 … 0: dz_t from the fused gates (dc carried in place), then
       *   dh_{t−1} = dz_t·wh (+ dhs_{t−1}, already in row t of DH, which the product adds into)   (z = … + h_{t−1}·whᵀ)
       * With a hidden mask that is ∂L/∂h̃_{t−1}, and the step reads dhCell = M ⊙ dh (hT alone is unmasked).
       * After the sweep: dwh += DZᵀ·H_prev (the rows z read), dwx += DZᵀ·X, dbias += Σ_rows DZ, dx += DZ·wx.
       */
      const dHs = hs.grad ? hs.grad.data : null; // [T,B,H]
      const hidden = hiddenGradsSetup(ws, dtype, T, BH, mask, dHs, hT.grad ? hT.grad.data : null); // see HiddenGrads
      const { DH, dhCell, dhCellLast } = hidden;
      const dc = ws.acquire(dtype, BH); // [B,H]
      if (cT.grad) dc.set(cT.grad.data);
      const DZ = Z; // [T,B,4H] z's storage: no backward reads z (the gates work from the saved activations S), and lstmGatesBackward rewrites row t before anything reads it, so a rerun (retainGraph) sees nothing stale
      const needH0 = h0.requiresGrad;
      const dhArgs: GemmArgs = withLoopWeight(backend, T, {
        m: B,
        n: H,
        k: G,
        a: DZ,
        aOffset: 0,
        b: wh,
        c: DH,
        cOffset: 0,
        accumulate: true,
      });
      const windowed =
        T >= 2 &&
        dhArgs.packedB !== undefined &&
        backend.recurrentWindows?.lstmBackward({ T, B, H, S, Cbuf, DZ, DH, dhCell, dhCellLast, dc, mask, wh: dhArgs.packedB, needH0 }) ===
          true;
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
          if (t > 0 || needH0) {
            dhArgs.aOffset = t * BG;
            dhArgs.cOffset = t * BH;
            backend.gemm(dhArgs); // DH_t += dz_t·wh
          }
        }
      }
      releaseLoopWeights(backend, dhArgs);
      finishHiddenGrads(ws, hidden, gradBuffer(h0), mask, T, BH);
      const gc0 = gradBuffer(c0);
      if (gc0) addInto(gc0, dc, BH);
      ws.release(dc);
      if (TB === 0) return;
      const gwh = gradBuffer(w.wh);
      const gwx = gradBuffer(w.wx);
      const gbias = gradBuffer(w.bias);
      const gx = gradBuffer(x);
      // [4H,H] += [T·B,4H]ᵀ·H_prev (Hin rows 0..T−1)
      if (gwh) backend.gemm({ m: G, n: H, k: TB, a: DZ, transA: true, b: Hin, c: gwh, accumulate: true });
      // [4H,D] += [T·B,4H]ᵀ·[T·B,D]
      if (gwx) backend.gemm({ m: G, n: D, k: TB, a: DZ, transA: true, b: xd, c: gwx, accumulate: true });
      if (gbias) addBiasGrad(call, gbias, DZ, TB, G);
      // [T·B,D] += [T·B,4H]·[4H,D]
      if (gx) backend.gemm({ m: TB, n: D, k: G, a: DZ, b: w.wx.data, c: gx, accumulate: true });
    },
    releaseWindow,
  ); // when the graph is discarded: only the backward reads these
  return result;
}
