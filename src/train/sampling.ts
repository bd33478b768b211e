import type { Rng } from '../tensor/rng.js';

export interface SamplingOptions {
  /** Softmax temperature; 0 picks the most likely token (ties: lowest index). Default 1. */
  temperature?: number;
  /** Keep only the K most likely tokens (ties: lower index first); 0 or ≥ V keeps all. Default 0. */
  topK?: number;
}

/**
 * Draws token ids from rows of logits. Scratch buffers are sized once for the vocabulary, so drawing
 * allocates nothing per character.
 */
export class LogitSampler {
  readonly vocab: number;
  readonly temperature: number;
  readonly topK: number;
  private readonly weights: Float64Array; // [V] unnormalised probabilities
  private readonly order: Int32Array; // [V] token ids, most likely first (top-k only)

  constructor(vocab: number, options: SamplingOptions = {}) {
    const temperature = options.temperature ?? 1;
    const topK = options.topK ?? 0;
    if (!Number.isInteger(vocab) || vocab < 1) throw new RangeError(`LogitSampler: vocab must be a positive integer, got ${vocab}`);
    if (!(temperature >= 0) || !Number.isFinite(temperature))
      throw new RangeError(`LogitSampler: temperature must be a finite number ≥ 0, got ${temperature}`);
    if (!Number.isInteger(topK) || topK < 0) throw new RangeError(`LogitSampler: topK must be an integer ≥ 0, got ${topK}`);
    this.vocab = vocab;
    this.temperature = temperature;
    this.topK = topK === 0 || topK >= vocab ? vocab : topK;
    this.weights = new Float64Array(vocab);
    this.order = new Int32Array(vocab);
  }

  /** A token id drawn from softmax(logits[offset .. offset+V) / temperature), restricted to the top K. */
  draw(logits: ArrayLike<number>, offset: number, rng: Rng): number {
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
    for (let i = 0; i < V; i++) w[i] = Math.exp((logits[offset + i]! - max) / this.temperature);
    if (this.topK < V) {
      const order = this.order;
      for (let i = 0; i < V; i++) order[i] = i;
      // Rank by logit (not by weight: distinct logits can round to equal weights), ties by index,
      // then zero everything after the K-th.
      order.sort((a, b) => logits[offset + b]! - logits[offset + a]! || a - b);
      for (let r = this.topK; r < V; r++) w[order[r]!] = 0;
    }
    return rng.categorical(w, V);
  }
}
