import {
  softmax as softmaxTensor,
  logSoftmax as logSoftmaxTensor,
  softmaxCrossEntropy as crossEntropyTensor,
  softmaxCrossEntropyBackwardInto,
  type CrossEntropyOptions,
} from '../../tensor/ops/softmax.js';
import type { Tape } from '../tape.js';
import { gradBuffer, Var } from '../var.js';

/**
 * Differentiable softmax family over the last axis. The backwards use only the forward's output
 * (y = softmax or log-softmax), never exp of the raw logits, so they stay finite wherever the
 * forward is.
 */

/** y = softmax(x); dx = y ⊙ (g − Σ_j g_j·y_j) per row. */
export function softmax(tape: Tape, x: Var): Var {
  const out = new Var(softmaxTensor(x.value));
  if (tape.needsGrad(x)) {
    const width = x.shape[x.shape.length - 1]!;
    const rows = x.size / width;
    tape.record('softmax', [x], [out], () => {
      const g = out.grad!.data;
      const y = out.value.data;
      const gx = gradBuffer(x)!;
      for (let r = 0, off = 0; r < rows; r++, off += width) {
        let dot = 0;
        for (let j = 0; j < width; j++) dot += g[off + j]! * y[off + j]!;
        for (let j = 0; j < width; j++) gx[off + j]! += y[off + j]! * (g[off + j]! - dot);
      }
    });
  }
  return out;
}

/** y = log softmax(x); dx = g − softmax(x)·Σ_j g_j per row, with softmax(x) = exp(y). */
export function logSoftmax(tape: Tape, x: Var): Var {
  const out = new Var(logSoftmaxTensor(x.value));
  if (tape.needsGrad(x)) {
    const width = x.shape[x.shape.length - 1]!;
    const rows = x.size / width;
    tape.record('logSoftmax', [x], [out], () => {
      const g = out.grad!.data;
      const y = out.value.data;
      const gx = gradBuffer(x)!;
      for (let r = 0, off = 0; r < rows; r++, off += width) {
        let sum = 0;
        for (let j = 0; j < width; j++) sum += g[off + j]!;
        for (let j = 0; j < width; j++) gx[off + j]! += g[off + j]! - Math.exp(y[off + j]!) * sum;
      }
    });
  }
  return out;
}

/**
 * Fused softmax cross-entropy of logits [..., V] against int32 targets (one per leading position):
 * a scalar for 'mean' (default) and 'sum', one loss per row for 'none'. The backward is
 * (softmax − onehot)·g (÷ count for 'mean') from the stored probabilities. Targets are copied.
 */
export function softmaxCrossEntropy(tape: Tape, logits: Var, targets: Int32Array, options: CrossEntropyOptions = {}): Var {
  const { loss, probs, count } = crossEntropyTensor(logits.value, targets, options);
  const out = new Var(loss);
  if (tape.needsGrad(logits)) {
    const saved = targets.slice();
    const width = logits.shape[logits.shape.length - 1]!;
    const rows = saved.length;
    const backwardOptions = { ...options, count };
    tape.record('softmaxCrossEntropy', [logits], [out], () => {
      softmaxCrossEntropyBackwardInto(probs.data, saved, rows, width, out.grad!.data, backwardOptions, gradBuffer(logits)!, true);
    });
  }
  return out;
}
