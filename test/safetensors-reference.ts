/**
 * Independent references for the safetensors tests, written from the format description and
 * IEEE 754 definitions rather than from src/io: a raw file builder, a naive reader (JSON.parse +
 * DataView, one element at a time) and arithmetic half/bfloat16 decoders.
 */

/** A file from a header (text is written verbatim, objects are JSON.stringified) and raw data bytes. */
export function rawFile(header: string | object, data: ArrayLike<number> = [], headerLength?: number | bigint): Uint8Array {
  const text = typeof header === 'string' ? header : JSON.stringify(header);
  const headerBytes = new TextEncoder().encode(text);
  const out = new Uint8Array(8 + headerBytes.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength ?? headerBytes.length), true);
  out.set(headerBytes, 8);
  out.set(Array.from(data), 8 + headerBytes.length);
  return out;
}

/** binary16 → number by the IEEE 754 formula. */
export function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * fraction * Math.pow(2, -24);
  if (exponent === 31) return fraction === 0 ? sign * Infinity : NaN;
  return sign * (1 + fraction / 1024) * Math.pow(2, exponent - 15);
}

/** bfloat16 → number by the same formula with float32's 8-bit exponent and 7 stored fraction bits. */
export function bfloatToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 7) & 0xff;
  const fraction = h & 0x7f;
  if (exponent === 0) return sign * fraction * Math.pow(2, -133); // 2^(1-127) / 2^7
  if (exponent === 255) return fraction === 0 ? sign * Infinity : NaN;
  return sign * (1 + fraction / 128) * Math.pow(2, exponent - 127);
}

export interface ReferenceTensor {
  dtype: string;
  shape: number[];
  values: Array<number | bigint>;
}

/** Naive reader: trusts the file (use only on valid files), reads element by element. */
export function referenceRead(bytes: Uint8Array): { header: Record<string, unknown>; tensors: Map<string, ReferenceTensor> } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, unknown>;
  const tensors = new Map<string, ReferenceTensor>();
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const {
      dtype,
      shape,
      data_offsets: [begin, end],
    } = info as { dtype: string; shape: number[]; data_offsets: [number, number] };
    const values: Array<number | bigint> = [];
    const size = { F64: 8, I64: 8, F32: 4, I32: 4, F16: 2, BF16: 2, U8: 1, I8: 1 }[dtype]!;
    for (let p = 8 + n + begin; p < 8 + n + end; p += size) {
      switch (dtype) {
        case 'F64':
          values.push(view.getFloat64(p, true));
          break;
        case 'F32':
          values.push(view.getFloat32(p, true));
          break;
        case 'I64':
          values.push(view.getBigInt64(p, true));
          break;
        case 'I32':
          values.push(view.getInt32(p, true));
          break;
        case 'F16':
          values.push(halfToNumber(view.getUint16(p, true)));
          break;
        case 'BF16':
          values.push(bfloatToNumber(view.getUint16(p, true)));
          break;
        case 'U8':
          values.push(view.getUint8(p));
          break;
        case 'I8':
          values.push(view.getInt8(p));
          break;
      }
    }
    tensors.set(name, { dtype, shape, values });
  }
  return { header, tensors };
}

/** The raw little-endian u16 words of a tensor's bytes in an encoded file (for rounding checks). */
export function rawHalfWords(bytes: Uint8Array, name: string): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, { data_offsets: [number, number] }>;
  const [begin, end] = header[name]!.data_offsets;
  const words: number[] = [];
  for (let p = 8 + n + begin; p < 8 + n + end; p += 2) words.push(view.getUint16(p, true));
  return words;
}
