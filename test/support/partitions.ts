import { MR } from '../../src/tensor/kernels/gemm-panels.js';
import { columnUnit, partitionInto, splitsByColumns, type ThreadWeights } from '../../src/parallel/gemm-parallel-protocol.js';

/*
 * The parallel GEMM's split (partitionInto, splitsByColumns) as lists of [start, end) ranges, for
 * tests to read and compare: ParallelGemm itself writes the cut points into one reused Int32Array.
 */

/** partitionInto as a list of [start, end) ranges. */
export function partitionRange(size: number, weights: ThreadWeights, unit: number): Array<[number, number]> {
  const bounds = new Int32Array((typeof weights === 'number' ? weights : weights.length) + 1);
  const count = partitionInto(bounds, size, weights, unit);
  return Array.from({ length: count }, (_, p): [number, number] => [bounds[p]!, bounds[p + 1]!]);
}

/** Rows of C, cut at multiples of MR. */
export const partitionRows = (m: number, weights: ThreadWeights): Array<[number, number]> => partitionRange(m, weights, MR);

/** Columns of C, cut at columnUnit. */
export const partitionColumns = (n: number, weights: ThreadWeights, prepared: boolean): Array<[number, number]> =>
  partitionRange(n, weights, columnUnit(n, prepared));

/** splitsByColumns and the ranges it gives. */
export function chooseSplit(
  m: number,
  n: number,
  weights: ThreadWeights,
  prepared: boolean,
): { byColumns: boolean; ranges: Array<[number, number]> } {
  const threads = typeof weights === 'number' ? weights : weights.length;
  const byColumns = splitsByColumns(m, n, threads, prepared);
  return { byColumns, ranges: byColumns ? partitionColumns(n, weights, prepared) : partitionRows(m, weights) };
}
