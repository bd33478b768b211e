import { allocate, type Storage } from '../dtype.js';
import { formatShape, ShapeError, sizeOf, type Shape } from '../shape.js';
import { Tensor } from '../tensor.js';

/**
 * Row gather and its adjoint: the embedding lookup and the embedding gradient. Indices are an
 * Int32Array with an explicit shape (token ids are int32 throughout, as in the checkpoints).
 */

/** The multi-index of flat position `flat` in `shape`, for error messages. */
function positionOf(flat: number, shape: Shape): string {
  const index = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    const n = shape[d]!;
    index[d] = flat % n;
    flat = Math.floor(flat / n);
  }
  return `[${index.join(',')}]`;
}

/** The index shape, checked against the number of indices (defaults to 1-D). */
export function resolveIndexShape(indices: Int32Array, indexShape: Shape | undefined, op: string): readonly number[] {
  const shape = indexShape ?? [indices.length];
  if (sizeOf(shape) !== indices.length) {
    throw new ShapeError(`${op}: index shape ${formatShape(shape)} needs ${sizeOf(shape)} indices but ${indices.length} were given`);
  }
  return shape;
}

/**
 * Throw unless every index lies in [0, rows); the error names the op, the position of the first bad
 * index (in `indexShape`), its value and the table shape. Checked up front so that a kernel never
 * reads or writes out of bounds and never leaves a partial result behind.
 */
export function checkRowIndices(indices: Int32Array, indexShape: Shape, rows: number, tableShape: Shape, op: string): void {
  for (let i = 0; i < indices.length; i++) {
    const r = indices[i]!;
    if (r < 0 || r >= rows) {
      throw new RangeError(
        `${op}: index ${r} at position ${positionOf(i, indexShape)} is out of range for ${rows} rows (table shape ${formatShape(tableShape)})`,
      );
    }
  }
}

/** out[i, :] = table[indices[i], :] for i in 0..N (indices already validated). */
export function gatherRowsInto(
  table: Storage, // [V,E]
  indices: Int32Array, // [N]
  rowSize: number, // E
  out: Storage, // [N,E]
): void {
  for (let i = 0; i < indices.length; i++) {
    const src = indices[i]! * rowSize;
    out.set(table.subarray(src, src + rowSize), i * rowSize);
  }
}

/** dst[indices[i], :] += values[i, :] (duplicates accumulate; indices already validated). */
export function scatterAddRowsInto(
  dst: Storage, // [V,E]
  values: Storage, // [N,E]
  indices: Int32Array, // [N]
  rowSize: number, // E
): void {
  for (let i = 0; i < indices.length; i++) {
    const d = indices[i]! * rowSize;
    const s = i * rowSize;
    for (let j = 0; j < rowSize; j++) dst[d + j]! += values[s + j]!;
  }
}

/**
 * Embedding lookup: table [V,E] and indices of shape `indexShape` (default [indices.length]) give
 * [...indexShape, E], row by row.
 */
export function gatherRows(table: Tensor, indices: Int32Array, indexShape?: Shape): Tensor {
  if (table.rank !== 2) throw new ShapeError(`gatherRows: table must be 2-D [rows, width], got shape ${formatShape(table.shape)}`);
  const shape = resolveIndexShape(indices, indexShape, 'gatherRows');
  const [rows, width] = table.shape as [number, number];
  checkRowIndices(indices, shape, rows, table.shape, 'gatherRows');
  const out = allocate(table.dtype, indices.length * width);
  gatherRowsInto(table.data, indices, width, out);
  return new Tensor(out, [...shape, width]);
}

/**
 * The adjoint of gatherRows: a [rows, E] tensor whose row r is the sum of the rows of `values`
 * ([...indexShape, E], flattened to [N,E]) whose index is r.
 */
export function scatterAddRows(values: Tensor, indices: Int32Array, rows: number): Tensor {
  if (values.rank < 1) throw new ShapeError(`scatterAddRows: values must have rank ≥ 1, got shape ${formatShape(values.shape)}`);
  const width = values.shape[values.rank - 1]!;
  const leading = values.shape.slice(0, -1);
  if (sizeOf(leading) !== indices.length) {
    throw new ShapeError(
      `scatterAddRows: values of shape ${formatShape(values.shape)} hold ${sizeOf(leading)} rows but ${indices.length} indices were given`,
    );
  }
  if (!Number.isInteger(rows) || rows < 0) throw new RangeError(`scatterAddRows: rows must be a non-negative integer, got ${rows}`);
  checkRowIndices(indices, leading, rows, [rows, width], 'scatterAddRows');
  const out = allocate(values.dtype, rows * width);
  scatterAddRowsInto(out, values.data, indices, width);
  return new Tensor(out, [rows, width]);
}
