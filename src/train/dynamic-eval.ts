import { tapeFor, type ComputeOptions } from './default-tape.js';
import type { Storage } from '../tensor/dtype.js';
import { inEvalMode, LN2, type LanguageModel } from './model.js';

export interface DynamicEvalOptions extends ComputeOptions {
  /** SGD learning rate of the per-segment adaptation step. */
  lr: number;
  /** Segment length: the text is scored and adapted to this many characters at a time (default 50). */
  seq?: number;
  /**
   * Pull towards the trained weights after each step: θ ← θ + decay·(θ_trained − θ) (default 0, plain
   * SGD). Krause et al. 2017 use such a decay with their RMS-normalised rule; here it applies to plain SGD.
   */
  decay?: number;
}

export interface DynamicEvaluation {
  bpc: number;
  nats: number;
  predictions: number;
  segments: number;
}

/**
 * Dynamic evaluation (Krause et al. 2017, "Dynamic Evaluation of Neural Sequence Models", the SGD
 * variant): the text is read as one sequence in segments of `seq` tokens; each segment is first
 * *scored* with the current weights (so every prediction is made before the model sees its target),
 * then the weights take one SGD step θ ← θ − lr·∇θ(mean cross-entropy of that segment, in nats), and
 * the hidden state is carried (detached) into the next segment. The RMS-normalised update of the paper
 * is not implemented. Dropout is off. The model's trained weights are restored before returning.
 */
export function dynamicEvaluate(model: LanguageModel, tokens: Int32Array, options: DynamicEvalOptions): DynamicEvaluation {
  const { lr } = options;
  const seq = options.seq ?? 50;
  const decay = options.decay ?? 0;
  const n = tokens.length;
  if (n < 2) throw new RangeError(`dynamicEvaluate: need at least 2 tokens to score one prediction, got ${n}`);
  if (!(lr >= 0) || !Number.isFinite(lr)) throw new RangeError(`dynamicEvaluate: lr must be a finite number ≥ 0, got ${lr}`);
  if (!Number.isInteger(seq) || seq < 1) throw new RangeError(`dynamicEvaluate: seq must be a positive integer, got ${seq}`);
  if (!(decay >= 0 && decay <= 1)) throw new RangeError(`dynamicEvaluate: decay must be in [0, 1], got ${decay}`);
  const tape = tapeFor(options);
  const params = model.parameters();
  const trained: Storage[] = params.map((p) => p.value.data.slice()); // restored at the end
  const inputs = new Int32Array(seq); // [T,1]
  const targets = new Int32Array(seq); // [T,1]
  let totalNats = 0;
  let segments = 0;
  try {
    inEvalMode(model, () => {
      let state = model.zeroState(1);
      for (let start = 0; start < n - 1; start += seq) {
        const T = Math.min(seq, n - 1 - start);
        inputs.set(tokens.subarray(start, start + T));
        targets.set(tokens.subarray(start + 1, start + T + 1));
        model.zeroGrad();
        const out = model.loss(tape, inputs.subarray(0, T), targets.subarray(0, T), T, 1, state);
        const mean = out.loss.value.item();
        if (!Number.isFinite(mean))
          throw new RangeError(
            `dynamicEvaluate: loss became ${mean} at segment ${segments} (tokens ${start}..${start + T}); lower --dynamic-lr`,
          );
        totalNats += mean * T;
        segments++;
        tape.backward(out.loss);
        params.forEach((p, k) => {
          const w = p.value.data;
          const g = p.grad?.data;
          const w0 = trained[k]!;
          if (!g) return;
          for (let i = 0; i < w.length; i++) {
            const stepped = w[i]! - lr * g[i]!;
            w[i] = decay === 0 ? stepped : stepped + decay * (w0[i]! - stepped);
          }
        });
        state = model.detachState(out.state);
      }
    });
  } finally {
    params.forEach((p, k) => p.value.data.set(trained[k]!));
    model.zeroGrad();
    tape.clear();
  }
  const predictions = n - 1;
  const nats = totalNats / predictions;
  return { bpc: nats / LN2, nats, predictions, segments };
}
