import { tapeFor, type ComputeOptions } from './default-tape.js';
import { inEvalMode, LN2, type LanguageModel } from './model.js';

export interface EvaluateOptions extends ComputeOptions {
  /**
   * Number of parallel streams (default 1: the whole text as one sequence). With B > 1 the text is cut
   * into B contiguous streams of ⌊N/B⌋ tokens, each starting from a zero state; the last N − B·⌊N/B⌋
   * tokens are not scored. B is lowered so that every stream has at least 2 tokens.
   */
  batch?: number;
  /** Tokens per forward call (default 256); the state is carried across calls, so this only trades memory for speed. */
  seq?: number;
}

export interface Evaluation {
  /** Mean bits per character over the scored predictions. */
  bpc: number;
  /** Mean cross-entropy in nats. */
  nats: number;
  /** Number of predictions scored: B·(⌊N/B⌋ − 1). */
  predictions: number;
  /** Streams actually used. */
  streams: number;
}

/**
 * Bits per character of `tokens` under the model, with the hidden state carried through each whole
 * stream (not reset between forward calls). No gradients are recorded and dropout is off.
 */
export function evaluate(model: LanguageModel, tokens: Int32Array, options: EvaluateOptions = {}): Evaluation {
  const n = tokens.length;
  if (n < 2) throw new RangeError(`evaluate: need at least 2 tokens to score one prediction, got ${n}`);
  const requested = options.batch ?? 1;
  const seq = options.seq ?? 256;
  if (!Number.isInteger(requested) || requested < 1) throw new RangeError(`evaluate: batch must be a positive integer, got ${requested}`);
  if (!Number.isInteger(seq) || seq < 1) throw new RangeError(`evaluate: seq must be a positive integer, got ${seq}`);
  const B = Math.min(requested, Math.floor(n / 2));
  const L = Math.floor(n / B); // tokens per stream
  const scored = L - 1; // predictions per stream
  const tape = tapeFor(options);
  // One buffer pair for full windows; the shorter last window reads a prefix view of them.
  const inputs = new Int32Array(Math.min(seq, scored) * B); // [T,B]
  const targets = new Int32Array(Math.min(seq, scored) * B); // [T,B]
  let totalNats = 0;
  inEvalMode(model, () =>
    tape.noGrad(() => {
      let state = model.zeroState(B);
      for (let start = 0; start < scored; start += seq) {
        const T = Math.min(seq, scored - start);
        for (let b = 0; b < B; b++) {
          const base = b * L + start;
          for (let t = 0; t < T; t++) {
            inputs[t * B + b] = tokens[base + t]!;
            targets[t * B + b] = tokens[base + t + 1]!;
          }
        }
        const out = model.loss(tape, inputs.subarray(0, T * B), targets.subarray(0, T * B), T, B, state);
        const mean = out.loss.value.item();
        if (!Number.isFinite(mean))
          throw new RangeError(
            `evaluate: the model's loss is ${mean} at tokens ${start}..${start + T} of each stream (non-finite parameters?)`,
          );
        totalNats += mean * T * B;
        state = out.state;
      }
    }),
  );
  const predictions = B * scored;
  const nats = totalNats / predictions;
  return { bpc: nats / LN2, nats, predictions, streams: B };
}
