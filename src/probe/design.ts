/**
 * Design matrices for the probe: the only operations the solvers need (X·w, Xᵀ·r, one column), over a
 * dense matrix (model features) or a sparse one (hashed n-gram counts), and a standardised view of
 * either that never materialises the centred matrix — centring would make a sparse matrix dense.
 *
 * Products accumulate in float64 whatever the storage type.
 */

export interface DesignMatrix {
  readonly rows: number;
  readonly cols: number;
  /** out[i] = Σ_j X[i,j]·w[j]   (w [cols], out [rows]) */
  mul(w: Float64Array, out: Float64Array): void;
  /** out[j] = Σ_i X[i,j]·r[i]   (r [rows], out [cols]) */
  mulT(r: Float64Array, out: Float64Array): void;
  /** out[i] = X[i,j] */
  column(j: number, out: Float64Array): void;
  /** Per column: Σ_i X[i,j] and Σ_i X[i,j]². */
  columnMoments(sums: Float64Array, squares: Float64Array): void;
  /** The matrix of the given rows, in that order (cross-validation folds). */
  selectRows(indices: readonly number[]): DesignMatrix;
}

function checkLength(op: string, name: string, a: { length: number }, n: number): void {
  if (a.length !== n) throw new RangeError(`${op}: ${name} has length ${a.length}, expected ${n}`);
}

/**
 * Column-major storage, for coordinate descent. Sparse: column j's entries are k in
 * colStart[j] … colStart[j+1]−1, value values[k] in row rowIndex[k]. Dense (`colStart` and `rowIndex`
 * null): column j is values[j·rows … (j+1)·rows).
 */
export interface ColumnLayout {
  colStart: Int32Array | null; // [cols+1]
  rowIndex: Int32Array | null; // [nnz]
  values: Float32Array | Float64Array; // [nnz] or [cols,rows]
}

/** A matrix that can also hand out its columns (the two storage classes; not the standardised view). */
export interface ColumnMatrix extends DesignMatrix {
  columnLayout(): ColumnLayout;
}

/** Row-major [rows, cols]. */
export class DenseMatrix implements ColumnMatrix {
  private byColumn: Float64Array | null = null; // [cols, rows], built on first column access

  constructor(
    readonly data: Float32Array | Float64Array,
    readonly rows: number,
    readonly cols: number,
  ) {
    if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 0)
      throw new RangeError(`DenseMatrix: bad shape [${rows},${cols}]`);
    checkLength('DenseMatrix', 'data', data, rows * cols);
  }

  mul(w: Float64Array, out: Float64Array): void {
    const { data, rows, cols } = this;
    for (let i = 0; i < rows; i++) {
      let s = 0;
      const base = i * cols;
      for (let j = 0; j < cols; j++) s += data[base + j]! * w[j]!;
      out[i] = s;
    }
  }

  mulT(r: Float64Array, out: Float64Array): void {
    const { data, rows, cols } = this;
    out.fill(0, 0, cols);
    for (let i = 0; i < rows; i++) {
      const ri = r[i]!;
      if (ri === 0) continue;
      const base = i * cols;
      for (let j = 0; j < cols; j++) out[j]! += data[base + j]! * ri;
    }
  }

  column(j: number, out: Float64Array): void {
    for (let i = 0; i < this.rows; i++) out[i] = this.data[i * this.cols + j]!;
  }

  columnLayout(): ColumnLayout {
    if (!this.byColumn) {
      const t = new Float64Array(this.rows * this.cols);
      for (let i = 0; i < this.rows; i++) for (let k = 0; k < this.cols; k++) t[k * this.rows + i] = this.data[i * this.cols + k]!;
      this.byColumn = t;
    }
    return { colStart: null, rowIndex: null, values: this.byColumn };
  }

  columnMoments(sums: Float64Array, squares: Float64Array): void {
    const { data, rows, cols } = this;
    sums.fill(0, 0, cols);
    squares.fill(0, 0, cols);
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < cols; j++) {
        const v = data[i * cols + j]!;
        sums[j]! += v;
        squares[j]! += v * v;
      }
    }
  }

  selectRows(indices: readonly number[]): DenseMatrix {
    const out = new Float64Array(indices.length * this.cols);
    indices.forEach((r, k) => out.set(this.data.subarray(r * this.cols, (r + 1) * this.cols), k * this.cols));
    return new DenseMatrix(out, indices.length, this.cols);
  }
}

/** Compressed sparse rows: row i holds entries rowStart[i] … rowStart[i+1]−1 of (colIndex, value). */
export class SparseMatrix implements ColumnMatrix {
  private csc: { colStart: Int32Array; rowIndex: Int32Array; values: Float32Array } | null = null;

  constructor(
    readonly rowStart: Int32Array, // [rows+1]
    readonly colIndex: Int32Array, // [nnz]
    readonly values: Float32Array, // [nnz]
    readonly rows: number,
    readonly cols: number,
  ) {
    checkLength('SparseMatrix', 'rowStart', rowStart, rows + 1);
    const nnz = rowStart[rows]!;
    checkLength('SparseMatrix', 'colIndex', colIndex, nnz);
    checkLength('SparseMatrix', 'values', values, nnz);
    for (let k = 0; k < nnz; k++) {
      const c = colIndex[k]!;
      if (!(c >= 0 && c < cols)) throw new RangeError(`SparseMatrix: entry ${k} has column ${c}, outside [0, ${cols})`);
    }
  }

  get nnz(): number {
    return this.rowStart[this.rows]!;
  }

  mul(w: Float64Array, out: Float64Array): void {
    const { rowStart, colIndex, values } = this;
    for (let i = 0; i < this.rows; i++) {
      let s = 0;
      for (let k = rowStart[i]!; k < rowStart[i + 1]!; k++) s += values[k]! * w[colIndex[k]!]!;
      out[i] = s;
    }
  }

  mulT(r: Float64Array, out: Float64Array): void {
    const { rowStart, colIndex, values } = this;
    out.fill(0, 0, this.cols);
    for (let i = 0; i < this.rows; i++) {
      const ri = r[i]!;
      if (ri === 0) continue;
      for (let k = rowStart[i]!; k < rowStart[i + 1]!; k++) out[colIndex[k]!]! += values[k]! * ri;
    }
  }

  column(j: number, out: Float64Array): void {
    const csc = this.columns();
    out.fill(0, 0, this.rows);
    for (let k = csc.colStart[j]!; k < csc.colStart[j + 1]!; k++) out[csc.rowIndex[k]!] = csc.values[k]!;
  }

  columnLayout(): ColumnLayout {
    const csc = this.columns();
    return { colStart: csc.colStart, rowIndex: csc.rowIndex, values: csc.values };
  }

  columnMoments(sums: Float64Array, squares: Float64Array): void {
    sums.fill(0, 0, this.cols);
    squares.fill(0, 0, this.cols);
    for (let k = 0; k < this.nnz; k++) {
      const v = this.values[k]!;
      sums[this.colIndex[k]!]! += v;
      squares[this.colIndex[k]!]! += v * v;
    }
  }

  selectRows(indices: readonly number[]): SparseMatrix {
    let nnz = 0;
    for (const r of indices) nnz += this.rowStart[r + 1]! - this.rowStart[r]!;
    const rowStart = new Int32Array(indices.length + 1);
    const colIndex = new Int32Array(nnz);
    const values = new Float32Array(nnz);
    let k = 0;
    indices.forEach((r, i) => {
      for (let q = this.rowStart[r]!; q < this.rowStart[r + 1]!; q++, k++) {
        colIndex[k] = this.colIndex[q]!;
        values[k] = this.values[q]!;
      }
      rowStart[i + 1] = k;
    });
    return new SparseMatrix(rowStart, colIndex, values, indices.length, this.cols);
  }

  /** The transpose layout, built on first use (column access for the single-unit search). */
  private columns(): { colStart: Int32Array; rowIndex: Int32Array; values: Float32Array } {
    if (this.csc) return this.csc;
    const colStart = new Int32Array(this.cols + 1);
    for (let k = 0; k < this.nnz; k++) colStart[this.colIndex[k]! + 1]!++;
    for (let j = 0; j < this.cols; j++) colStart[j + 1]! += colStart[j]!;
    const fill = colStart.slice(0, this.cols);
    const rowIndex = new Int32Array(this.nnz);
    const values = new Float32Array(this.nnz);
    for (let i = 0; i < this.rows; i++) {
      for (let k = this.rowStart[i]!; k < this.rowStart[i + 1]!; k++) {
        const at = fill[this.colIndex[k]!]!++;
        rowIndex[at] = i;
        values[at] = this.values[k]!;
      }
    }
    this.csc = { colStart, rowIndex, values };
    return this.csc;
  }
}

/** Per-column mean and scale (the standard deviation; 1 for a constant column, which then stays at 0). */
export interface Standardization {
  mean: Float64Array;
  scale: Float64Array;
}

export function computeStandardization(x: DesignMatrix): Standardization {
  const n = x.rows;
  if (n === 0) throw new RangeError('computeStandardization: the matrix has no rows');
  const sums = new Float64Array(x.cols);
  const squares = new Float64Array(x.cols);
  x.columnMoments(sums, squares);
  const mean = new Float64Array(x.cols);
  const scale = new Float64Array(x.cols);
  for (let j = 0; j < x.cols; j++) {
    const m = sums[j]! / n;
    const variance = Math.max(0, squares[j]! / n - m * m);
    mean[j] = m;
    // A (numerically) constant column carries no information; scale 1 keeps it at ~0 instead of blowing up rounding noise.
    scale[j] = variance > 1e-12 * Math.max(1, m * m) ? Math.sqrt(variance) : 1;
  }
  return { mean, scale };
}

/** (X − 1·meanᵀ)·diag(1/scale), computed implicitly from X. */
export class StandardizedMatrix implements DesignMatrix {
  readonly rows: number;
  readonly cols: number;
  private readonly scaled: Float64Array;

  constructor(
    readonly base: DesignMatrix,
    readonly standardization: Standardization,
  ) {
    this.rows = base.rows;
    this.cols = base.cols;
    checkLength('StandardizedMatrix', 'mean', standardization.mean, base.cols);
    checkLength('StandardizedMatrix', 'scale', standardization.scale, base.cols);
    this.scaled = new Float64Array(base.cols);
  }

  mul(w: Float64Array, out: Float64Array): void {
    const { mean, scale } = this.standardization;
    let shift = 0;
    for (let j = 0; j < this.cols; j++) {
      const v = w[j]! / scale[j]!;
      this.scaled[j] = v;
      shift += mean[j]! * v;
    }
    this.base.mul(this.scaled, out);
    for (let i = 0; i < this.rows; i++) out[i]! -= shift;
  }

  mulT(r: Float64Array, out: Float64Array): void {
    const { mean, scale } = this.standardization;
    let total = 0;
    for (let i = 0; i < this.rows; i++) total += r[i]!;
    this.base.mulT(r, out);
    for (let j = 0; j < this.cols; j++) out[j] = (out[j]! - mean[j]! * total) / scale[j]!;
  }

  column(j: number, out: Float64Array): void {
    this.base.column(j, out);
    const { mean, scale } = this.standardization;
    for (let i = 0; i < this.rows; i++) out[i] = (out[i]! - mean[j]!) / scale[j]!;
  }

  columnMoments(sums: Float64Array, squares: Float64Array): void {
    const col = new Float64Array(this.rows);
    for (let j = 0; j < this.cols; j++) {
      this.column(j, col);
      let s = 0;
      let q = 0;
      for (let i = 0; i < this.rows; i++) {
        s += col[i]!;
        q += col[i]! * col[i]!;
      }
      sums[j] = s;
      squares[j] = q;
    }
  }

  selectRows(indices: readonly number[]): StandardizedMatrix {
    return new StandardizedMatrix(this.base.selectRows(indices), this.standardization);
  }
}
