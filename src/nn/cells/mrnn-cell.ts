import type { Tape } from '../../autograd/tape.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { Var } from '../../autograd/var.js';
import type { Parameter } from '../module.js';
import { mrnnSequence, mrnnStep, type MRNNWeights } from '../functional/mrnn.js';
import { RecurrentCellBase, type CellForwardResult, type CellOptions, type CellStepResult, type MatrixParam } from './cell-base.js';

/**
 * The multiplicative RNN cell (docs/CONTRACT.md). Parameters, in order: `wmx [H,D]`, `wmh [H,H]`,
 * `whx [H,D]`, `whm [H,H]`, `bias [H]`. The state is h alone (c = null).
 * Default init Uniform(±1/√H); there is no forget gate, so CellInit.forgetBias does not apply.
 */
export class MRNNCell extends RecurrentCellBase<MRNNWeights, null> {
  readonly kind = 'mrnn' as const;
  protected readonly firstWeight = 'wmx';
  protected readonly hasCellState = false;
  private readonly mats: Record<'wmx' | 'wmh' | 'whx' | 'whm', MatrixParam>;
  private readonly bias: Parameter;

  constructor(options: CellOptions) {
    super('MRNNCell', options);
    const { inputSize: D, hiddenSize: H } = this;
    this.mats = {
      wmx: this.addMatrix('wmx', H, D, 'input', false),
      wmh: this.addMatrix('wmh', H, H, 'recurrent', false),
      whx: this.addMatrix('whx', H, D, 'input', false),
      whm: this.addMatrix('whm', H, H, 'recurrent', false),
    };
    this.bias = this.addBias(H, false);
  }

  weights(tape: Tape): MRNNWeights {
    return this.resolveWeights(tape, this.mats, this.bias);
  }

  protected runStep(tape: Tape, x: Var, h: Var, _c: null, w: MRNNWeights, hiddenMask: Tensor | null): CellStepResult {
    return mrnnStep(tape, x, h, w, hiddenMask);
  }

  protected runSequence(tape: Tape, xs: Var, h0: Var, _c0: null, w: MRNNWeights, hiddenMask: Tensor | null): CellForwardResult {
    return mrnnSequence(tape, xs, h0, w, hiddenMask);
  }
}
