import type { Backend, GemmArgs } from '../tensor/backend.js';
import { allocate, type DType, type Storage } from '../tensor/dtype.js';
import { defaultBackend } from '../tensor/kernels/index.js';
import { lstmGatesForward, LSTM_SAVED_PER_UNIT } from '../tensor/kernels/recurrent-lstm-gates.js';
import { multiplicativeForward } from '../tensor/kernels/recurrent-multiplicative.js';
import { tanhForward } from '../tensor/kernels/recurrent-tanh.js';
import { Tape } from '../autograd/tape.js';
import type { CellKind, CellWeights } from '../nn/cells/index.js';
import type { CharLM } from '../nn/charlm.js';
import type { LSTMWeights } from '../nn/functional/lstm.js';
import type { MultiplicativeWeights } from '../nn/functional/recurrent-common.js';

/**
 * A character model run one token at a time on one stream, for inference: sampling, scoring, feeding
 * a conversation. No tape, no Vars: every buffer is made once here, so a step allocates nothing.
 *
 * A step is the loop body of the cell's fused sequence op (src/nn/functional/mlstm.ts, lstm.ts,
 * mrnn.ts) at T = B = 1, made of the same kernels in the same order (the gemms, multiplicativeForward,
 * lstmGatesForward, tanhForward), then the head. Two things are hoisted out of the loop:
 * - the weights are resolved once (weight norm applied) and every loop weight is prepared once for
 *   the backend (Backend.prepareB), so a step's products are [1,H]·[H,4H] gemms on packed panels;
 * - layer 0's input projections x·wmxᵀ and x·whxᵀ + bias depend only on the token, so they are
 *   computed for all V tokens at once, a table looked up by the step.
 * The blocked backend's arithmetic for a C element depends only on k (gemm-blocked.ts), never on
 * which or how many rows are computed, so a table row, a one-row gemm and the sequence op's [T·B]-row
 * gemm give the same bits: the logits of every step equal those of CharLM.forward over the whole text
 * (test/model-api.test.ts checks it bit for bit, for every cell kind).
 *
 * The weights are a snapshot taken at construction: a CharLM that goes on training needs a new stepper.
 */
export class ModelStepper {
  readonly cell: CellKind;
  readonly vocab: number;
  readonly hidden: number;
  readonly layers: number;
  readonly dtype: DType;
  /** Every layer's h [H], then (mLSTM, LSTM) c [H]: the recurrent state, updated in place by `step`. */
  readonly h: readonly Storage[];
  readonly c: readonly (Storage | null)[];
  /** [V] the logits after the last step: they predict the next token. Overwritten by every step. */
  readonly logits: Storage;

  private readonly backend: Backend;
  private readonly plans: LayerPlan[];
  private readonly headArgs: GemmArgs;

  constructor(model: CharLM, options: { backend?: Backend } = {}) {
    const { cell, vocab: V, hidden: H, layers: L, embed: E } = model.config;
    this.cell = cell;
    this.vocab = V;
    this.hidden = H;
    this.layers = L;
    const backend = options.backend ?? defaultBackend;
    this.backend = backend;
    const tape = new Tape({ backend });
    const dtype = model.head.weight.value.dtype;
    this.dtype = dtype;
    const G = cell === 'mrnn' ? H : 4 * H; // rows of whx / whm / wx / wh / bias
    const resolved = tape.noGrad(() => model.rnn.layers.items.map((c) => c.weights(tape)));
    const embed = model.embed.weight.data; // [V,E]
    this.h = Array.from({ length: L }, () => allocate(dtype, H));
    this.c = Array.from({ length: L }, () => (cell === 'mrnn' ? null : allocate(dtype, H)));
    this.plans = resolved.map((w, l) => planLayer(backend, cell, w, l === 0 ? { embed, V, E } : null, H, G, dtype, this.h, this.c, l));
    this.logits = allocate(dtype, V);
    const head = model.head;
    this.headArgs = prepared(backend, {
      m: 1,
      n: V,
      k: H,
      a: this.h[L - 1]!,
      b: head.weight.data,
      transB: true,
      c: this.logits,
      ...(head.bias ? { bias: head.bias.data } : {}),
    });
  }

  /** h = c = 0 in every layer (the logits are left as they are: no token has been read). */
  zeroState(): void {
    for (const h of this.h) h.fill(0);
    for (const c of this.c) c?.fill(0);
  }

  /** Read one token (0 ≤ token < V): advances the state and returns `logits`, the next token's. */
  step(token: number): Storage {
    if (!(token >= 0 && token < this.vocab && Number.isInteger(token)))
      throw new RangeError(`ModelStepper.step: token ${token} is outside the vocabulary of ${this.vocab}`);
    const backend = this.backend;
    const plans = this.plans;
    for (let l = 0; l < plans.length; l++) {
      const p = plans[l]!;
      const H = this.hidden;
      // The input projections: a table row for layer 0, one-row gemms on the layer below's new h above it.
      let xmOff = 0;
      if (p.xzTable !== null) {
        xmOff = token * H;
        const zRow = token * p.G;
        const table = p.xzTable!;
        const z = p.z;
        for (let j = 0; j < p.G; j++) z[j] = table[zRow + j]!;
      } else {
        if (p.xmArgs) backend.gemm(p.xmArgs); // XM = x·wmxᵀ
        backend.gemm(p.xzArgs!); // Z = x·whxᵀ + bias (LSTM: x·wxᵀ + bias)
      }
      const xm = p.xmTable ?? p.xm;
      switch (p.kind) {
        case 'mlstm':
          backend.gemm(p.hmArgs!); // HM = h_{t−1}·wmhᵀ
          multiplicativeForward(H, xm!, xmOff, p.hm!, 0, p.m!, 0); // m = XM ⊙ HM
          backend.gemm(p.zArgs); // z += m·whmᵀ
          lstmGatesForward(1, H, p.z, 0, p.c!, 0, p.c!, 0, p.h, 0, p.saved!, 0);
          break;
        case 'lstm':
          backend.gemm(p.zArgs); // z += h_{t−1}·whᵀ
          lstmGatesForward(1, H, p.z, 0, p.c!, 0, p.c!, 0, p.h, 0, p.saved!, 0);
          break;
        case 'mrnn':
          backend.gemm(p.hmArgs!);
          multiplicativeForward(H, xm!, xmOff, p.hm!, 0, p.m!, 0);
          backend.gemm(p.zArgs);
          tanhForward(H, p.z, 0, p.h, 0);
          break;
      }
    }
    this.backend.gemm(this.headArgs); // logits = h·headᵀ + bias
    return this.logits;
  }
}

/** Everything one layer's step works on; buffers [H], [G] or [5H], made once. */
interface LayerPlan {
  kind: CellKind;
  G: number;
  h: Storage; // [H] this layer's h, updated in place
  c: Storage | null; // [H]
  z: Storage; // [G]
  xm: Storage | null; // [H] x·wmxᵀ (layers above 0)
  hm: Storage | null; // [H] h_{t−1}·wmhᵀ
  m: Storage | null; // [H]
  saved: Storage | null; // [5H] the gate kernel's saved values (unused here, but it writes them)
  xmTable: Storage | null; // [V,H] embed·wmxᵀ, layer 0 of a multiplicative cell
  xzTable: Storage | null; // [V,G] embed·whxᵀ + bias (LSTM: embed·wxᵀ + bias), layer 0
  xmArgs: GemmArgs | null;
  xzArgs: GemmArgs | null;
  hmArgs: GemmArgs | null;
  zArgs: GemmArgs;
}

function prepared(backend: Backend, args: GemmArgs): GemmArgs {
  if (backend.prepareB !== undefined) args.packedB = backend.prepareB(args);
  return args;
}

function planLayer(
  backend: Backend,
  kind: CellKind,
  weights: CellWeights,
  first: { embed: Storage; V: number; E: number } | null,
  H: number,
  G: number,
  dtype: DType,
  hs: readonly Storage[],
  cs: readonly (Storage | null)[],
  l: number,
): LayerPlan {
  const h = hs[l]!;
  const c = cs[l]!;
  const z = allocate(dtype, G);
  const x = l > 0 ? hs[l - 1]! : null; // the layer below's h (its new value: layers run bottom-up)
  const D = first ? first.E : H;
  // The input half: wmx and whx (or wx) with the bias, as a table over the vocabulary (layer 0) or one-row gemms.
  const mult = kind !== 'lstm' ? (weights as MultiplicativeWeights) : null;
  const lstm = kind === 'lstm' ? (weights as LSTMWeights) : null;
  const wIn = mult ? mult.whx.data : lstm!.wx.data; // [G,D]
  const bias = mult ? mult.bias.data : lstm!.bias.data; // [G]
  let xmTable: Storage | null = null;
  let xzTable: Storage | null = null;
  let xm: Storage | null = null;
  let xmArgs: GemmArgs | null = null;
  let xzArgs: GemmArgs | null = null;
  if (first) {
    const { embed, V } = first;
    xzTable = allocate(dtype, V * G); // [V,G]
    backend.gemm({ m: V, n: G, k: D, a: embed, b: wIn, transB: true, c: xzTable, bias });
    if (mult) {
      xmTable = allocate(dtype, V * H); // [V,H]
      backend.gemm({ m: V, n: H, k: D, a: embed, b: mult.wmx.data, transB: true, c: xmTable });
    }
  } else {
    xzArgs = prepared(backend, { m: 1, n: G, k: D, a: x!, b: wIn, transB: true, c: z, bias });
    if (mult) {
      xm = allocate(dtype, H);
      xmArgs = prepared(backend, { m: 1, n: H, k: D, a: x!, b: mult.wmx.data, transB: true, c: xm });
    }
  }
  if (mult) {
    const hm = allocate(dtype, H);
    const m = allocate(dtype, H);
    return {
      kind,
      G,
      h,
      c,
      z,
      xm,
      hm,
      m,
      saved: kind === 'mlstm' ? allocate(dtype, LSTM_SAVED_PER_UNIT * H) : null,
      xmTable,
      xzTable,
      xmArgs,
      xzArgs,
      hmArgs: prepared(backend, { m: 1, n: H, k: H, a: h, b: mult.wmh.data, transB: true, c: hm }),
      zArgs: prepared(backend, { m: 1, n: G, k: H, a: m, b: mult.whm.data, transB: true, c: z, accumulate: true }),
    };
  }
  return {
    kind,
    G,
    h,
    c,
    z,
    xm: null,
    hm: null,
    m: null,
    saved: allocate(dtype, LSTM_SAVED_PER_UNIT * H),
    xmTable: null,
    xzTable,
    xmArgs: null,
    xzArgs,
    hmArgs: null,
    zArgs: prepared(backend, { m: 1, n: G, k: H, a: h, b: lstm!.wh.data, transB: true, c: z, accumulate: true }),
  };
}
