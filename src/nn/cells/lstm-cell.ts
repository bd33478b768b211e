import type { DType } from '../../tensor/dtype.js';
import type { Tape } from '../../autograd/tape.js';
import type { Var } from '../../autograd/var.js';
import type { Parameter } from '../module.js';
import { lstmSequence, lstmStep, type LSTMWeights } from '../functional/lstm.js';
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

/**
 * The baseline LSTM cell (CONTRACT.md). Parameters, in order: `wx [4H,D]`, `wh [4H,H]`, `bias [4H]`.
 * Default init as PyTorch's nn.LSTM (Uniform(±1/√H)), forget-gate bias 1.
 */
export class LSTMCell extends RecurrentCellBase {
  readonly kind = 'lstm' as const;
  private readonly wx: MatrixParam;
  private readonly wh: MatrixParam;
  private readonly bias: Parameter;

  constructor(options: CellOptions) {
    super('LSTMCell', options);
    const { inputSize: D, hiddenSize: H } = this;
    this.wx = this.addMatrix('wx', 4 * H, D, 'input', false);
    this.wh = this.addMatrix('wh', 4 * H, H, 'recurrent', false);
    this.bias = this.addBias(4 * H, true);
  }

  zeroState(batch: number, dtype?: DType): CellState {
    return { h: this.zeroVar('LSTMCell', batch, dtype), c: this.zeroVar('LSTMCell', batch, dtype) };
  }

  weights(tape: Tape): LSTMWeights {
    return { wx: this.resolve(tape, 'wx', this.wx), wh: this.resolve(tape, 'wh', this.wh), bias: this.bias };
  }

  step(tape: Tape, x: Var, state: CellState, weights?: CellWeights): CellStepResult {
    const w = weights ? this.ownWeights<LSTMWeights>('LSTMCell.step', weights, 'wx') : this.weights(tape);
    const r = lstmStep(tape, x, state.h, this.requireCellState('LSTMCell.step', state), w);
    return { h: r.h, c: r.c };
  }

  forward(tape: Tape, xs: Var, state: CellState, weights?: CellWeights): CellForwardResult {
    checkSequenceInput('LSTMCell.forward', xs, this.inputSize);
    const c0 = this.requireCellState('LSTMCell.forward', state);
    const w = weights ? this.ownWeights<LSTMWeights>('LSTMCell.forward', weights, 'wx') : this.weights(tape);
    const r = lstmSequence(tape, xs, state.h, c0, w);
    return { hs: r.hs, state: { h: r.hT, c: r.cT }, cs: r.cs };
  }
}
