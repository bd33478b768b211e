/** Types, the error class and the dtype table shared by the safetensors reader and writer. */

export type SafetensorsDType = 'F32' | 'F64' | 'I32' | 'I64' | 'F16' | 'BF16' | 'U8' | 'I8';
export type SafetensorsData = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Int8Array;

/**
 * One tensor as stored in a file. F16 and BF16 tensors hold their values widened to a Float32Array
 * (`dtype` keeps saying 'F16'/'BF16', and encoding rounds them back); I64 holds a BigInt64Array.
 */
export interface SafetensorsTensor {
  dtype: SafetensorsDType;
  shape: number[];
  data: SafetensorsData;
}

export interface SafetensorsFile {
  /** Tensors in header order. */
  tensors: Map<string, SafetensorsTensor>;
  /** The `__metadata__` string map (empty when the file has none). */
  metadata: Record<string, string>;
}

export class SafetensorsError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SafetensorsError';
  }
}

/** Bytes per element as stored in the file. */
export const DTYPE_BYTES: Readonly<Record<SafetensorsDType, number>> = Object.freeze({
  F64: 8,
  I64: 8,
  F32: 4,
  I32: 4,
  F16: 2,
  BF16: 2,
  U8: 1,
  I8: 1,
});

export function isSafetensorsDType(value: unknown): value is SafetensorsDType {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_BYTES, value);
}

/** The in-memory array class each dtype is held in (F16/BF16 are widened to float32). */
const DATA_CLASS: Readonly<Record<SafetensorsDType, new (length: number) => SafetensorsData>> = Object.freeze({
  F32: Float32Array,
  F16: Float32Array,
  BF16: Float32Array,
  F64: Float64Array,
  I32: Int32Array,
  I64: BigInt64Array,
  U8: Uint8Array,
  I8: Int8Array,
});

export function dataMatchesDType(data: unknown, dtype: SafetensorsDType): data is SafetensorsData {
  return data instanceof DATA_CLASS[dtype];
}

export function dataClassName(dtype: SafetensorsDType): string {
  return DATA_CLASS[dtype].name;
}

/** Name of a value's type for error messages ("Float64Array", "number", "null", …). */
export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'object';
  return typeof value;
}

/** `"name"` quoted for messages, shortened so a hostile 100 MB name cannot flood a log. */
export function quoteName(name: string): string {
  const quoted = JSON.stringify(name);
  return quoted.length <= 200 ? quoted : `${quoted.slice(0, 197)}…"`;
}

/** Number of elements of a shape, or `Infinity` once it exceeds `limit` (never overflows, never allocates). */
export function elementCountUpTo(shape: readonly number[], limit: number): number {
  for (const d of shape) if (d === 0) return 0;
  let count = 1;
  for (const d of shape) {
    count *= d;
    if (count > limit) return Infinity;
  }
  return count;
}

/** `[2,3]`-style shape for messages, shortened for absurd ranks. */
export function formatDims(shape: readonly unknown[]): string {
  const shown = shape.length <= 16 ? shape : [...shape.slice(0, 16), `… ${shape.length} dims`];
  return `[${shown.map((d) => (typeof d === 'number' ? String(d) : (JSON.stringify(d) ?? String(d)))).join(',')}]`;
}
