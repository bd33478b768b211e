import type { DType } from '../tensor/dtype.js';
import type { Rng } from '../tensor/rng.js';
import { formatShape, ShapeError } from '../tensor/shape.js';
import { zeros, type Tensor } from '../tensor/tensor.js';
import { mul } from '../autograd/ops/elementwise.js';
import type { Tape } from '../autograd/tape.js';
import type { Var } from '../autograd/var.js';

/**
 * The paper's regularisation for one truncated-BPTT window (docs/training.md, Gal & Ghahramani 2016;
 * Krause et al. 2016): masks drawn once per window and used at every one of its steps. Inverted
 * dropout: a kept element is 1/(1 − p), a dropped one 0.
 */
export interface WindowDropout {
  /** p_e: drop whole character types of the embedding, per stream. */
  embed: number;
  /** p_h: variational dropout of every layer's hidden state, per stream and unit. */
  hidden: number;
}

/** The masks of one window; null where that dropout is off (p = 0). */
export interface WindowMasks {
  /** E_mask [B,V]: stream b reads the embedding of token v as E_mask[b,v]·embed.weight[v]. */
  embed: Tensor | null;
  /** M_l [B,H] per layer l: the recurrence and the layer's output read M_l ⊙ h_t. */
  hidden: Tensor[] | null;
}

/** The sizes the masks of a model take. */
export interface WindowMaskSizes {
  batch: number;
  vocab: number;
  hidden: number;
  layers: number;
  dtype?: DType;
}

/** Throws unless both probabilities are in [0, 1); `where` names the caller. */
export function checkWindowDropout(p: WindowDropout, where: string): void {
  for (const [name, v] of [
    ['embedDropout', p.embed],
    ['hiddenDropout', p.hidden],
  ] as const) {
    if (!(v >= 0 && v < 1)) throw new RangeError(`${where}: ${name} must be in [0, 1), got ${v}`);
  }
}

/** Masks of the right shapes (contents undefined until `drawWindowMasks`), or null when both p are 0. */
export function allocateWindowMasks(sizes: WindowMaskSizes, p: WindowDropout): WindowMasks | null {
  if (p.embed === 0 && p.hidden === 0) return null;
  const { batch: B, vocab: V, hidden: H, layers: L } = sizes;
  const dtype = sizes.dtype ?? 'float32';
  return {
    embed: p.embed > 0 ? zeros([B, V], dtype) : null,
    hidden: p.hidden > 0 ? Array.from({ length: L }, () => zeros([B, H], dtype)) : null,
  };
}

/**
 * Draw a window's masks into `masks` (in place: a trainer keeps one set for the whole run), in the fixed
 * order of docs/training.md — the embedding mask b-major then v, then the hidden masks of layers
 * 0..L−1, each b-major then h — one `rng.next()` per element, dropped when it is below p. So a run
 * resumed with the generator's saved state draws the same masks.
 */
export function drawWindowMasks(rng: Rng, masks: WindowMasks, p: WindowDropout): void {
  if (masks.embed) fillMask(rng, masks.embed.data, p.embed);
  if (masks.hidden) for (const m of masks.hidden) fillMask(rng, m.data, p.hidden);
}

function fillMask(rng: Rng, data: Tensor['data'], p: number): void {
  const keep = 1 / (1 - p);
  for (let k = 0; k < data.length; k++) data[k] = rng.next() < p ? 0 : keep;
}

/**
 * Embedding dropout on looked-up embeddings: position (t, b) of xs [T,B,E], which holds the embedding
 * of token v = tokens[t·B + b], is scaled by E_mask[b, v]. Written as a product with a constant [T,B,1]
 * (the broadcasting `mul`), so the gradient reaching embed.weight[v] is Σ E_mask[b,v]·∂L/∂xs[t,b] over
 * the positions that read v.
 */
export function applyEmbeddingMask(tape: Tape, xs: Var, tokens: Int32Array, mask: Tensor): Var {
  const [T, B] = xs.shape as [number, number, number];
  const V = mask.shape[1]!;
  if (mask.shape.length !== 2 || mask.shape[0] !== B)
    throw new ShapeError(`embedding dropout: the mask must be [B,V] with B=${B}, got ${formatShape(mask.shape)}`);
  const scale = zeros([T, B, 1], xs.value.dtype); // [T,B,1]
  const md = mask.data;
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < B; b++) scale.data[t * B + b] = md[b * V + tokens[t * B + b]!]!;
  }
  return mul(tape, xs, tape.constant(scale));
}
