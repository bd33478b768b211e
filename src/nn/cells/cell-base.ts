import type { DType } from '../../tensor/dtype.js';
import type { Rng } from '../../tensor/rng.js';
import { formatShape, ShapeError } from '../../tensor/shape.js';
import { zeros, type Tensor } from '../../tensor/tensor.js';
import type { Tape } from '../../autograd/tape.js';
import { Var } from '../../autograd/var.js';
import { Module, type Parameter } from '../module.js';
import type { LSTMWeights } from '../functional/lstm.js';
import type { MLSTMWeights } from '../functional/mlstm.js';
import type { MRNNWeights } from '../functional/mrnn.js';
import { weightNorm } from '../functional/weight-norm.js';
import type { LayerState } from '../state.js';
import { initFanIn, initForgetBias, initOrthogonal, initUniform } from '../init.js';

export type CellKind = 'mlstm' | 'lstm' | 'mrnn';

/** What `step` returns: the next state (h, and c but for the mRNN), the step's output, and m_t [B,H] for the multiplicative cells. */
export interface CellStepResult extends LayerState {
  /** [B,H] what the layer above reads: M ⊙ h with a hidden-dropout mask, else `h` itself. */
  out: Var;
  m?: Tensor;
}

/**
 * What `forward` returns: hs [T,B,H] (differentiable; M ⊙ h_t with a hidden-dropout mask), the final
 * state (never masked), and c_t / m_t for inspection. The fused sequence ops return exactly this
 * (MLSTMSequenceResult, …), so the cells pass it on as it is.
 */
export interface CellForwardResult {
  hs: Var;
  state: LayerState;
  cs?: Tensor; // [T,B,H], mLSTM and LSTM
  ms?: Tensor; // [T,B,H], mLSTM and mRNN
}

/**
 * The effective weights of some cell, as returned by its `weights(tape)`. Every cell's step/forward
 * accepts this union, so code holding any cell can resolve the weights once per window and reuse
 * them for every step; a cell handed another kind's weights throws (names or shapes do not fit).
 */
export type CellWeights = MLSTMWeights | LSTMWeights | MRNNWeights;

/** How a weight matrix is drawn: a named scheme, or any function filling the tensor. */
export type WeightInit = 'uniform' | 'fanIn' | 'orthogonal' | ((t: Tensor, rng: Rng) => void);

/**
 * Initialisation of a cell. The default follows PyTorch's nn.LSTM: every weight and bias
 * Uniform(±1/√H); then the forget-gate block of the bias (mLSTM, LSTM) is set to 1.
 */
export interface CellInit {
  /** Matrices reading x: wmx, whx (mLSTM, mRNN), wx (LSTM). Default 'uniform' (±1/√H). */
  input?: WeightInit;
  /** Matrices reading the state: wmh, whm (mLSTM, mRNN), wh (LSTM). Default 'uniform'. */
  recurrent?: WeightInit;
  /** 'uniform' (±1/√H, default) or 'zeros'. */
  bias?: 'uniform' | 'zeros';
  /** Value of the forget-gate block of the bias (mLSTM, LSTM); default 1, null leaves it as drawn. */
  forgetBias?: number | null;
}

export interface CellOptions {
  inputSize: number;
  hiddenSize: number;
  /** Source of the initial weights (deterministic given its seed). */
  rng: Rng;
  /** Parameter dtype (default float32; float64 for gradient checks). */
  dtype?: DType;
  init?: CellInit;
}

/** A weight matrix as the cell stores it: a plain parameter, or a weight-normalised (v, g) pair. */
export type MatrixParam = { kind: 'plain'; w: Parameter } | { kind: 'wn'; v: Parameter; g: Parameter };

/**
 * What the three cells share: sizes, dtype, parameter registration with init, and zeroState / step /
 * forward, written once here. A cell supplies its effective weights (`weights`), its fused ops
 * (`runStep`, `runSequence`), the name of its first weight (how a cell tells its own weights from another
 * kind's) and whether its state has a cell state c: `C` is Var for the mLSTM and LSTM, null for the mRNN.
 */
export abstract class RecurrentCellBase<W extends CellWeights = CellWeights, C extends Var | null = Var | null> extends Module {
  abstract readonly kind: CellKind;
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly dtype: DType;
  protected readonly rng: Rng;
  protected readonly initSpec: CellInit;
  /** The key of the cell's first weight, which its own weights have and no other kind's ('wmx', 'wx'). */
  protected abstract readonly firstWeight: string;
  /** Whether the state carries a cell state c; true exactly when C is Var. */
  protected abstract readonly hasCellState: C extends Var ? true : false;
  /** How messages name the cell and its methods, e.g. 'MLSTMCell', 'MLSTMCell.step'. */
  private readonly names: { readonly cell: string; readonly step: string; readonly forward: string };

  constructor(op: string, options: CellOptions) {
    super();
    const { inputSize, hiddenSize } = options;
    if (!Number.isInteger(inputSize) || inputSize < 1 || !Number.isInteger(hiddenSize) || hiddenSize < 1) {
      throw new RangeError(
        `${op}: inputSize and hiddenSize must be positive integers, got inputSize=${inputSize}, hiddenSize=${hiddenSize}`,
      );
    }
    this.inputSize = inputSize;
    this.hiddenSize = hiddenSize;
    this.dtype = options.dtype ?? 'float32';
    this.rng = options.rng;
    this.initSpec = options.init ?? {};
    this.names = { cell: op, step: `${op}.step`, forward: `${op}.forward` };
  }

  /** h = 0 (and c = 0 for cells with a cell state, else c = null), [batch,H], not requiring gradients. */
  zeroState(batch: number, dtype?: DType): LayerState {
    const h = this.zeroVar(batch, dtype);
    return { h, c: this.hasCellState ? this.zeroVar(batch, dtype) : null };
  }

  /** The effective weights for one window (weight norm resolved and recorded on `tape`). */
  abstract weights(tape: Tape): W;

  /**
   * One step, x [B,D]. Pass `weights` (from `weights(tape)`) to avoid resolving (re-normalising) them every
   * step. The mRNN ignores a c in `state` (it has none) and returns c = null. `hiddenMask` M [B,H] is
   * variational hidden dropout (docs/training.md): the step reads M ⊙ h; pass the same M every step of a window.
   */
  step(tape: Tape, x: Var, state: LayerState, weights?: CellWeights, hiddenMask?: Tensor | null): CellStepResult {
    const op = this.names.step;
    const w = this.windowWeights(op, tape, weights);
    return this.runStep(tape, x, state.h, this.cellStateOf(op, state), w, hiddenMask ?? null);
  }

  /** A window, xs [T,B,D], as one fused op; `hiddenMask` M [B,H] as for `step`, for the whole window. */
  forward(tape: Tape, xs: Var, state: LayerState, weights?: CellWeights, hiddenMask?: Tensor | null): CellForwardResult {
    const op = this.names.forward;
    checkSequenceInput(op, xs, this.inputSize);
    const c0 = this.cellStateOf(op, state);
    const w = this.windowWeights(op, tape, weights);
    return this.runSequence(tape, xs, state.h, c0, w, hiddenMask ?? null);
  }

  /** The cell's fused step op on checked arguments. */
  protected abstract runStep(tape: Tape, x: Var, h: Var, c: C, w: W, hiddenMask: Tensor | null): CellStepResult;

  /** The cell's fused sequence op on checked arguments. */
  protected abstract runSequence(tape: Tape, xs: Var, h0: Var, c0: C, w: W, hiddenMask: Tensor | null): CellForwardResult;

  /** Draw and register a weight matrix [rows,cols]; with weight norm as `name.v`, `name.g` (g = ‖v_row‖, so W starts equal to v). */
  protected addMatrix(name: string, rows: number, cols: number, role: 'input' | 'recurrent', normalised: boolean): MatrixParam {
    const t = zeros([rows, cols], this.dtype);
    drawMatrix(t, this.rng, (role === 'input' ? this.initSpec.input : this.initSpec.recurrent) ?? 'uniform', this.hiddenSize);
    if (!normalised) return { kind: 'plain', w: this.addParameter(name, t) };
    const g = zeros([rows], this.dtype);
    for (let r = 0; r < rows; r++) {
      let ss = 0;
      for (let c = 0; c < cols; c++) ss += t.data[r * cols + c]! ** 2;
      g.data[r] = Math.sqrt(ss);
    }
    return { kind: 'wn', v: this.addParameter(`${name}.v`, t), g: this.addParameter(`${name}.g`, g) };
  }

  /** Draw and register a bias [size]; `gated` biases get the forget-gate block set. */
  protected addBias(size: number, gated: boolean): Parameter {
    const b = zeros([size], this.dtype);
    const bound = 1 / Math.sqrt(this.hiddenSize);
    if ((this.initSpec.bias ?? 'uniform') === 'uniform') initUniform(b, this.rng, -bound, bound);
    const forget = this.initSpec.forgetBias === undefined ? 1 : this.initSpec.forgetBias;
    if (gated && forget !== null) initForgetBias(b, this.hiddenSize, forget);
    return this.addParameter('bias', b);
  }

  /**
   * The values to compute with, in registration order: each matrix as the parameter itself or
   * g·v/‖v‖ recorded on `tape` (weight norm), then the bias.
   */
  protected resolveWeights<K extends string>(tape: Tape, mats: Record<K, MatrixParam>, bias: Parameter): Record<K | 'bias', Var> {
    const w = {} as Record<K | 'bias', Var>;
    for (const name in mats) {
      const p = mats[name];
      w[name] = p.kind === 'plain' ? p.w : weightNorm(tape, p.v, p.g, name);
    }
    w.bias = bias;
    return w;
  }

  private zeroVar(batch: number, dtype: DType | undefined): Var {
    if (!Number.isInteger(batch) || batch < 1)
      throw new RangeError(`${this.names.cell}.zeroState: batch must be a positive integer, got ${batch}`);
    return new Var(zeros([batch, this.hiddenSize], dtype ?? this.dtype));
  }

  /** `weights` narrowed to this cell's own layout (by the presence of its first weight's name), or resolved afresh. */
  private windowWeights(op: string, tape: Tape, weights: CellWeights | undefined): W {
    if (!weights) return this.weights(tape);
    if (!(this.firstWeight in weights)) {
      throw new Error(`${op}: weights of another cell kind (keys ${Object.keys(weights).join(', ')}); use this cell's weights(tape)`);
    }
    return weights as W;
  }

  /** The state's c for a cell with a cell state (an error if it is null), null for one without (a c given is ignored). */
  private cellStateOf(op: string, state: LayerState): C {
    if (!this.hasCellState) return null as C;
    if (!state.c) throw new Error(`${op}: the ${this.kind} cell needs a cell state c (got c = null; use zeroState)`);
    return state.c as C;
  }
}

function drawMatrix(t: Tensor, rng: Rng, how: WeightInit, hidden: number): void {
  if (typeof how === 'function') return how(t, rng);
  switch (how) {
    case 'uniform': {
      const bound = 1 / Math.sqrt(hidden);
      initUniform(t, rng, -bound, bound);
      return;
    }
    case 'fanIn':
      initFanIn(t, rng);
      return;
    case 'orthogonal':
      initOrthogonal(t, rng);
      return;
    default:
      throw new Error(
        `cell init: unknown weight initialiser '${String(how)}' for ${formatShape(t.shape)} (use 'uniform', 'fanIn', 'orthogonal' or a function)`,
      );
  }
}

/** Sequence input check shared by the cells' forward: x must be [T,B,inputSize]. */
export function checkSequenceInput(op: string, xs: Var, inputSize: number): void {
  if (xs.shape.length !== 3 || xs.shape[2] !== inputSize) {
    throw new ShapeError(`${op}: x must be [T,B,${inputSize}] (time-major, inputSize ${inputSize}), got ${formatShape(xs.shape)}`);
  }
}
