import type { Tape } from '../autograd/tape.js';
import type { Var } from '../autograd/var.js';
import type { Parameter } from '../nn/module.js';
import type { LayerState } from '../nn/state.js';
import type { WindowDropout, WindowMasks } from '../nn/window-dropout.js';

/**
 * What training, evaluation and sampling need from a character language model. `CharLM`
 * (src/nn/charlm.ts) has exactly this shape; the trainer depends on the shape, not the class, so it
 * stays independent of how the model is built.
 */
export interface LanguageModel {
  readonly config: { readonly vocab: number; readonly dropout?: number };
  training: boolean;
  namedParameters(prefix?: string): [string, Parameter][];
  parameters(): Parameter[];
  zeroGrad(): void;
  train(mode?: boolean): unknown;
  zeroState(batch: number): LayerState[];
  detachState(state: LayerState[]): LayerState[];
  /** Buffers for one window's embedding and hidden-dropout masks (null when both p are 0); see window-dropout.ts. */
  windowMasks(batch: number, p: WindowDropout): WindowMasks | null;
  /** tokens time-major [T,B]; logits [T·B, V], row t·B + b. Only training passes `masks`. */
  forward(
    tape: Tape,
    tokens: Int32Array,
    T: number,
    B: number,
    state: LayerState[],
    masks?: WindowMasks | null,
  ): { logits: Var; state: LayerState[] };
  /** Mean cross-entropy in nats over the T·B predictions, as a scalar Var. */
  loss(
    tape: Tape,
    inputs: Int32Array,
    targets: Int32Array,
    T: number,
    B: number,
    state: LayerState[],
    masks?: WindowMasks | null,
  ): { loss: Var; state: LayerState[] };
}

/** Run `fn` with the model in evaluation mode (no dropout), restoring its mode afterwards. */
export function inEvalMode<T>(model: LanguageModel, fn: () => T): T {
  const was = model.training;
  model.train(false);
  try {
    return fn();
  } finally {
    model.train(was);
  }
}

export const LN2 = Math.log(2);
