import { allocate, dtypeOf, type DType, type Storage } from './dtype.js';
import { assertValidShape, formatShape, ShapeError, sizeOf, type Shape } from './shape.js';

/** Nested JS arrays as produced by `toArray()` and accepted by `tensor()`. */
export type NestedArray = number | NestedArray[];

/**
 * A dense, contiguous, row-major array of float32 (default) or float64 with a shape.
 * Tensors are values: operations return new tensors; `reshape` is the only view (it shares `data`).
 */
export class Tensor {
  readonly data: Storage;
  readonly shape: readonly number[];

  constructor(data: Storage, shape: Shape) {
    assertValidShape(shape, 'Tensor');
    const n = sizeOf(shape);
    if (data.length !== n) {
      throw new ShapeError(`Tensor: data has ${data.length} elements but shape ${formatShape(shape)} needs ${n}`);
    }
    this.data = data;
    this.shape = Object.freeze(shape.slice());
  }

  get dtype(): DType {
    return dtypeOf(this.data);
  }
  get size(): number {
    return this.data.length;
  }
  get rank(): number {
    return this.shape.length;
  }

  /** A view with another shape over the same data; one dimension may be -1. */
  reshape(shape: Shape): Tensor {
    const dims = shape.slice();
    const unknown = dims.indexOf(-1);
    if (unknown >= 0) {
      const known = dims.reduce((p, d, i) => (i === unknown ? p : p * d), 1);
      if (known === 0 || this.size % known !== 0) {
        throw new ShapeError(`reshape: cannot reshape ${formatShape(this.shape)} to ${formatShape(shape)}`);
      }
      dims[unknown] = this.size / known;
    }
    if (sizeOf(dims) !== this.size || dims.some((d) => !Number.isInteger(d) || d < 0)) {
      throw new ShapeError(`reshape: cannot reshape ${formatShape(this.shape)} (${this.size} elements) to ${formatShape(shape)}`);
    }
    return new Tensor(this.data, dims);
  }

  clone(): Tensor {
    return new Tensor(this.data.slice(), this.shape);
  }

  astype(dtype: DType): Tensor {
    if (dtype === this.dtype) return this.clone();
    const out = allocate(dtype, this.size);
    out.set(this.data);
    return new Tensor(out, this.shape);
  }

  /** The single value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) throw new ShapeError(`item: tensor of shape ${formatShape(this.shape)} has ${this.size} elements, not 1`);
    return this.data[0]!;
  }

  /** Element at a full index (bounds-checked; for tests and inspection, not hot loops). */
  get(...index: number[]): number {
    if (index.length !== this.rank) throw new ShapeError(`get: index of rank ${index.length} for shape ${formatShape(this.shape)}`);
    let off = 0;
    for (let i = 0; i < index.length; i++) {
      const d = this.shape[i]!;
      const ix = index[i]!;
      if (!Number.isInteger(ix) || ix < 0 || ix >= d)
        throw new ShapeError(`get: index [${index.join(',')}] out of range for shape ${formatShape(this.shape)}`);
      off = off * d + ix;
    }
    return this.data[off]!;
  }

  toArray(): NestedArray {
    const build = (dim: number, off: number): NestedArray => {
      if (dim === this.rank) return this.data[off]!;
      const d = this.shape[dim]!;
      const stride = sizeOf(this.shape.slice(dim + 1));
      const out: NestedArray[] = [];
      for (let i = 0; i < d; i++) out.push(build(dim + 1, off + i * stride));
      return out;
    };
    return build(0, 0);
  }

  toString(): string {
    return `Tensor(${this.dtype}, ${formatShape(this.shape)})`;
  }
}

// ------------------------------------------------------------------ creation helpers

export function zeros(shape: Shape, dtype: DType = 'float32'): Tensor {
  assertValidShape(shape, 'zeros');
  return new Tensor(allocate(dtype, sizeOf(shape)), shape);
}

export function full(shape: Shape, value: number, dtype: DType = 'float32'): Tensor {
  const t = zeros(shape, dtype);
  t.data.fill(value);
  return t;
}

export function ones(shape: Shape, dtype: DType = 'float32'): Tensor {
  return full(shape, 1, dtype);
}

export function zerosLike(t: Tensor): Tensor {
  return zeros(t.shape, t.dtype);
}

/** Values 0, 1, …, n-1 (as floats). */
export function arange(n: number, dtype: DType = 'float32'): Tensor {
  const t = zeros([n], dtype);
  for (let i = 0; i < n; i++) t.data[i] = i;
  return t;
}

/** Build a tensor from nested arrays (shape inferred) or from a flat array with an explicit shape. */
export function tensor(values: NestedArray | ArrayLike<number>, shape?: Shape, dtype: DType = 'float32'): Tensor {
  if (shape !== undefined) {
    const flat = typeof values === 'number' ? [values] : Array.from(values as ArrayLike<number>);
    const data = allocate(dtype, flat.length);
    data.set(flat);
    return new Tensor(data, shape);
  }
  const inferred: number[] = [];
  let probe: NestedArray | ArrayLike<number> = values;
  while (typeof probe !== 'number') {
    inferred.push(probe.length);
    if (probe.length === 0) break;
    probe = (probe as ArrayLike<NestedArray>)[0]!;
  }
  const flat: number[] = [];
  const walk = (v: NestedArray | ArrayLike<number>, dim: number): void => {
    if (typeof v === 'number') {
      if (dim !== inferred.length) throw new ShapeError(`tensor: ragged nested array (expected shape ${formatShape(inferred)})`);
      flat.push(v);
      return;
    }
    if (v.length !== inferred[dim]) throw new ShapeError(`tensor: ragged nested array (expected shape ${formatShape(inferred)})`);
    for (let i = 0; i < v.length; i++) walk((v as ArrayLike<NestedArray>)[i]!, dim + 1);
  };
  walk(values, 0);
  const data = allocate(dtype, flat.length);
  data.set(flat);
  return new Tensor(data, inferred);
}

export function scalar(value: number, dtype: DType = 'float32'): Tensor {
  return tensor([value], [], dtype);
}
