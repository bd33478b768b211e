/** Storage types. float32 is the engine's default; float64 exists for gradient checks and references. */
export type DType = 'float32' | 'float64';
export type Storage = Float32Array | Float64Array;

export function allocate(dtype: DType, size: number): Storage {
  return dtype === 'float64' ? new Float64Array(size) : new Float32Array(size);
}

export function dtypeOf(data: Storage): DType {
  return data instanceof Float64Array ? 'float64' : 'float32';
}

/** The wider of two dtypes: mixing float32 and float64 computes in float64. */
export function promote(a: DType, b: DType): DType {
  return a === 'float64' || b === 'float64' ? 'float64' : 'float32';
}
