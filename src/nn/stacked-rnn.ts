import type { DType } from '../tensor/dtype.js';
import type { Rng } from '../tensor/rng.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Tape } from '../autograd/tape.js';
import type { Var } from '../autograd/var.js';
import { createCell, type CellInit, type CellKind, type RecurrentCell } from './cells/index.js';
import type { LayerState } from './state.js';
import { Dropout, ModuleList } from './layers.js';
import { Module } from './module.js';

export interface StackedRNNOptions {
  cell: CellKind;
  inputSize: number;
  hiddenSize: number;
  layers: number;
  weightNorm?: boolean;
  /** Dropout between layers (on the h sequence fed upward), training mode only. */
  dropout?: number;
  rng: Rng;
  dtype?: DType;
  init?: CellInit;
}

export interface StackedForwardResult {
  hs: Var; // [T,B,H] of the top layer
  state: LayerState[]; // final state of every layer
  /** Per layer: c_t and m_t [T,B,H] where the cell has them (for inspection). */
  cs: (Tensor | undefined)[];
  ms: (Tensor | undefined)[];
}

/**
 * L recurrent layers of one kind: layer 0 reads the input, layer l > 0 reads the h sequence of
 * layer l − 1 (docs/CONTRACT.md). Each layer runs its whole window as one fused op.
 */
export class StackedRNN extends Module {
  readonly layers: ModuleList<RecurrentCell>;
  private readonly drop: Dropout | null;

  constructor(options: StackedRNNOptions) {
    super();
    const { layers } = options;
    if (!Number.isInteger(layers) || layers < 1) throw new RangeError(`StackedRNN: layers must be a positive integer, got ${layers}`);
    const cells: RecurrentCell[] = [];
    for (let l = 0; l < layers; l++) {
      cells.push(
        createCell(options.cell, {
          inputSize: l === 0 ? options.inputSize : options.hiddenSize,
          hiddenSize: options.hiddenSize,
          rng: options.rng,
          dtype: options.dtype,
          init: options.init,
          weightNorm: options.weightNorm,
        }),
      );
    }
    this.layers = this.addModule('layers', new ModuleList(cells));
    const p = options.dropout ?? 0;
    this.drop = p > 0 ? new Dropout(p, options.rng.fork()) : null;
  }

  override train(mode = true): this {
    super.train(mode);
    this.drop?.train(mode);
    return this;
  }

  /** The generator dropout masks are drawn from (null without dropout): trainers save it to resume exactly. */
  get dropoutRng(): Rng | null {
    return this.drop ? this.drop.rng : null;
  }

  zeroState(batch: number, dtype?: DType): LayerState[] {
    return this.layers.items.map((c) => c.zeroState(batch, dtype));
  }

  /**
   * xs [T,B,D] through every layer. `hiddenMasks` (one [B,H] per layer) is variational hidden dropout
   * (docs/training.md): layer l's recurrence and output read M_l ⊙ h; the between-layer `dropout`, if
   * any, then acts on that masked output.
   */
  forward(tape: Tape, xs: Var, state: readonly LayerState[], hiddenMasks?: readonly Tensor[] | null): StackedForwardResult {
    if (state.length !== this.layers.length) {
      throw new RangeError(`StackedRNN.forward: got state for ${state.length} layers, the network has ${this.layers.length}`);
    }
    if (hiddenMasks && hiddenMasks.length !== this.layers.length) {
      throw new RangeError(`StackedRNN.forward: got ${hiddenMasks.length} hidden masks, the network has ${this.layers.length} layers`);
    }
    let x = xs;
    const next: LayerState[] = [];
    const cs: (Tensor | undefined)[] = [];
    const ms: (Tensor | undefined)[] = [];
    this.layers.items.forEach((cell, l) => {
      if (l > 0 && this.drop) x = this.drop.forward(tape, x);
      const r = cell.forward(tape, x, state[l]!, undefined, hiddenMasks?.[l]);
      x = r.hs;
      next.push(r.state);
      cs.push(r.cs);
      ms.push(r.ms);
    });
    return { hs: x, state: next, cs, ms };
  }
}

/** The state cut from the graph: truncated BPTT carries values, not gradients, across windows. */
export function detachState(state: readonly LayerState[]): LayerState[] {
  return state.map((s) => ({ h: s.h.detach(), c: s.c ? s.c.detach() : null }));
}
