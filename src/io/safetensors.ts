/**
 * safetensors checkpoints: the public API. Runtime-neutral (typed arrays, DataView, TextDecoder
 * only); file access lives in src/node/files.ts.
 *
 *   decodeSafetensors(bytes) → { tensors: Map<name, {dtype, shape, data}>, metadata }
 *   encodeSafetensors(tensors, metadata?) → bytes
 *   toTensor / toIntArray / fromTensor convert between file entries and engine values.
 */
import { Tensor } from '../tensor/tensor.js';
import {
  SafetensorsError,
  dataClassName,
  dataMatchesDType,
  describeType,
  elementCountUpTo,
  formatDims,
  isSafetensorsDType,
  quoteName,
  type SafetensorsTensor,
} from './safetensors-types.js';

export {
  SafetensorsError,
  type SafetensorsData,
  type SafetensorsDType,
  type SafetensorsFile,
  type SafetensorsTensor,
} from './safetensors-types.js';
export { decodeSafetensors, MAX_HEADER_BYTES } from './safetensors-decode.js';
export { encodeSafetensors } from './safetensors-encode.js';

/** Checks an entry's dtype, data class and length; returns how to name it in messages. */
function checkEntry(op: string, entry: SafetensorsTensor, name: string | undefined): string {
  const label = name === undefined ? 'tensor' : `tensor ${quoteName(name)}`;
  if (entry === null || typeof entry !== 'object')
    throw new SafetensorsError(`${op}: ${label}: expected {dtype, shape, data}, got ${describeType(entry)}`);
  const { dtype, shape, data } = entry;
  if (!isSafetensorsDType(dtype))
    throw new SafetensorsError(`${op}: ${label}: unsupported dtype ${JSON.stringify(dtype) ?? String(dtype)}`);
  if (!dataMatchesDType(data, dtype)) {
    throw new SafetensorsError(`${op}: ${label}: dtype ${dtype} needs its data in a ${dataClassName(dtype)}, got ${describeType(data)}`);
  }
  const validShape = Array.isArray(shape) && shape.every((d) => Number.isSafeInteger(d) && d >= 0);
  if (!validShape || elementCountUpTo(shape, Number.MAX_SAFE_INTEGER) !== data.length) {
    throw new SafetensorsError(
      `${op}: ${label}: shape ${Array.isArray(shape) ? formatDims(shape) : String(shape)} does not match its ${data.length} elements`,
    );
  }
  return label;
}

/**
 * A float tensor from a file entry (a copy): F32, F16 and BF16 give float32, F64 gives float64.
 * Integer dtypes are an error — token ids and counters are read with `toIntArray`.
 */
export function toTensor(entry: SafetensorsTensor, name?: string): Tensor {
  const label = checkEntry('toTensor', entry, name);
  switch (entry.dtype) {
    case 'F32':
    case 'F16':
    case 'BF16':
    case 'F64':
      return new Tensor((entry.data as Float32Array | Float64Array).slice(), entry.shape.slice());
    default:
      throw new SafetensorsError(`toTensor: ${label} has integer dtype ${entry.dtype}; read it with toIntArray`);
  }
}

/**
 * The values of an integer entry (I32, I64, U8, I8) as a fresh Int32Array in row-major order.
 * I64 values outside the int32 range are an error naming the element.
 */
export function toIntArray(entry: SafetensorsTensor, name?: string): Int32Array {
  const label = checkEntry('toIntArray', entry, name);
  switch (entry.dtype) {
    case 'I32':
      return (entry.data as Int32Array).slice();
    case 'U8':
    case 'I8':
      return Int32Array.from(entry.data as Uint8Array | Int8Array);
    case 'I64': {
      const data = entry.data as BigInt64Array;
      const out = new Int32Array(data.length);
      for (let i = 0; i < data.length; i++) {
        const v = data[i]!;
        if (v < -2147483648n || v > 2147483647n) {
          throw new SafetensorsError(
            `toIntArray: ${label}: I64 value ${v} at element ${i} (index [${unravel(i, entry.shape).join(',')}]) is outside the int32 range`,
          );
        }
        out[i] = Number(v);
      }
      return out;
    }
    default:
      throw new SafetensorsError(`toIntArray: ${label} has float dtype ${entry.dtype}; read it with toTensor`);
  }
}

/** A file entry from a tensor (a copy). Default dtype: F32 for float32 tensors, F64 for float64. */
export function fromTensor(t: Tensor, dtype?: 'F32' | 'F64'): SafetensorsTensor {
  if (!(t instanceof Tensor)) throw new SafetensorsError(`fromTensor: expected a Tensor, got ${describeType(t)}`);
  const target = dtype ?? (t.dtype === 'float64' ? 'F64' : 'F32');
  if (target !== 'F32' && target !== 'F64') {
    throw new SafetensorsError(`fromTensor: dtype must be 'F32' or 'F64', got ${JSON.stringify(target) ?? String(target)}`);
  }
  // Constructing from another typed array copies (and rounds float64 → float32 to nearest).
  const data = target === 'F64' ? new Float64Array(t.data) : new Float32Array(t.data);
  return { dtype: target, shape: t.shape.slice(), data };
}

/** Row-major multi-index of flat element `i`. */
function unravel(i: number, shape: readonly number[]): number[] {
  const index = new Array<number>(shape.length);
  for (let k = shape.length - 1; k >= 0; k--) {
    index[k] = i % shape[k]!;
    i = Math.floor(i / shape[k]!);
  }
  return index;
}
