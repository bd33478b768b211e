import type { DType } from '../tensor/dtype.js';
import type { Rng } from '../tensor/rng.js';
import type { Tape } from '../autograd/tape.js';
import type { Var } from '../autograd/var.js';
import { reshape } from '../autograd/ops/shape.js';
import { softmaxCrossEntropy } from '../autograd/ops/softmax.js';
import type { CellInit, CellKind } from './cells/index.js';
import { CELL_KINDS } from './cells/index.js';
import { Embedding, Linear } from './layers.js';
import { Module } from './module.js';
import { detachState, StackedRNN, type StackedForwardResult } from './stacked-rnn.js';
import type { LayerState } from './state.js';
import { allocateWindowMasks, applyEmbeddingMask, type WindowDropout, type WindowMasks } from './window-dropout.js';

/** The model's shape, exactly the `config` of a checkpoint (docs/CONTRACT.md), plus training-only dropout. */
export interface CharLMConfig {
  cell: CellKind;
  weightNorm: boolean;
  vocab: number;
  embed: number;
  hidden: number;
  layers: number;
  /** Dropout between recurrent layers in training mode (not part of the checkpoint). */
  dropout?: number;
}

export interface CharLMOptions {
  rng: Rng;
  dtype?: DType;
  init?: CellInit;
}

/** The stack's result (top-layer hs, every layer's state, c_t / m_t for inspection and features), and the logits. */
export interface CharLMForward extends StackedForwardResult {
  logits: Var; // [T*B,V], row t*B + b
}

/** Validate a config from any source (a user, a checkpoint); the error names the field. */
export function validateCharLMConfig(config: CharLMConfig, where = 'CharLM'): void {
  if (!CELL_KINDS.includes(config.cell))
    throw new Error(`${where}: unknown cell '${String(config.cell)}' (expected ${CELL_KINDS.join(', ')})`);
  if (typeof config.weightNorm !== 'boolean')
    throw new Error(`${where}: weight_norm must be a boolean, got ${JSON.stringify(config.weightNorm)}`);
  if (config.weightNorm && config.cell !== 'mlstm')
    throw new Error(`${where}: weight norm is defined for the mlstm cell only, not '${config.cell}'`);
  for (const k of ['vocab', 'embed', 'hidden', 'layers'] as const) {
    const v = config[k];
    if (!Number.isInteger(v) || v < 1 || v > 1 << 20)
      throw new Error(`${where}: ${k} must be a positive integer, got ${JSON.stringify(v)}`);
  }
  const p = config.dropout ?? 0;
  if (!(p >= 0 && p < 1)) throw new Error(`${where}: dropout must be in [0, 1), got ${p}`);
}

/**
 * Character language model (docs/CONTRACT.md `charlm`): embedding → L recurrent layers → linear head.
 * Parameter names: `embed.weight [V,E]`, `layers.l.<cell names>`, `head.weight [V,H]`, `head.bias [V]`.
 */
export class CharLM extends Module {
  readonly config: Readonly<CharLMConfig>;
  readonly embed: Embedding;
  readonly rnn: StackedRNN;
  readonly head: Linear;

  constructor(config: CharLMConfig, options: CharLMOptions) {
    super();
    validateCharLMConfig(config);
    this.config = Object.freeze({ ...config });
    const { rng, dtype } = options;
    this.embed = this.addModule('embed', new Embedding(config.vocab, config.embed, { rng, dtype }));
    this.rnn = new StackedRNN({
      cell: config.cell,
      inputSize: config.embed,
      hiddenSize: config.hidden,
      layers: config.layers,
      weightNorm: config.weightNorm,
      dropout: config.dropout,
      rng,
      dtype,
      init: options.init,
    });
    // Registered directly (not under the StackedRNN) so that the names read `layers.0.wmx`.
    this.addModule('layers', this.rnn.layers);
    this.head = this.addModule('head', new Linear(config.hidden, config.vocab, { rng, dtype }));
  }

  override train(mode = true): this {
    super.train(mode);
    this.rnn.train(mode);
    return this;
  }

  /** The generator of the dropout masks (null without dropout), part of a resumable training state. */
  get dropoutRng(): Rng | null {
    return this.rnn.dropoutRng;
  }

  zeroState(batch: number): LayerState[] {
    return this.rnn.zeroState(batch);
  }

  detachState(state: readonly LayerState[]): LayerState[] {
    return detachState(state);
  }

  /**
   * Buffers for the embedding and hidden-dropout masks of a window of `batch` streams (null when both
   * p are 0), in the parameters' dtype; fill them each window with drawWindowMasks.
   */
  windowMasks(batch: number, p: WindowDropout): WindowMasks | null {
    const { vocab, hidden, layers } = this.config;
    return allocateWindowMasks({ batch, vocab, hidden, layers, dtype: this.embed.weight.value.dtype }, p);
  }

  /**
   * tokens: time-major [T,B]; every token must be < vocab. `masks` are a training window's embedding and
   * hidden-dropout masks (docs/training.md); they are applied whenever given (evaluation, sampling and
   * features never pass any).
   */
  forward(tape: Tape, tokens: Int32Array, T: number, B: number, state: readonly LayerState[], masks?: WindowMasks | null): CharLMForward {
    if (tokens.length !== T * B) {
      throw new RangeError(`CharLM.forward: ${tokens.length} tokens do not form [T,B] = [${T},${B}]`);
    }
    let xs = this.embed.forward(tape, tokens, [T, B]); // [T,B,E]
    if (masks?.embed) xs = applyEmbeddingMask(tape, xs, tokens, masks.embed);
    const r = this.rnn.forward(tape, xs, state, masks?.hidden);
    const flat = reshape(tape, r.hs, [T * B, this.config.hidden]); // [T*B,H]
    const logits = this.head.forward(tape, flat); // [T*B,V]
    return { logits, state: r.state, hs: r.hs, cs: r.cs, ms: r.ms };
  }

  /** Mean cross-entropy in nats over the T·B predictions (bits/char = loss / ln 2). */
  loss(
    tape: Tape,
    inputs: Int32Array,
    targets: Int32Array,
    T: number,
    B: number,
    state: readonly LayerState[],
    masks?: WindowMasks | null,
  ): { loss: Var; state: LayerState[]; logits: Var } {
    if (targets.length !== T * B) throw new RangeError(`CharLM.loss: ${targets.length} targets do not form [T,B] = [${T},${B}]`);
    const f = this.forward(tape, inputs, T, B, state, masks);
    const loss = softmaxCrossEntropy(tape, f.logits, targets, { reduction: 'mean' });
    return { loss, state: f.state, logits: f.logits };
  }
}
