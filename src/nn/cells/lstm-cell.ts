import type { Tape } from '../../autograd/tape.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { Var } from '../../autograd/var.js';
import type { Parameter } from '../module.js';
import { lstmSequence, lstmStep, type LSTMWeights } from '../functional/lstm.js';
import { RecurrentCellBase, type CellForwardResult, type CellOptions, type CellStepResult, type MatrixParam } from './cell-base.js';

/**
 * The baseline LSTM cell (docs/CONTRACT.md). Parameters, in order: `wx [4H,D]`, `wh [4H,H]`, `bias [4H]`.
 * Default init as PyTorch's nn.LSTM (Uniform(±1/√H)), forget-gate bias 1.
 */
export class LSTMCell extends RecurrentCellBase<LSTMWeights, Var> {
  readonly kind = 'lstm' as const;
  protected readonly firstWeight = 'wx';
  protected readonly hasCellState = true;
  private readonly mats: Record<'wx' | 'wh', MatrixParam>;
  private readonly bias: Parameter;

  constructor(options: CellOptions) {
    super('LSTMCell', options);
    const { inputSize: D, hiddenSize: H } = this;
    this.mats = {
      wx: this.addMatrix('wx', 4 * H, D, 'input', false),
      wh: this.addMatrix('wh', 4 * H, H, 'recurrent', false),
    };
    this.bias = this.addBias(4 * H, true);
  }

  weights(tape: Tape): LSTMWeights {
    return this.resolveWeights(tape, this.mats, this.bias);
  }

  protected runStep(tape: Tape, x: Var, h: Var, c: Var, w: LSTMWeights, hiddenMask: Tensor | null): CellStepResult {
    return lstmStep(tape, x, h, c, w, hiddenMask);
  }

  protected runSequence(tape: Tape, xs: Var, h0: Var, c0: Var, w: LSTMWeights, hiddenMask: Tensor | null): CellForwardResult {
    return lstmSequence(tape, xs, h0, c0, w, hiddenMask);
  }
}
