/**
 * The baseline the probe is compared against: character n-gram counts (n = 1..N over code points),
 * hashed into a fixed number of buckets (FNV-1a, 32-bit, with n mixed in so "a" and "aa" land apart),
 * each count c entered as log(1 + c) so one very long run of a character does not dominate. The result
 * is a sparse matrix the same probe code fits after (implicit) standardisation.
 */
import { SparseMatrix } from './design.js';

export interface NgramOptions {
  /** Largest n (default 3): n-grams of length 1..maxN are counted. */
  maxN?: number;
  /** Number of hash buckets = columns (default 2^16). */
  buckets?: number;
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

function fnvStep(h: number, v: number): number {
  // One FNV-1a round per byte of the 21-bit code point.
  h = Math.imul(h ^ (v & 0xff), FNV_PRIME);
  h = Math.imul(h ^ ((v >>> 8) & 0xff), FNV_PRIME);
  return Math.imul(h ^ (v >>> 16), FNV_PRIME);
}

/** The bucket of the n-gram cps[start..start+n). */
export function ngramBucket(cps: ArrayLike<number>, start: number, n: number, buckets: number): number {
  let h = fnvStep(FNV_OFFSET, n);
  for (let k = 0; k < n; k++) h = fnvStep(h, cps[start + k]!);
  return (h >>> 0) % buckets;
}

/** One row per text of log(1 + count) of its hashed character n-grams, n = 1..maxN. */
export function ngramMatrix(texts: readonly string[], options: NgramOptions = {}): SparseMatrix {
  const maxN = options.maxN ?? 3;
  const buckets = options.buckets ?? 1 << 16;
  if (!Number.isInteger(maxN) || maxN < 1 || maxN > 16)
    throw new RangeError(`ngramMatrix: maxN must be an integer in [1, 16], got ${maxN}`);
  if (!Number.isInteger(buckets) || buckets < 1 || buckets > 1 << 26)
    throw new RangeError(`ngramMatrix: buckets must be an integer in [1, 2^26], got ${buckets}`);
  const rowStart = new Int32Array(texts.length + 1);
  const cols: number[] = [];
  const vals: number[] = [];
  const counts = new Map<number, number>();
  texts.forEach((text, i) => {
    const cps = Array.from(text, (ch) => ch.codePointAt(0)!);
    counts.clear();
    for (let n = 1; n <= maxN; n++) {
      for (let s = 0; s + n <= cps.length; s++) {
        const b = ngramBucket(cps, s, n, buckets);
        counts.set(b, (counts.get(b) ?? 0) + 1);
      }
    }
    const keys = [...counts.keys()].sort((a, b) => a - b);
    for (const k of keys) {
      cols.push(k);
      vals.push(Math.log1p(counts.get(k)!));
    }
    rowStart[i + 1] = cols.length;
  });
  return new SparseMatrix(rowStart, Int32Array.from(cols), Float32Array.from(vals), texts.length, buckets);
}

/**
 * For each wanted bucket, the n-gram of `texts` that falls into it most often — a readable name for a
 * hashed column (collisions make it the dominant n-gram, not the only one).
 */
export function dominantNgrams(texts: readonly string[], wanted: Iterable<number>, options: NgramOptions = {}): Map<number, string> {
  const maxN = options.maxN ?? 3;
  const buckets = options.buckets ?? 1 << 16;
  const want = new Set(wanted);
  const counts = new Map<number, Map<string, number>>();
  for (const text of texts) {
    const chars = Array.from(text);
    const cps = chars.map((ch) => ch.codePointAt(0)!);
    for (let n = 1; n <= maxN; n++) {
      for (let s = 0; s + n <= cps.length; s++) {
        const b = ngramBucket(cps, s, n, buckets);
        if (!want.has(b)) continue;
        const gram = chars.slice(s, s + n).join('');
        let m = counts.get(b);
        if (!m) counts.set(b, (m = new Map()));
        m.set(gram, (m.get(gram) ?? 0) + 1);
      }
    }
  }
  const out = new Map<number, string>();
  for (const [b, m] of counts) {
    let best = '';
    let bestCount = -1;
    for (const [gram, c] of m) if (c > bestCount || (c === bestCount && gram < best)) [best, bestCount] = [gram, c];
    out.set(b, best);
  }
  return out;
}
