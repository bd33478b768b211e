import type { Shape } from '../../tensor/shape.js';
import { gatherRows, scatterAddRowsInto } from '../../tensor/ops/index.js';
import type { Tape } from '../tape.js';
import { gradBuffer, Var } from '../var.js';

/**
 * Embedding lookup: table [V,E], integer indices of shape `indexShape` (default [indices.length])
 * → [...indexShape, E]. The backward scatter-adds the upstream rows into the table's gradient, so a
 * token that occurs several times receives the sum of its rows' gradients. The indices are copied,
 * so the caller may reuse its buffer before backward runs.
 */
export function embedding(tape: Tape, table: Var, indices: Int32Array, indexShape?: Shape): Var {
  const out = new Var(gatherRows(table.value, indices, indexShape)); // validates shapes and every index
  if (tape.needsGrad(table)) {
    const saved = indices.slice();
    const width = table.shape[1]!;
    tape.record('embedding', [table], [out], () => {
      scatterAddRowsInto(gradBuffer(table)!, out.grad!.data, saved, width);
    });
  }
  return out;
}
