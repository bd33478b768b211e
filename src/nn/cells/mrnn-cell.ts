import type { DType } from '../../tensor/dtype.js';
import type { Tape } from '../../autograd/tape.js';
import type { Var } from '../../autograd/var.js';
import type { Parameter } from '../module.js';
import { mrnnSequence, mrnnStep, type MRNNWeights } from '../functional/mrnn.js';
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
 * The multiplicative RNN cell (CONTRACT.md). Parameters, in order: `wmx [H,D]`, `wmh [H,H]`,
 * `whx [H,D]`, `whm [H,H]`, `bias [H]`. The state is h alone (c = null).
 * Default init Uniform(±1/√H); there is no forget gate, so CellInit.forgetBias does not apply.
 */
export class MRNNCell extends RecurrentCellBase {
  readonly kind = 'mrnn' as const;
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

  zeroState(batch: number, dtype?: DType): CellState {
    return { h: this.zeroVar('MRNNCell', batch, dtype), c: null };
  }

  weights(tape: Tape): MRNNWeights {
    return {
      wmx: this.resolve(tape, 'wmx', this.mats.wmx),
      wmh: this.resolve(tape, 'wmh', this.mats.wmh),
      whx: this.resolve(tape, 'whx', this.mats.whx),
      whm: this.resolve(tape, 'whm', this.mats.whm),
      bias: this.bias,
    };
  }

  /** One step; a c in `state` is ignored (the mRNN has none) and returned as null. */
  step(tape: Tape, x: Var, state: CellState, weights?: CellWeights): CellStepResult {
    const w = weights ? this.ownWeights<MRNNWeights>('MRNNCell.step', weights, 'wmx') : this.weights(tape);
    const r = mrnnStep(tape, x, state.h, w);
    return { h: r.h, c: null, m: r.m };
  }

  forward(tape: Tape, xs: Var, state: CellState, weights?: CellWeights): CellForwardResult {
    checkSequenceInput('MRNNCell.forward', xs, this.inputSize);
    const w = weights ? this.ownWeights<MRNNWeights>('MRNNCell.forward', weights, 'wmx') : this.weights(tape);
    const r = mrnnSequence(tape, xs, state.h, w);
    return { hs: r.hs, state: { h: r.hT, c: null }, ms: r.ms };
  }
}
