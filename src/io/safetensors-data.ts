/**
 * Element data ⇄ little-endian file bytes.
 *
 * Reads always produce a fresh array (never a view of the file buffer) and work at any byte offset,
 * aligned or not. On a little-endian host (every mainstream one) the bytes are copied into a new,
 * aligned buffer and viewed as the typed array; on a big-endian host each element goes through a
 * DataView with littleEndian=true. The host check is a parameter so tests exercise both paths.
 */
import { floatBitsToBfloatBits, floatBitsToHalfBits, halfBitsToFloatBits, bfloatBitsToFloatBits } from './float16.js';
import { DTYPE_BYTES, type SafetensorsData, type SafetensorsDType } from './safetensors-types.js';

export const HOST_IS_LITTLE_ENDIAN: boolean = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Decode `count` elements of `dtype` starting at `bytes[start]`. The caller has bounds-checked the range. */
export function readElements(
  bytes: Uint8Array,
  start: number,
  count: number,
  dtype: SafetensorsDType,
  hostIsLittleEndian: boolean = HOST_IS_LITTLE_ENDIAN,
): SafetensorsData {
  if (count === 0) return emptyArray(dtype);
  if (dtype === 'F16' || dtype === 'BF16') return readHalf(bytes, start, count, dtype);
  if (dtype === 'U8' || dtype === 'I8') {
    // Explicit allocation: `slice` on a Node Buffer would return a view, not a copy.
    const out = dtype === 'U8' ? new Uint8Array(count) : new Int8Array(count);
    new Uint8Array(out.buffer).set(bytes.subarray(start, start + count));
    return out;
  }
  const byteLength = count * DTYPE_BYTES[dtype];
  if (hostIsLittleEndian) {
    // A fresh, zero-offset buffer: aligned whatever `start` was.
    const copy = new Uint8Array(byteLength);
    copy.set(bytes.subarray(start, start + byteLength));
    switch (dtype) {
      case 'F32':
        return new Float32Array(copy.buffer);
      case 'F64':
        return new Float64Array(copy.buffer);
      case 'I32':
        return new Int32Array(copy.buffer);
      case 'I64':
        return new BigInt64Array(copy.buffer);
    }
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset + start, byteLength);
  switch (dtype) {
    // Floats move as their bit patterns: a float read into a JS number and stored back may have its
    // NaN payload quieted (signalling → quiet), and a file's bytes must survive a round trip exactly.
    case 'F32': {
      const out = new Float32Array(count);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) bits[i] = view.getUint32(4 * i, true);
      return out;
    }
    case 'F64': {
      const out = new Float64Array(count);
      const bits = new BigUint64Array(out.buffer);
      for (let i = 0; i < count; i++) bits[i] = view.getBigUint64(8 * i, true);
      return out;
    }
    case 'I32': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(4 * i, true);
      return out;
    }
    case 'I64': {
      const out = new BigInt64Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getBigInt64(8 * i, true);
      return out;
    }
  }
}

function emptyArray(dtype: SafetensorsDType): SafetensorsData {
  switch (dtype) {
    case 'F32':
    case 'F16':
    case 'BF16':
      return new Float32Array(0);
    case 'F64':
      return new Float64Array(0);
    case 'I32':
      return new Int32Array(0);
    case 'I64':
      return new BigInt64Array(0);
    case 'U8':
      return new Uint8Array(0);
    case 'I8':
      return new Int8Array(0);
  }
}

/** F16/BF16 → Float32Array. Bytes are assembled explicitly, so this is host-independent. */
function readHalf(bytes: Uint8Array, start: number, count: number, dtype: 'F16' | 'BF16'): Float32Array {
  const out = new Float32Array(count);
  const outBits = new Uint32Array(out.buffer); // same memory, native order on both views
  const widen = dtype === 'F16' ? halfBitsToFloatBits : bfloatBitsToFloatBits;
  for (let i = 0, p = start; i < count; i++, p += 2) outBits[i] = widen(bytes[p]! | (bytes[p + 1]! << 8));
  return out;
}

/** Write `data` as little-endian `dtype` elements at `out[start]`. The caller sized `out` and checked `data`'s class. */
export function writeElements(
  out: Uint8Array,
  start: number,
  data: SafetensorsData,
  dtype: SafetensorsDType,
  hostIsLittleEndian: boolean = HOST_IS_LITTLE_ENDIAN,
): void {
  if (dtype === 'F16' || dtype === 'BF16') {
    const source = data as Float32Array;
    const bits = new Uint32Array(source.buffer, source.byteOffset, source.length);
    const narrow = dtype === 'F16' ? floatBitsToHalfBits : floatBitsToBfloatBits;
    for (let i = 0, p = start; i < bits.length; i++, p += 2) {
      const h = narrow(bits[i]!);
      out[p] = h & 0xff;
      out[p + 1] = h >>> 8;
    }
    return;
  }
  if (hostIsLittleEndian || DTYPE_BYTES[dtype] === 1) {
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), start);
    return;
  }
  const view = new DataView(out.buffer, out.byteOffset + start, data.byteLength);
  const n = data.length;
  switch (dtype) {
    case 'F32': {
      const bits = new Uint32Array(data.buffer, data.byteOffset, n); // bit patterns, NaN payloads included
      for (let i = 0; i < n; i++) view.setUint32(4 * i, bits[i]!, true);
      return;
    }
    case 'F64': {
      const bits = new BigUint64Array(data.buffer, data.byteOffset, n);
      for (let i = 0; i < n; i++) view.setBigUint64(8 * i, bits[i]!, true);
      return;
    }
    case 'I32':
      for (let i = 0; i < n; i++) view.setInt32(4 * i, (data as Int32Array)[i]!, true);
      return;
    case 'I64':
      for (let i = 0; i < n; i++) view.setBigInt64(8 * i, (data as BigInt64Array)[i]!, true);
      return;
  }
}
