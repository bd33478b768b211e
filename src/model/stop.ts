/**
 * Stop texts for generation, matched on token ids as the tokens are drawn, without allocating.
 *
 * The matcher holds back the longest suffix of the drawn tokens that could still grow into a stop text
 * (a proper prefix of one), and releases everything before it: released tokens can be shown at once, held
 * ones only when the next tokens rule a stop out. When the drawn tokens end with a stop text, everything
 * before it is released and the stop text itself is dropped. Any stop occurrence ending at the newest token
 * starts inside the held suffix (its first |s| − 1 tokens were a proper prefix of s), so none is missed.
 */
export class StopMatcher {
  /** Whether the last push completed a stop text. */
  matched = false;
  private readonly stops: readonly Int32Array[];
  private readonly held: Int32Array; // [max stop length] tokens not yet released
  private heldLength = 0;
  private readonly out: Int32Array; // [max stop length] tokens released by the last push or flush

  constructor(stops: readonly Int32Array[]) {
    if (stops.length === 0 || stops.some((s) => s.length === 0))
      throw new RangeError('StopMatcher: every stop text needs at least one token');
    this.stops = stops.map((s) => s.slice());
    const longest = Math.max(...stops.map((s) => s.length));
    this.held = new Int32Array(longest);
    this.out = new Int32Array(longest);
  }

  /** Add the newest token; returns how many tokens it releases (read them with releasedAt). */
  push(token: number): number {
    const held = this.held;
    held[this.heldLength++] = token;
    // A completed stop text: the longest one (it starts earliest), all before it released.
    const stops = this.stops;
    let full = 0;
    for (let i = 0; i < stops.length; i++) {
      const s = stops[i]!;
      if (s.length > full && this.endsWith(s, s.length)) full = s.length;
    }
    if (full > 0) {
      this.matched = true;
      return this.releaseFront(this.heldLength - full, 0);
    }
    // Keep the longest suffix that is a proper prefix of some stop text.
    let keep = 0;
    for (let i = 0; i < stops.length; i++) {
      const s = stops[i]!;
      for (let k = Math.min(s.length - 1, this.heldLength); k > keep; k--) {
        if (this.endsWith(s, k)) {
          keep = k;
          break;
        }
      }
    }
    return this.releaseFront(this.heldLength - keep, keep);
  }

  /** Release whatever is held (the generation ended without a stop). */
  flush(): number {
    return this.releaseFront(this.heldLength, 0);
  }

  /** The i-th token released by the last push or flush. */
  releasedAt(i: number): number {
    return this.out[i]!;
  }

  /** Whether the held tokens end with the first k tokens of s. */
  private endsWith(s: Int32Array, k: number): boolean {
    const n = this.heldLength;
    if (k > n) return false;
    for (let j = 0; j < k; j++) if (this.held[n - k + j] !== s[j]) return false;
    return true;
  }

  /** Move held[0..count) to `out`, keep the last `keep` held tokens (dropping any in between). */
  private releaseFront(count: number, keep: number): number {
    const held = this.held;
    for (let j = 0; j < count; j++) this.out[j] = held[j]!;
    const from = this.heldLength - keep;
    for (let j = 0; j < keep; j++) held[j] = held[from + j]!;
    this.heldLength = keep;
    return count;
  }
}
