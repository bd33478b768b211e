import type { Tape } from '../../autograd/tape.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { Var } from '../../autograd/var.js';
import type { Parameter } from '../module.js';
import { mlstmSequence, mlstmStep, type MLSTMWeights } from '../functional/mlstm.js';
import { RecurrentCellBase, type CellForwardResult, type CellOptions, type CellStepResult, type MatrixParam } from './cell-base.js';

export interface MLSTMCellOptions extends CellOptions {
  /** Store every matrix as a weight-normalised (v, g) pair (docs/CONTRACT.md `mlstm_wn`). Default false. */
  weightNorm?: boolean;
}

/**
 * The multiplicative LSTM cell (docs/CONTRACT.md). Parameters, in this order (the checkpoint names):
 * `wmx [H,D]`, `wmh [H,H]`, `whx [4H,D]`, `whm [4H,H]`, `bias [4H]`; with weight norm each matrix
 * is `name.v` and `name.g` instead (`wmx.v`, `wmx.g`, `wmh.v`, …, `bias`).
 * Default init: Uniform(±1/√H) for everything, forget-gate bias 1 (see CellInit).
 */
export class MLSTMCell extends RecurrentCellBase<MLSTMWeights, Var> {
  readonly kind = 'mlstm' as const;
  readonly weightNorm: boolean;
  protected readonly firstWeight = 'wmx';
  protected readonly hasCellState = true;
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

  weights(tape: Tape): MLSTMWeights {
    return this.resolveWeights(tape, this.mats, this.bias);
  }

  protected runStep(tape: Tape, x: Var, h: Var, c: Var, w: MLSTMWeights, hiddenMask: Tensor | null): CellStepResult {
    return mlstmStep(tape, x, h, c, w, hiddenMask);
  }

  protected runSequence(tape: Tape, xs: Var, h0: Var, c0: Var, w: MLSTMWeights, hiddenMask: Tensor | null): CellForwardResult {
    return mlstmSequence(tape, xs, h0, c0, w, hiddenMask);
  }
}
