import type { CellKind, CellOptions } from './cell-base.js';
import { LSTMCell } from './lstm-cell.js';
import { MLSTMCell } from './mlstm-cell.js';
import { MRNNCell } from './mrnn-cell.js';

export { LSTMCell } from './lstm-cell.js';
export { MLSTMCell, type MLSTMCellOptions } from './mlstm-cell.js';
export { MRNNCell } from './mrnn-cell.js';
export type { CellForwardResult, CellInit, CellKind, CellOptions, CellStepResult, CellWeights, WeightInit } from './cell-base.js';

/** Any of the three cells; they share zeroState / step / forward / weights. */
export type RecurrentCell = MLSTMCell | LSTMCell | MRNNCell;

export const CELL_KINDS: readonly CellKind[] = Object.freeze(['mlstm', 'lstm', 'mrnn']);

/**
 * Build a cell by kind (the checkpoint config's "cell"). Weight norm exists for the mLSTM only;
 * asking for it on another kind is an error rather than a silently different model.
 */
export function createCell(kind: CellKind, options: CellOptions & { weightNorm?: boolean }): RecurrentCell {
  switch (kind) {
    case 'mlstm':
      return new MLSTMCell(options);
    case 'lstm':
    case 'mrnn':
      if (options.weightNorm) throw new Error(`createCell: weight norm is only defined for the mlstm cell, not '${kind}'`);
      return kind === 'lstm' ? new LSTMCell(options) : new MRNNCell(options);
    default:
      throw new Error(`createCell: unknown cell kind '${String(kind)}' (expected one of ${CELL_KINDS.join(', ')})`);
  }
}
