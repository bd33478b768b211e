/**
 * The byte-level encodings of the WebAssembly binary format (core spec §5.2 "Values"): LEB128
 * integers, IEEE 754 floats (little endian), names (UTF-8) and vectors (a u32 count, then the
 * items). Everything above (instructions, sections) is written through these few functions.
 */

/** Unsigned LEB128 of an integer in [0, 2³²): seven bits per byte, low first, high bit = "more follows". */
export function u32(value: number): number[] {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff)
    throw new RangeError(`wasm u32: ${value} is not an integer in [0, 2^32)`);
  const out: number[] = [];
  let v = value;
  for (;;) {
    const byte = v % 128; // not `& 0x7f`: v may exceed 2³¹ (JS bit operators are signed 32-bit)
    v = Math.floor(v / 128);
    if (v === 0) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

/**
 * Signed LEB128 of an integer in [−2³¹, 2³¹): like u32 on the two's complement, stopping once the
 * remaining bits are all copies of the sign bit already written (bit 6 of the last byte).
 */
export function s32(value: number): number[] {
  if (!Number.isInteger(value) || value < -0x8000_0000 || value > 0x7fff_ffff) {
    throw new RangeError(`wasm s32: ${value} is not an integer in [-2^31, 2^31)`);
  }
  const out: number[] = [];
  let v = value;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7; // arithmetic shift: keeps the sign
    const done = (v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

/** The 4 little-endian bytes of x rounded to float32 (f32.const, v128.const lanes). */
export function f32Bytes(x: number): number[] {
  const view = new DataView(new ArrayBuffer(4));
  view.setFloat32(0, x, true);
  return [view.getUint8(0), view.getUint8(1), view.getUint8(2), view.getUint8(3)];
}

/** The 4 little-endian bytes of an int32 bit pattern given as a signed or unsigned 32-bit integer. */
export function i32Bytes(bits: number): number[] {
  const v = bits >>> 0;
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
}

/** A name: its UTF-8 bytes as a vector. */
export function name(text: string): number[] {
  const bytes = Array.from(new TextEncoder().encode(text));
  return [...u32(bytes.length), ...bytes];
}

/** Appends `bytes` to `out` element by element (spread arguments overflow the stack for big bodies). */
export function append(out: number[], bytes: readonly number[]): number[] {
  for (let i = 0; i < bytes.length; i++) out.push(bytes[i]!);
  return out;
}

/** A vector: the item count, then the already-encoded items. */
export function vector(items: readonly (readonly number[])[]): number[] {
  const out = u32(items.length);
  for (const item of items) append(out, item);
  return out;
}
