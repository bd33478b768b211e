import type { DType } from '../../tensor/dtype.js';
import type { Tape } from '../../autograd/tape.js';
import type { Var } from '../../autograd/var.js';
import type { Parameter } from '../module.js';
import { mlstmSequence, mlstmStep, type MLSTMWeights } from '../functional/mlstm.js';
import {
  checkSequenceInput,
  RecurrentCellBase,
  type CellForwardResult,
  type CellWeights,
  type CellOptions,
  type CellState,
  type CellStepResult,
  type MatrixParam,
} from './cell-base.js';

export interface MLSTMCellOptions extends CellOptions {
  /** Store every matrix as a weight-normalised (v, g) pair (CONTRACT.md `mlstm_wn`). Default false. */
  weightNorm?: boolean;
}

/**
 * The multiplicative LSTM cell (CONTRACT.md). Parameters, in this order (the checkpoint names):
 * `wmx [H,D]`, `wmh [H,H]`, `whx [4H,D]`, `whm [4H,H]`, `bias [4H]`; with weight norm each matrix
 * is `name.v` and `name.g` instead (`wmx.v`, `wmx.g`, `wmh.v`, …, `bias`).
 * Default init: Uniform(±1/√H) for everything, forget-gate bias 1 (see CellInit).
 */
export class MLSTMCell extends RecurrentCellBase {
  readonly kind = 'mlstm' as const;
  readonly weightNorm: boolean;
  private readonly mats: Record<'wmx' | 'wmh' | 'whx' | 'whm', MatrixParam>;
  private readonly bias: Parameter;

  constructor(options: MLSTMCellOptions) {
    super('MLSTMCell', options);
    const { inputSize: D, hiddenSize: H } = this;
    const wn = options.weightNorm ?? false;
    this.weightNorm = wn;
    this.mats = {
      wmx: this.addMatrix('wmx', H, D, 'input', wn),
      wmh: this.addMatrix('wmh', H, H, 'recurrent', wn),
      whx: this.addMatrix('whx', 4 * H, D, 'input', wn),
      whm: this.addMatrix('whm', 4 * H, H, 'recurrent', wn),
    };
    this.bias = this.addBias(4 * H, true);
  }

  zeroState(batch: number, dtype?: DType): CellState {
    return { h: this.zeroVar('MLSTMCell', batch, dtype), c: this.zeroVar('MLSTMCell', batch, dtype) };
  }

  /** The effective weights for one window (weight norm resolved and recorded on `tape`). */
  weights(tape: Tape): MLSTMWeights {
    return {
      wmx: this.resolve(tape, 'wmx', this.mats.wmx),
      wmh: this.resolve(tape, 'wmh', this.mats.wmh),
      whx: this.resolve(tape, 'whx', this.mats.whx),
      whm: this.resolve(tape, 'whm', this.mats.whm),
      bias: this.bias,
    };
  }

  /** One step, x [B,D]. Pass `weights` (from `weights(tape)`) to avoid re-normalising every step. */
  step(tape: Tape, x: Var, state: CellState, weights?: CellWeights): CellStepResult {
    const w = weights ? this.ownWeights<MLSTMWeights>('MLSTMCell.step', weights, 'wmx') : this.weights(tape);
    const r = mlstmStep(tape, x, state.h, this.requireCellState('MLSTMCell.step', state), w);
    return { h: r.h, c: r.c, m: r.m };
  }

  /** A window, xs [T,B,D], as one fused op. */
  forward(tape: Tape, xs: Var, state: CellState, weights?: CellWeights): CellForwardResult {
    checkSequenceInput('MLSTMCell.forward', xs, this.inputSize);
    const c0 = this.requireCellState('MLSTMCell.forward', state);
    const w = weights ? this.ownWeights<MLSTMWeights>('MLSTMCell.forward', weights, 'wmx') : this.weights(tape);
    const r = mlstmSequence(tape, xs, state.h, c0, w);
    return { hs: r.hs, state: { h: r.hT, c: r.cT }, cs: r.cs, ms: r.ms };
  }
}
