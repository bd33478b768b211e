/** A run of consecutive characters and the bits of surprise they cost. */
export interface SurprisingSpan {
  /** First character (token index), inclusive. */
  start: number;
  /** One past the last character. */
  end: number;
  /** Total surprise of the span, in bits. */
  bits: number;
}

/**
 * The `count` most surprising runs of `width` consecutive characters (fewer if the text is short), most
 * surprising first, none overlapping another: greedily the window of largest total bits, then the largest
 * among those that do not overlap it, and so on (ties: the earlier window). bits [N] is
 * TextModel.score's per-character surprise.
 */
export function surprisingSpans(bits: ArrayLike<number>, options: { width?: number; count?: number } = {}): SurprisingSpan[] {
  const n = bits.length;
  const width = Math.min(options.width ?? 20, n);
  const count = options.count ?? 5;
  if (!Number.isInteger(width) || width < 0)
    throw new RangeError(`surprisingSpans: width must be a positive integer, got ${options.width}`);
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`surprisingSpans: count must be an integer ≥ 0, got ${count}`);
  if (width === 0 || count === 0) return [];
  const prefix = new Float64Array(n + 1); // prefix[i] = Σ bits[0..i)
  for (let i = 0; i < n; i++) prefix[i + 1] = prefix[i]! + bits[i]!;
  const windows = n - width + 1;
  const order = Array.from({ length: windows }, (_, s) => s).sort(
    (a, b) => prefix[b + width]! - prefix[b]! - (prefix[a + width]! - prefix[a]!) || a - b,
  );
  const taken: SurprisingSpan[] = [];
  for (const s of order) {
    if (taken.length === count) break;
    if (taken.some((t) => s < t.end && s + width > t.start)) continue;
    taken.push({ start: s, end: s + width, bits: prefix[s + width]! - prefix[s]! });
  }
  return taken;
}
