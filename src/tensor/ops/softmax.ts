import { allocate, type Storage } from '../dtype.js';
import { formatShape, ShapeError, sizeOf, type Shape } from '../shape.js';
import { Tensor, scalar } from '../tensor.js';

/**
 * Softmax, log-softmax and the fused softmax cross-entropy, all over the LAST axis, all computed
 * through the row's log-sum-exp with the row maximum subtracted first, so that logits of ±1e4
 * neither overflow exp nor lose the answer (exp(x − max) ≤ 1, and the max term contributes exactly 1).
 * Row sums run in float64 locals whatever the storage dtype.
 */

function lastAxis(shape: Shape, op: string): { rows: number; width: number } {
  if (shape.length < 1) throw new ShapeError(`${op}: needs rank ≥ 1 (softmax is over the last axis), got shape ${formatShape(shape)}`);
  const width = shape[shape.length - 1]!;
  if (width === 0) throw new ShapeError(`${op}: the last axis of shape ${formatShape(shape)} is empty (softmax of nothing)`);
  return { rows: sizeOf(shape) / width, width };
}

/** log Σ_j exp(x[off + j]) over j < width, stably. */
function rowLogSumExp(x: Storage, off: number, width: number): number {
  let max = -Infinity;
  for (let j = 0; j < width; j++) if (x[off + j]! > max) max = x[off + j]!;
  // An all −∞ row has no mass: its logsumexp is −∞ (and its softmax undefined, NaN, as in PyTorch).
  if (max === -Infinity) return -Infinity;
  let sum = 0;
  for (let j = 0; j < width; j++) sum += Math.exp(x[off + j]! - max);
  return max + Math.log(sum);
}

/** out[r, :] = x[r, :] − logsumexp(x[r, :]) for every row. */
export function logSoftmaxInto(
  x: Storage, // [R,W]
  rows: number,
  width: number,
  out: Storage, // [R,W]
): void {
  for (let r = 0, off = 0; r < rows; r++, off += width) {
    const lse = rowLogSumExp(x, off, width);
    for (let j = 0; j < width; j++) out[off + j] = x[off + j]! - lse;
  }
}

/** out[r, :] = exp(x[r, :] − max) / Σ exp(x[r, :] − max) for every row. */
export function softmaxInto(
  x: Storage, // [R,W]
  rows: number,
  width: number,
  out: Storage, // [R,W]
): void {
  for (let r = 0, off = 0; r < rows; r++, off += width) {
    let max = -Infinity;
    for (let j = 0; j < width; j++) if (x[off + j]! > max) max = x[off + j]!;
    let sum = 0;
    for (let j = 0; j < width; j++) {
      const e = Math.exp(x[off + j]! - max);
      out[off + j] = e;
      sum += e;
    }
    const inv = 1 / sum;
    for (let j = 0; j < width; j++) out[off + j] = out[off + j]! * inv;
  }
}

/** Softmax over the last axis. */
export function softmax(x: Tensor): Tensor {
  const { rows, width } = lastAxis(x.shape, 'softmax');
  const out = allocate(x.dtype, x.size);
  softmaxInto(x.data, rows, width, out);
  return new Tensor(out, x.shape);
}

/** Log-softmax over the last axis: x − logsumexp(x). */
export function logSoftmax(x: Tensor): Tensor {
  const { rows, width } = lastAxis(x.shape, 'logSoftmax');
  const out = allocate(x.dtype, x.size);
  logSoftmaxInto(x.data, rows, width, out);
  return new Tensor(out, x.shape);
}

// ------------------------------------------------------------------ fused cross-entropy

export type Reduction = 'mean' | 'sum' | 'none';

export interface CrossEntropyOptions {
  /** 'mean' (default) over the non-ignored rows, 'sum', or 'none' (one loss per row). */
  reduction?: Reduction;
  /** Rows whose target equals this contribute no loss and no gradient (and are not counted by 'mean'). */
  ignoreIndex?: number;
}

export interface CrossEntropyResult {
  /** Scalar (shape []) for 'mean'/'sum'; [...leading] for 'none' (0 on ignored rows). */
  loss: Tensor;
  /** log softmax of the logits, same shape. */
  logProbs: Tensor;
  /** softmax of the logits, same shape: what the backward needs (from the exps the log-sum-exp computed). */
  probs: Tensor;
  /** Number of rows that count (not ignored). */
  count: number;
}

/**
 * Check targets against logits [..., V] (targets has one entry per leading position) and return the
 * number of counted rows; a target outside [0, V) that is not ignoreIndex throws naming the row.
 */
export function checkTargets(
  logitsShape: Shape,
  targets: Int32Array,
  ignoreIndex: number | undefined,
  op: string,
): { rows: number; width: number; count: number } {
  const { rows, width } = lastAxis(logitsShape, op);
  if (targets.length !== rows) {
    throw new ShapeError(`${op}: logits of shape ${formatShape(logitsShape)} have ${rows} rows but ${targets.length} targets were given`);
  }
  let count = 0;
  for (let r = 0; r < rows; r++) {
    const t = targets[r]!;
    if (ignoreIndex !== undefined && t === ignoreIndex) continue;
    if (t < 0 || t >= width) {
      throw new RangeError(
        `${op}: target ${t} in row ${r} is out of range for ${width} classes (logits shape ${formatShape(logitsShape)})`,
      );
    }
    count++;
  }
  return { rows, width, count };
}

/**
 * Both forms of each row at once: lp = x − logsumexp(x) (the same numbers as logSoftmaxInto) and
 * p = exp(x − max)/Σ exp(x − max), from the exps the log-sum-exp sums anyway, so the backward
 * evaluates no exp (it took ~3 ms of an H=256 training step as exp(lp) per element).
 */
function crossEntropyRowsInto(
  x: Storage, // [R,W]
  rows: number,
  width: number,
  lp: Storage, // [R,W]
  p: Storage, // [R,W]
): void {
  for (let r = 0, off = 0; r < rows; r++, off += width) {
    let max = -Infinity;
    for (let j = 0; j < width; j++) if (x[off + j]! > max) max = x[off + j]!;
    if (max === -Infinity) {
      // No mass: logsumexp −∞, and softmax undefined (NaN), as in PyTorch.
      for (let j = 0; j < width; j++) {
        lp[off + j] = x[off + j]! - max;
        p[off + j] = NaN;
      }
      continue;
    }
    let sum = 0;
    for (let j = 0; j < width; j++) {
      const e = Math.exp(x[off + j]! - max);
      p[off + j] = e;
      sum += e;
    }
    const lse = max + Math.log(sum);
    for (let j = 0; j < width; j++) {
      lp[off + j] = x[off + j]! - lse;
      p[off + j] = p[off + j]! / sum;
    }
  }
}

/**
 * loss_r = −log softmax(logits_r)[target_r] = logsumexp(logits_r) − logits_r[target_r], reduced.
 * With 'mean' and every row ignored the loss is 0 (not 0/0): a fully padded batch teaches nothing.
 */
export function softmaxCrossEntropy(logits: Tensor, targets: Int32Array, options: CrossEntropyOptions = {}): CrossEntropyResult {
  const reduction = options.reduction ?? 'mean';
  const { ignoreIndex } = options;
  const { rows, width, count } = checkTargets(logits.shape, targets, ignoreIndex, 'softmaxCrossEntropy');
  const lp = allocate(logits.dtype, logits.size); // [R,V]
  const p = allocate(logits.dtype, logits.size); // [R,V]
  crossEntropyRowsInto(logits.data, rows, width, lp, p);
  const probs = new Tensor(p, logits.shape);
  if (reduction === 'none') {
    const per = allocate(logits.dtype, rows); // [R]
    for (let r = 0; r < rows; r++) {
      const t = targets[r]!;
      per[r] = ignoreIndex !== undefined && t === ignoreIndex ? 0 : 0 - lp[r * width + t]!; // 0 − lp: a perfect prediction is +0, not −0
    }
    return { loss: new Tensor(per, logits.shape.slice(0, -1)), logProbs: new Tensor(lp, logits.shape), probs, count };
  }
  let total = 0;
  for (let r = 0; r < rows; r++) {
    const t = targets[r]!;
    if (ignoreIndex !== undefined && t === ignoreIndex) continue;
    total -= lp[r * width + t]!;
  }
  const value = reduction === 'sum' ? total : count === 0 ? 0 : total / count;
  return { loss: scalar(value, logits.dtype), logProbs: new Tensor(lp, logits.shape), probs, count };
}

/**
 * d loss / d logits from the stored probabilities (CrossEntropyResult.probs), (=|+=) into `out` [R,V]:
 * row r gets (probs_r − onehot(target_r)) · g_r, with g_r = upstream / count for 'mean',
 * upstream for 'sum', upstream[r] for 'none', and 0 on ignored rows.
 */
export function softmaxCrossEntropyBackwardInto(
  probs: Storage, // [R,V]
  targets: Int32Array, // [R]
  rows: number,
  width: number,
  upstream: Storage, // [1] ('mean'/'sum') or [R] ('none')
  options: CrossEntropyOptions & { count: number },
  out: Storage, // [R,V]
  accumulate = false,
): void {
  const reduction = options.reduction ?? 'mean';
  const { ignoreIndex, count } = options;
  const scale = reduction === 'mean' ? (count === 0 ? 0 : 1 / count) : 1;
  for (let r = 0, off = 0; r < rows; r++, off += width) {
    const t = targets[r]!;
    const ignored = ignoreIndex !== undefined && t === ignoreIndex;
    const g = ignored ? 0 : reduction === 'none' ? upstream[r]! : upstream[0]! * scale;
    for (let j = 0; j < width; j++) {
      const d = g === 0 ? 0 : (probs[off + j]! - (j === t ? 1 : 0)) * g;
      out[off + j] = accumulate ? out[off + j]! + d : d;
    }
  }
}
