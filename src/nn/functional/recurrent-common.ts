import type { Backend, GemmArgs } from '../../tensor/backend.js';
import { promote, type DType, type Storage } from '../../tensor/dtype.js';
import { formatShape, ShapeError } from '../../tensor/shape.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { Workspace } from '../../tensor/workspace.js';
import type { Tape } from '../../autograd/tape.js';
import type { Var } from '../../autograd/var.js';

/**
 * Shape checking and small helpers shared by the fused recurrent ops (mlstm.ts, lstm.ts, mrnn.ts), and the
 * set-up of the multiplicative half that the mLSTM and the mRNN share. The ops themselves keep their
 * forward and backward side by side in their own files, time loops included: a loop reads only locals,
 * with no call through a shared helper per step.
 */

/** Sizes of one recurrent call: T steps (1 for a step op), batch B, input D, hidden H. */
export interface RecurrentDims {
  T: number;
  B: number;
  D: number;
  H: number;
  /** The dtype every buffer of the call takes: float64 if any operand is float64. */
  dtype: DType;
}

/**
 * Validate x, h (and c) of a sequence op (x [T,B,D]; messages call the state h0, c0) or a step op
 * (x [B,D]; messages call it h, c) and read off the sizes.
 */
export function recurrentDims(op: string, form: 'sequence' | 'step', x: Var, h: Var, c: Var | null): Omit<RecurrentDims, 'dtype'> {
  const xs = x.shape;
  let T: number;
  let B: number;
  let D: number;
  if (form === 'sequence') {
    if (xs.length !== 3) throw new ShapeError(`${op}: x must be [T,B,D] (time-major), got ${formatShape(xs)}`);
    [T, B, D] = xs as [number, number, number];
  } else {
    if (xs.length !== 2) throw new ShapeError(`${op}: x must be [B,D] (one time step), got ${formatShape(xs)}`);
    T = 1;
    [B, D] = xs as [number, number];
  }
  if (B < 1 || D < 1) throw new ShapeError(`${op}: x ${formatShape(xs)} has an empty batch or feature dimension`);
  const hName = form === 'sequence' ? 'h0' : 'h';
  const hs = h.shape;
  if (hs.length !== 2 || hs[0] !== B || hs[1]! < 1) {
    throw new ShapeError(`${op}: ${hName} must be [B,H] with B=${B} to match x ${formatShape(xs)}, got ${formatShape(hs)}`);
  }
  const H = hs[1]!;
  if (c && (c.shape.length !== 2 || c.shape[0] !== B || c.shape[1] !== H)) {
    throw new ShapeError(
      `${op}: ${form === 'sequence' ? 'c0' : 'c'} must have the shape of ${hName} ${formatShape(hs)}, got ${formatShape(c.shape)}`,
    );
  }
  return { T, B, D, H };
}

/** What a fused recurrent op computes with, from recurrentCall. */
export interface RecurrentCall {
  /** float64 as soon as one operand is float64. */
  dtype: DType;
  backend: Backend;
  /** Lends the op's internal buffers, reused window after window. */
  ws: Workspace;
  /** Whether the tape records the op (some operand needs a gradient). */
  record: boolean;
}

/** The dtype, backend, workspace and recording of one call of a fused recurrent op over `inputs` (every operand). */
export function recurrentCall(tape: Tape, inputs: readonly Var[]): RecurrentCall {
  return { dtype: commonDtype(inputs), backend: tape.backend, ws: tape.workspace, record: tape.needsGrad(...inputs) };
}

/** Throw unless `v` has exactly `expected`; `legend` says what the symbols are (e.g. "[4H,D] with H=5, D=3"). */
export function checkWeight(op: string, name: string, v: Var, expected: readonly number[], legend: string): void {
  const s = v.shape;
  if (s.length !== expected.length || s.some((d, i) => d !== expected[i])) {
    throw new ShapeError(`${op}: weight '${name}' has shape ${formatShape(s)} but ${legend} = ${formatShape(expected)} is required`);
  }
}

/** The dtype of a call: float64 as soon as one operand is float64 (as everywhere in the engine). */
export function commonDtype(vars: readonly Var[]): DType {
  let d: DType = 'float32';
  for (const v of vars) d = promote(d, v.value.dtype);
  return d;
}

/**
 * dbias[j] += Σ_r DZ[r·cols + j], the bias gradient summing ∂L/∂z over all T·B rows, as the product
 * DZᵀ·1 [cols,rows]·[rows,1] through the backend, where a JS loop over the 2048×1024 DZ of an H=256
 * window took ~5 ms of a ~170 ms step (bench/profile-step.mjs). This form rather than 1ᵀ·DZ: the wasm
 * backend then packs DZ a block of rows of DZᵀ at a time instead of packing all of it as a B operand
 * (8 MB of scratch at H=256), and is faster (2.1 against 3.0 ms); both give the same bits, the sums
 * running over r in order.
 */
export function addBiasGrad(call: RecurrentCall, dbias: Storage, DZ: Storage, rows: number, cols: number): void {
  const ones = call.ws.acquire(call.dtype, rows).fill(1); // [rows,1]
  call.backend.gemm({ m: cols, n: 1, k: rows, a: DZ, transA: true, b: ones, c: dbias, accumulate: true }); // dbias as [cols,1]
  call.ws.release(ones);
}

/**
 * What a cell's backward sweep carries for ∂L/∂h, set up before the sweep (the same for the three cells):
 * DH [T+1,B,H], whose row t+1 is ∂L/∂h̃_t (∂L/∂h_t without a mask): it starts as what the outputs send
 * (dHs), step t+1's dh product adds what it sends back, and row 0 ends as ∂L/∂h̃_{−1}. The final state hT
 * is never masked, so its gradient joins row T without a mask, and with one it joins what step T−1 reads,
 * dhCellLast = ∂L/∂hT + M ⊙ DH_T; dhCell is the other steps' M ⊙ DH_{t+1}. A per-row [T+1,B,H] rather than a
 * running [B,H]: no per-step add, and each batch row's sweep stands alone (Backend.recurrentWindows).
 */
export interface HiddenGrads {
  DH: Storage; // [T+1,B,H]
  dhCell: Storage | null; // [B,H], with a mask
  dhCellLast: Storage | null; // [B,H], with a mask
}

/** HiddenGrads for a window of T steps, [B,H] = BH elements per row, from dHs [T,B,H] and ∂L/∂hT (each null when absent). */
export function hiddenGradsSetup(
  ws: Workspace,
  dtype: DType,
  T: number,
  BH: number,
  mask: Storage | null,
  dHs: Storage | null,
  hTg: Storage | null,
): HiddenGrads {
  const DH = ws.acquire(dtype, (T + 1) * BH);
  if (dHs) DH.set(dHs, BH);
  const dhCell = mask ? ws.acquireForWrite(dtype, BH) : null;
  const dhCellLast = mask ? ws.acquire(dtype, BH) : null;
  if (mask) {
    if (hTg) dhCellLast!.set(hTg);
    applyHiddenMask(BH, mask, DH, T * BH, dhCellLast!, 0, true);
  } else if (hTg) for (let k = 0; k < BH; k++) DH[T * BH + k]! += hTg[k]!;
  return { DH, dhCell, dhCellLast };
}

/** After the sweep: ∂L/∂h0 += (M ⊙) DH_0, into gh0 (null: h0 needs none); then the buffers go back to the workspace. */
export function finishHiddenGrads(ws: Workspace, g: HiddenGrads, gh0: Storage | null, mask: Storage | null, T: number, BH: number): void {
  if (gh0 && mask) {
    applyHiddenMask(BH, mask, g.DH, 0, gh0, 0, true); // ∂L/∂h0 = M ⊙ ∂L/∂h̃_{−1}
    if (T === 0) addInto(gh0, g.dhCellLast!, BH); // an empty window: hT is h0 itself
  } else if (gh0) addInto(gh0, g.DH, BH);
  ws.release(g.DH);
  if (mask) ws.release(g.dhCell!, g.dhCellLast!);
}

/** dst[k] += src[k] for k < n. */
export function addInto(dst: Storage, src: Storage, n: number, srcOff = 0): void {
  for (let k = 0; k < n; k++) dst[k]! += src[srcOff + k]!;
}

/**
 * Returns `args` with args.packedB set when the backend can pack a time loop's weight operand
 * (args.b, the same matrix at every step) once for the `steps` gemms that use it, instead of once
 * per step (see gemm-prepared.ts). Skipped for a single step, where preparing would only add a
 * copy, and on backends without prepareB.
 */
export function withLoopWeight(backend: Backend, steps: number, args: GemmArgs): GemmArgs {
  if (steps >= 2 && backend.prepareB !== undefined) args.packedB = backend.prepareB(args);
  return args;
}

/** The weights of a multiplicative cell (mLSTM, mRNN): wmx [H,D], wmh [H,H], whx [G,D], whm [G,H], bias [G]. */
export type MultiplicativeWeights = Readonly<Record<'wmx' | 'wmh' | 'whx' | 'whm' | 'bias', Var>>;

/** Sizes of a multiplicative cell's window: T steps, batch B, input D, hidden H, and G rows of whx/whm/bias (4H for the mLSTM's gates i,f,g,o; H for the mRNN). */
export interface MultiplicativeDims {
  T: number;
  B: number;
  D: number;
  H: number;
  G: number;
}

/** What the forward time loop of a multiplicative cell works on, from multiplicativeForwardSetup. */
export interface MultiplicativeForward {
  XM: Storage; // [T,B,H] x_t·wmxᵀ
  Z: Storage; // [T,B,G] x_t·whxᵀ + bias; step t adds m_t·whmᵀ into its rows, making them z_t (later DZ: see the ops' backward)
  M: Storage; // [T,B,H] m_t; the caller releases it to the workspace (after the backward, which reads it)
  HM: Storage; // [T,B,H] h_{t−1}·wmhᵀ; [B,H] when not recording
  /** Row stride of HM: B·H when recording, 0 without (HM_t is dead after its step: one row serves all). */
  hmStride: number;
  /** HM_t = h_{t−1}·wmhᵀ: the loop sets aOffset = t·BH (Hbuf row t), cOffset = t·hmStride. */
  hmArgs: GemmArgs;
  /** z_t = Z_t + m_t·whmᵀ: the loop sets aOffset = t·BH, cOffset = t·BG. */
  zArgs: GemmArgs;
}

/**
 * Everything the forward time loop of the mLSTM and the mRNN needs for their common multiplicative half,
 * m_t = (x_t·wmxᵀ) ⊙ (h_{t−1}·wmhᵀ) feeding z_t = x_t·whxᵀ + m_t·whmᵀ + bias:
 * the input halves of every step at once (XM = x·wmxᵀ [T·B,H], Z = x·whxᵀ + bias [T·B,G], two large gemms),
 * M and HM, and one argument object per loop gemm, re-aimed each step (nothing allocated in the loop),
 * its weight packed once (withLoopWeight). Hbuf [T+1,B,H] holds h_{t−1} in row t.
 */
export function multiplicativeForwardSetup(
  call: RecurrentCall,
  dims: MultiplicativeDims,
  x: Var,
  w: MultiplicativeWeights,
  Hbuf: Storage,
): MultiplicativeForward {
  const { dtype, backend, ws, record } = call;
  const { T, B, D, H, G } = dims;
  const TB = T * B;
  const BH = B * H;
  const xd = x.data; // [T,B,D] (or [B,D] for a step)
  const XM = ws.acquireForWrite(dtype, TB * H); // [T,B,H]
  const Z = ws.acquireForWrite(dtype, TB * G); // [T,B,G]
  if (TB > 0) {
    backend.gemm({ m: TB, n: H, k: D, a: xd, b: w.wmx.data, transB: true, c: XM });
    backend.gemm({ m: TB, n: G, k: D, a: xd, b: w.whx.data, transB: true, c: Z, bias: w.bias.data });
  }
  const M = ws.acquireForWrite(dtype, TB * H); // [T,B,H]; the caller releases it to the workspace
  const hmStride = record ? BH : 0;
  const HM = ws.acquireForWrite(dtype, record ? TB * H : BH); // [T,B,H], or [B,H] reused by every step
  const hmArgs = withLoopWeight(backend, T, { m: B, n: H, k: H, a: Hbuf, aOffset: 0, b: w.wmh.data, transB: true, c: HM, cOffset: 0 });
  const zArgs = withLoopWeight(backend, T, {
    m: B,
    n: G,
    k: H,
    a: M,
    aOffset: 0,
    b: w.whm.data,
    transB: true,
    c: Z,
    cOffset: 0,
    accumulate: true,
  });
  return { XM, Z, M, HM, hmStride, hmArgs, zArgs };
}

/** What the backward sweep of a multiplicative cell works on, from multiplicativeBackwardSetup. */
export interface MultiplicativeBackward {
  DXM: Storage; // [T,B,H] ∂L/∂(x_t·wmxᵀ); the caller releases it to the workspace
  DHM: Storage; // [T,B,H] ∂L/∂(h_{t−1}·wmhᵀ); likewise
  dm: Storage; // [B,H] one step's ∂L/∂m; the caller releases it to the workspace
  /** dm_t = dz_t·whm: the sweep sets aOffset = t·BG. */
  dmArgs: GemmArgs;
  /**
   * dh ← dHM_t·wmh: the sweep sets aOffset = t·BH. Into the running [B,H] dh (overwriting: dh_t has been
   * consumed), or with `dhAccumulates` added into row t of a [T+1,B,H] dh (the sweep also sets cOffset).
   */
  dhArgs: GemmArgs;
}

/**
 * The buffers and re-aimed gemm arguments of the backward sweep's multiplicative half (mLSTM, mRNN); dh is the
 * sweep's running ∂L/∂h [B,H], or (dhAccumulates) the mLSTM's per-step [T+1,B,H] that the product adds into.
 */
export function multiplicativeBackwardSetup(
  call: RecurrentCall,
  dims: MultiplicativeDims,
  DZ: Storage,
  w: MultiplicativeWeights,
  dh: Storage,
  dhAccumulates = false,
): MultiplicativeBackward {
  const { dtype, backend, ws } = call;
  const { T, B, H, G } = dims;
  const DXM = ws.acquireForWrite(dtype, T * B * H); // [T,B,H]
  const DHM = ws.acquireForWrite(dtype, T * B * H); // [T,B,H]
  const dm = ws.acquireForWrite(dtype, B * H); // [B,H]; the caller releases it to the workspace
  const dmArgs = withLoopWeight(backend, T, { m: B, n: H, k: G, a: DZ, aOffset: 0, b: w.whm.data, c: dm });
  const dhArgs = withLoopWeight(backend, T, {
    m: B,
    n: H,
    k: H,
    a: DHM,
    aOffset: 0,
    b: w.wmh.data,
    c: dh,
    cOffset: 0,
    accumulate: dhAccumulates,
  });
  return { DXM, DHM, dm, dmArgs, dhArgs };
}

/** What the multiplicative cells (mLSTM, mRNN) keep from a window for their parameter gradients. */
export interface MultiplicativeWindow extends MultiplicativeDims {
  x: Var; // [T,B,D]
  w: MultiplicativeWeights;
  DZ: Storage; // [T,B,G] ∂L/∂z_t
  DXM: Storage; // [T,B,H] ∂L/∂(x_t·wmxᵀ)
  DHM: Storage; // [T,B,H] ∂L/∂(h_{t−1}·wmhᵀ)
  M: Storage; // [T,B,H] m_t; the caller releases it to the workspace (after the backward, which reads it)
  Hprev: Storage; // [T+1,B,H] rows 0..T−1 are h_{−1} … h_{T−2}
}

/**
 * The parameter and input gradients of a multiplicative cell after its backward sweep. They are sums
 * over steps of per-step outer products, so each is ONE gemm over all T·B rows with a transposed
 * operand (accumulating, as every backward does):
 *   dwhm += DZᵀ·M, dwmh += DHMᵀ·H_prev, dwhx += DZᵀ·X, dwmx += DXMᵀ·X, dbias += Σ_rows DZ,
 *   dx += DZ·whx + DXM·wmx.
 */
export function accumulateMultiplicativeGrads(call: RecurrentCall, win: MultiplicativeWindow, grad: (v: Var) => Storage | null): void {
  const { backend } = call;
  const { T, B, D, H, G, x, w, DZ, DXM, DHM, M, Hprev } = win;
  const TB = T * B;
  if (TB === 0) return;
  const xd = x.data;
  const g = { wmx: grad(w.wmx), wmh: grad(w.wmh), whx: grad(w.whx), whm: grad(w.whm), bias: grad(w.bias), x: grad(x) };
  // [G,H] += [T·B,G]ᵀ·[T·B,H]
  if (g.whm) backend.gemm({ m: G, n: H, k: TB, a: DZ, transA: true, b: M, c: g.whm, accumulate: true });
  // [H,H] += [T·B,H]ᵀ·H_prev
  if (g.wmh) backend.gemm({ m: H, n: H, k: TB, a: DHM, transA: true, b: Hprev, c: g.wmh, accumulate: true });
  // [G,D] += [T·B,G]ᵀ·[T·B,D]
  if (g.whx) backend.gemm({ m: G, n: D, k: TB, a: DZ, transA: true, b: xd, c: g.whx, accumulate: true });
  // [H,D] += [T·B,H]ᵀ·[T·B,D]
  if (g.wmx) backend.gemm({ m: H, n: D, k: TB, a: DXM, transA: true, b: xd, c: g.wmx, accumulate: true });
  if (g.bias) addBiasGrad(call, g.bias, DZ, TB, G);
  if (g.x) {
    // [T·B,D] += [T·B,G]·[G,D] + [T·B,H]·[H,D]
    backend.gemm({ m: TB, n: D, k: G, a: DZ, b: w.whx.data, c: g.x, accumulate: true });
    backend.gemm({ m: TB, n: D, k: H, a: DXM, b: w.wmx.data, c: g.x, accumulate: true });
  }
}

/**
 * Rows 1..T of a [T+1,rowSize] state buffer (h_0 … h_{T−1} of a window, row 0 being the initial state)
 * as a COPY, the `hs` / `cs` output of a sequence op. The buffer itself is the workspace's (in the wasm
 * backend's memory, where the time loop's kernels read and write it in place instead of copying a
 * [B,H] row in and out at every call: ~20 MB of copies per H=256 training step); it goes back to the
 * workspace when the graph is released, so an output that outlives the graph gets its own copy, one
 * memcpy per window.
 */
export function stepRowsCopy(buf: Storage, rowSize: number, T: number): Storage {
  return buf.slice(rowSize, (T + 1) * rowSize);
}

/**
 * Row T (the final state) of a [T+1,rowSize] state buffer as a COPY: the final state is what truncated
 * BPTT carries into the next window (detached), and a view would keep the whole window's buffer alive
 * until then for the sake of one row.
 */
export function lastRowCopy(buf: Storage, rowSize: number, T: number): Storage {
  return buf.slice(T * rowSize, (T + 1) * rowSize);
}

/**
 * Hands the weights withLoopWeight prepared back to the backend once their loop is done
 * (Backend.releaseB), so the next window's prepareB reuses that memory: the parallel backend's
 * shared slots stay a fixed few even when every window brings a new weight array (weight norm).
 */
export function releaseLoopWeights(backend: Backend, ...loops: GemmArgs[]): void {
  for (const args of loops) {
    if (args.packedB !== undefined) backend.releaseB?.(args.packedB);
    delete args.packedB;
  }
}

/**
 * The variational hidden-dropout mask M [B,H] of a fused recurrent op (docs/training.md), as storage, or
 * null without one. Its values are 0 or 1/(1 − p); it is a constant of the window (no gradient).
 */
export function hiddenMaskData(op: string, mask: Tensor | null | undefined, B: number, H: number): Storage | null {
  if (mask === null || mask === undefined) return null;
  const s = mask.shape;
  if (s.length !== 2 || s[0] !== B || s[1] !== H)
    throw new ShapeError(`${op}: hiddenMask must be [B,H] = [${B},${H}] like the state, got ${formatShape(s)}`);
  return mask.data;
}

/**
 * dst = M ⊙ src (or dst += M ⊙ src with `accumulate`) over one [B,H] block, n = B·H: in the forward
 * h̃_t = M ⊙ h_t, in the backward ∂L/∂h_t = M ⊙ ∂L/∂h̃_t. mask [B,H] from 0; src, dst [B,H] at their offsets.
 */
export function applyHiddenMask(
  n: number,
  mask: Storage,
  src: Storage,
  srcOff: number,
  dst: Storage,
  dstOff: number,
  accumulate: boolean,
): void {
  if (accumulate) for (let k = 0; k < n; k++) dst[dstOff + k]! += mask[k]! * src[srcOff + k]!;
  else for (let k = 0; k < n; k++) dst[dstOff + k] = mask[k]! * src[srcOff + k]!;
}
