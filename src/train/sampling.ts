import type { Rng } from '../tensor/rng.js';

export interface SamplingOptions {
  /** Softmax temperature; 0 picks the most likely token (ties: lowest index). Default 1. */
  temperature?: number;
  /** Keep only the K most likely tokens (ties: lower index first); 0 or ≥ V keeps all. Default 0. */
  topK?: number;
  /**
   * Nucleus sampling (Holtzman et al. 2019): keep the smallest set of most likely tokens whose
   * probability (after temperature and top-K) reaches P, at least one token. In (0, 1]; 1 keeps all
   * (default).
   */
  topP?: number;
}

/**
 * Draws token ids from rows of logits: softmax(logits / temperature), restricted to the top K, then to
 * the top-P nucleus of what is left, renormalised. Scratch buffers are sized once for the vocabulary and
 * the ranking is an in-place heap (no sort with a comparator closure), so drawing allocates nothing per
 * character: `drawWith` takes its uniform number from an array (a batch from Rng.fillUniform), since a
 * number returned by a call V8 does not inline (Rng.next's two nextUint32 calls, past the inlining
 * budget of a function this size) or passed to one is a heap object.
 */
export class LogitSampler {
  readonly vocab: number;
  readonly temperature: number;
  readonly topK: number;
  readonly topP: number;
  private readonly weights: Float64Array; // [V] unnormalised probabilities
  private readonly kept: Float64Array; // [V] the weights of the kept tokens, 0 elsewhere
  private readonly heap: Int32Array; // [V] token ids, a max-heap by (logit, −index), then the ranking
  private readonly uniform = new Float64Array(1); // draw's one uniform number

  constructor(vocab: number, options: SamplingOptions = {}) {
    const temperature = options.temperature ?? 1;
    const topK = options.topK ?? 0;
    const topP = options.topP ?? 1;
    if (!Number.isInteger(vocab) || vocab < 1) throw new RangeError(`LogitSampler: vocab must be a positive integer, got ${vocab}`);
    if (!(temperature >= 0) || !Number.isFinite(temperature))
      throw new RangeError(`LogitSampler: temperature must be a finite number ≥ 0, got ${temperature}`);
    if (!Number.isInteger(topK) || topK < 0) throw new RangeError(`LogitSampler: topK must be an integer ≥ 0, got ${topK}`);
    if (!(topP > 0 && topP <= 1)) throw new RangeError(`LogitSampler: topP must be in (0, 1], got ${topP}`);
    this.vocab = vocab;
    this.temperature = temperature;
    this.topK = topK === 0 || topK >= vocab ? vocab : topK;
    this.topP = topP;
    this.weights = new Float64Array(vocab);
    this.kept = new Float64Array(vocab);
    this.heap = new Int32Array(vocab);
  }

  /**
   * A token id drawn from softmax(logits[offset .. offset+V) / temperature), restricted to the top K and
   * the top-P nucleus, with one number from `rng` (also when the choice is the most likely token).
   */
  draw(logits: ArrayLike<number>, offset: number, rng: Rng): number {
    this.uniform[0] = rng.next();
    return this.drawWith(logits, offset, this.uniform, 0);
  }

  /**
   * draw with u = uniforms[at] ∈ [0, 1) as its random number: the same token as draw with an rng whose
   * next() is u. Temperature 0 and top-K 1 ignore u.
   */
  drawWith(logits: ArrayLike<number>, offset: number, uniforms: Float64Array, at: number): number {
    const V = this.vocab;
    if (offset < 0 || offset + V > logits.length) {
      throw new RangeError(`LogitSampler.draw: row at offset ${offset} of length ${V} is outside logits of length ${logits.length}`);
    }
    let best = 0;
    for (let i = 1; i < V; i++) if (logits[offset + i]! > logits[offset + best]!) best = i;
    const max = logits[offset + best]!;
    if (!Number.isFinite(max)) throw new RangeError(`LogitSampler.draw: logits hold a non-finite value (${max})`);
    if (this.temperature === 0 || this.topK === 1) return best;
    const w = this.weights;
    let total = 0;
    for (let i = 0; i < V; i++) total += w[i] = Math.exp((logits[offset + i]! - max) / this.temperature);
    if (this.topK === V && this.topP === 1) return categorical(w, V, uniforms, at);
    // Rank by logit (not by weight: distinct logits can round to equal weights), ties by index: pop
    // the heap's maximum until K tokens are out, or (top-P alone) until their mass reaches P.
    const heap = this.heap;
    for (let i = 0; i < V; i++) heap[i] = i;
    for (let i = (V >> 1) - 1; i >= 0; i--) siftDown(heap, i, V, logits, offset);
    let size = V;
    let mass = 0;
    const target = this.topK === V ? this.topP * total : Infinity; // with top-K, P applies to the K kept
    let ranked = 0; // heap[V − ranked ..) holds the ranking, most likely first from the end
    while (ranked < this.topK && mass < target) {
      const top = heap[0]!;
      mass += w[top]!;
      size--;
      heap[0] = heap[size]!;
      heap[size] = top;
      siftDown(heap, 0, size, logits, offset);
      ranked++;
    }
    // heap[V−1], heap[V−2], … are the ranked tokens, most likely first.
    let keep = ranked;
    if (this.topK < V && this.topP < 1) {
      const nucleus = this.topP * mass;
      let acc = 0;
      keep = 0;
      while (keep < ranked && acc < nucleus) acc += w[heap[V - 1 - keep++]!]!;
    }
    const kept = this.kept;
    kept.fill(0);
    for (let r = 0; r < keep; r++) {
      const t = heap[V - 1 - r]!;
      kept[t] = w[t]!;
    }
    return categorical(kept, V, uniforms, at);
  }
}

/**
 * Rng.categorical with u = uniforms[at] for its next(): the index where u·total falls in the running sum
 * of p[0..n) (total = that sum, in index order), the last positive weight if rounding runs past the end.
 * (The number is read here, not passed in: see LogitSampler.)
 */
function categorical(p: Float64Array, n: number, uniforms: Float64Array, at: number): number {
  let total = 0;
  for (let i = 0; i < n; i++) total += p[i]!;
  if (!(total > 0) || !Number.isFinite(total)) throw new RangeError('LogitSampler: the kept weights must have a positive finite sum');
  let r = uniforms[at]! * total;
  for (let i = 0; i < n; i++) {
    r -= p[i]!;
    if (r < 0) return i;
  }
  for (let i = n - 1; i >= 0; i--) if (p[i]! > 0) return i;
  return n - 1;
}

/** Restore the max-heap property below `i` in heap[0..size): larger logit first, then lower index. */
function siftDown(heap: Int32Array, i: number, size: number, logits: ArrayLike<number>, offset: number): void {
  const item = heap[i]!;
  const value = logits[offset + item]!;
  for (;;) {
    let child = 2 * i + 1;
    if (child >= size) break;
    const right = child + 1;
    if (right < size && before(heap[right]!, heap[child]!, logits, offset)) child = right;
    const c = heap[child]!;
    const cv = logits[offset + c]!;
    if (!(cv > value || (cv === value && c < item))) break;
    heap[i] = c;
    i = child;
  }
  heap[i] = item;
}

/** Whether token a ranks before token b: a larger logit, or the same logit and a lower index. */
function before(a: number, b: number, logits: ArrayLike<number>, offset: number): boolean {
  const va = logits[offset + a]!;
  const vb = logits[offset + b]!;
  return va > vb || (va === vb && a < b);
}
