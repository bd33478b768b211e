/**
 * F16 and BF16 through the public API, against the arithmetic IEEE 754 reference in
 * safetensors-reference.ts: exhaustive decoding of all 65,536 bit patterns, and round-to-nearest-even
 * encoding checked at every midpoint between adjacent representable values plus random float32s.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeSafetensors, encodeSafetensors } from '../src/io/safetensors.js';
import { bfloatToNumber, halfToNumber, rawFile, rawHalfWords } from './safetensors-reference.js';

type HalfKind = 'F16' | 'BF16';
const REFERENCE: Record<HalfKind, (h: number) => number> = { F16: halfToNumber, BF16: bfloatToNumber };

/** A file holding the given 16-bit words as one tensor, built without src/io. */
function fileOfWords(kind: HalfKind, words: number[]): Uint8Array {
  const data = new Uint8Array(words.length * 2);
  words.forEach((w, i) => {
    data[2 * i] = w & 0xff;
    data[2 * i + 1] = w >>> 8;
  });
  const header = JSON.stringify({ h: { dtype: kind, shape: [words.length], data_offsets: [0, data.length] } });
  return rawFile(header, data);
}

function decodeWords(kind: HalfKind, words: number[]): Float32Array {
  const t = decodeSafetensors(fileOfWords(kind, words)).tensors.get('h')!;
  expect(t.dtype).toBe(kind);
  return t.data as Float32Array;
}

function encodeValues(kind: HalfKind, values: ArrayLike<number>): number[] {
  const bytes = encodeSafetensors({ h: { dtype: kind, shape: [values.length], data: Float32Array.from(values) } });
  return rawHalfWords(bytes, 'h');
}

const ALL_WORDS = Array.from({ length: 0x10000 }, (_, i) => i);

describe.each(['F16', 'BF16'] as const)('%s', (kind) => {
  const ref = REFERENCE[kind];

  it('decodes all 65,536 bit patterns exactly as the IEEE formula says', () => {
    const decoded = decodeWords(kind, ALL_WORDS);
    const mismatches = ALL_WORDS.filter((w) => {
      const expected = ref(w);
      return Number.isNaN(expected) ? !Number.isNaN(decoded[w]) : !Object.is(decoded[w], expected);
    });
    expect(mismatches.map((w) => `0x${w.toString(16)} → ${decoded[w]}, want ${ref(w)}`).slice(0, 5)).toEqual([]);
  });

  it('round-trips every non-NaN pattern, and keeps NaN a NaN', () => {
    const decoded = decodeWords(kind, ALL_WORDS);
    const encoded = encodeValues(kind, decoded);
    const mismatches = ALL_WORDS.filter((w) => (Number.isNaN(ref(w)) ? !Number.isNaN(ref(encoded[w]!)) : encoded[w] !== w));
    expect(mismatches.map((w) => `0x${w.toString(16)} → 0x${encoded[w]!.toString(16)}`).slice(0, 5)).toEqual([]);
  });

  it('rounds every midpoint between neighbours to the even one, and just-off-midpoints to the nearer', () => {
    const finitePositive = ALL_WORDS.filter((w) => w < 0x8000 && Number.isFinite(ref(w)));
    const inputs: number[] = [];
    const expected: number[] = [];
    for (const w of finitePositive) {
      const next = w + 1;
      if (!Number.isFinite(ref(next))) continue; // the top of the range is covered by the overflow test
      const mid = (ref(w) + ref(next)) / 2; // exact in float32: one more significant bit than the half format
      if (Math.fround(mid) !== mid) throw new Error(`midpoint ${mid} is not a float32`);
      const below = Math.fround(mid) - ulpBelow(mid);
      const above = Math.fround(mid) + ulpAbove(mid);
      for (const sign of [1, -1]) {
        const s = sign < 0 ? 0x8000 : 0;
        inputs.push(sign * mid, sign * below, sign * above);
        expected.push(s | (w % 2 === 0 ? w : next), s | w, s | next);
      }
    }
    const encoded = encodeValues(kind, inputs);
    const mismatches = encoded.flatMap((h, i) =>
      h === expected[i] ? [] : [`${inputs[i]} → 0x${h.toString(16)}, want 0x${expected[i]!.toString(16)}`],
    );
    expect(mismatches.slice(0, 5)).toEqual([]);
  });

  it('random float32 values round to a nearest representable value (ties to even)', () => {
    fc.assert(
      fc.property(fc.float({ noNaN: true }), (x) => {
        const [h] = encodeValues(kind, [x]) as [number];
        const got = ref(h);
        if (!Number.isFinite(got)) {
          // Overflow: only when |x| is at least halfway past the largest finite value.
          const max = ref(kind === 'F16' ? 0x7bff : 0x7f7f);
          const ulp = max - ref(kind === 'F16' ? 0x7bfe : 0x7f7e);
          expect(Math.abs(x)).toBeGreaterThanOrEqual(max + ulp / 2);
          expect(got).toBe(x > 0 ? Infinity : -Infinity);
          return;
        }
        expect(Math.sign(got) === -Math.sign(x) && got !== 0).toBe(false);
        const sign = h & 0x8000;
        const magnitude = h & 0x7fff;
        const neighbours = [magnitude - 1, magnitude + 1].filter((m) => m >= 0).map((m) => sign | m);
        const err = Math.abs(x - got);
        for (const other of neighbours.map(ref).filter(Number.isFinite)) {
          const otherErr = Math.abs(x - other);
          expect(err).toBeLessThanOrEqual(otherErr);
          if (err === otherErr && x !== got) expect(h % 2, `tie at ${x} must go to the even word`).toBe(0);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('known bit patterns', () => {
  it('F16', () => {
    const words = [0x3c00, 0xc000, 0x0001, 0x03ff, 0x0400, 0x7bff, 0x7c00, 0xfc00, 0x8000, 0x0000, 0x3555];
    const want = [1, -2, 2 ** -24, 1023 * 2 ** -24, 2 ** -14, 65504, Infinity, -Infinity, -0, 0, 0.333251953125];
    expect(Array.from(decodeWords('F16', words))).toEqual(want);
    expect(decodeWords('F16', [0x7e00, 0x7c01, 0xfe00])[0]).toBeNaN();
  });

  it('BF16', () => {
    const words = [0x3f80, 0xc000, 0x0001, 0x7f7f, 0x7f80, 0xff80, 0x8000, 0x4049];
    const want = [1, -2, 2 ** -133, (2 - 2 ** -7) * 2 ** 127, Infinity, -Infinity, -0, 3.140625];
    expect(Array.from(decodeWords('BF16', words))).toEqual(want);
    expect(decodeWords('BF16', [0x7fc0])[0]).toBeNaN();
  });

  it('F16 encoding edge cases: overflow to Inf, underflow ties to zero, signed zero, NaN', () => {
    const values = [65519.99, 65520, 1e10, -1e10, 2 ** -25, Math.fround(2 ** -25 * 1.0000001), -0, 2 ** -24 * 1.5, 1 / 3];
    expect(encodeValues('F16', values)).toEqual([0x7bff, 0x7c00, 0x7c00, 0xfc00, 0x0000, 0x0001, 0x8000, 0x0002, 0x3555]);
    expect(halfToNumber(encodeValues('F16', [NaN])[0]!)).toBeNaN();
    expect(bfloatToNumber(encodeValues('BF16', [NaN])[0]!)).toBeNaN();
    expect(encodeValues('BF16', [1 + 2 ** -8, 1 + 3 * 2 ** -8, -Infinity])).toEqual([0x3f80, 0x3f82, 0xff80]);
  });
});

/** Distance to the next float32 below / above a positive float32 (same binade unless at a power of two). */
function ulpBelow(x: number): number {
  const b = new DataView(new ArrayBuffer(4));
  b.setFloat32(0, x);
  b.setUint32(0, b.getUint32(0) - 1);
  return x - b.getFloat32(0);
}
function ulpAbove(x: number): number {
  const b = new DataView(new ArrayBuffer(4));
  b.setFloat32(0, x);
  b.setUint32(0, b.getUint32(0) + 1);
  return b.getFloat32(0) - x;
}
