import type { Backend, GemmArgs, PreparedB } from '../tensor/backend.js';
import { allocate, type DType, type Storage } from '../tensor/dtype.js';
import { selectBackend } from '../wasm/index.js';
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
 * lstmGatesForward, tanhForward: the backend's gate kernels where it has them, see stepGates), then
 * the head. Two things are hoisted out of the loop:
 * - the weights are resolved once (weight norm applied) and every loop weight is prepared once for
 *   the backend (Backend.prepareB), so a step's products are [1,H]·[H,4H] gemms on packed panels;
 * - layer 0's input projections x·wmxᵀ and x·whxᵀ + bias depend only on the token, so they are
 *   computed for all V tokens at once, a table looked up by the step. The z row is not copied out of
 *   it: the step's z = m·whmᵀ (+ table row) takes the row as the gemm's bias, the same sum as the
 *   fused op's z += m·whmᵀ on a z that holds it (one addition of the same two values: every
 *   backend's epilogue is C + (alpha·s) with accumulate and (alpha·s) + bias with a bias, alpha = 1).
 * Every backend's arithmetic for a C element depends only on k, never on which or how many rows are
 * computed (gemm-blocked.ts, src/wasm/gemm-kernels.ts and gemm-row.ts), so a table row, a one-row
 * gemm and the sequence op's [T·B]-row gemm give the same bits: the logits of every step equal those
 * of CharLM.forward over the whole text on the same backend (test/model-api.test.ts checks it bit for
 * bit, for every cell kind, on the JS and the wasm backend).
 *
 * Where the buffers live: a backend with a memory of its own that its kernels read in place (the wasm
 * backend's `allocate`) gets every float32 buffer of the step there (state, intermediates, logits,
 * the tables and the biases), beside the weights prepareB packed into it, so a step copies nothing
 * in or out; elsewhere they are ordinary arrays (and so are the wasm backend's own where its memory
 * cannot be shared, e.g. on a page that is not cross-origin isolated: then it copies them per call).
 * Such memory is not garbage-collected: `dispose()` gives it back (and a finalizer does when a stepper
 * is collected undisposed).
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
  /** The backend the products run on. */
  readonly backend: Backend;

  private readonly plans: LayerPlan[];
  private readonly headArgs: GemmArgs;
  private readonly gates: StepGates;
  private readonly resources: StepperResources;
  private isDisposed = false;

  constructor(model: CharLM, options: { backend?: Backend } = {}) {
    const { cell, vocab: V, hidden: H, layers: L, embed: E } = model.config;
    this.cell = cell;
    this.vocab = V;
    this.hidden = H;
    this.layers = L;
    const backend = options.backend ?? selectBackend().backend; // the library's default: wasm where SIMD validates
    this.backend = backend;
    this.gates = stepGates(backend);
    const tape = new Tape({ backend });
    const dtype = model.head.weight.value.dtype;
    this.dtype = dtype;
    const memory = dtype === 'float32' ? backendMemory(backend) : null;
    const resources: StepperResources = { backend, memory, arrays: [], prepared: [] };
    this.resources = resources;
    const G = cell === 'mrnn' ? H : 4 * H; // rows of whx / whm / wx / wh / bias
    const resolved = tape.noGrad(() => model.rnn.layers.items.map((c) => c.weights(tape)));
    const embed = model.embed.weight.data; // [V,E]
    this.h = Array.from({ length: L }, () => buffer(resources, dtype, H));
    this.c = Array.from({ length: L }, () => (cell === 'mrnn' ? null : buffer(resources, dtype, H)));
    this.plans = resolved.map((w, l) => planLayer(resources, cell, w, l === 0 ? { embed, V, E } : null, H, G, dtype, this.h, this.c, l));
    this.logits = buffer(resources, dtype, V);
    const head = model.head;
    this.headArgs = prepared(resources, {
      m: 1,
      n: V,
      k: H,
      a: this.h[L - 1]!,
      b: head.weight.data,
      transB: true,
      c: this.logits,
      ...(head.bias ? { bias: copied(resources, dtype, head.bias.data) } : {}),
    });
    if (memory !== null) collected.register(this, resources, this);
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
    if (this.isDisposed) throw new Error('ModelStepper.step: the stepper was disposed');
    const backend = this.backend;
    const gates = this.gates;
    const plans = this.plans;
    for (let l = 0; l < plans.length; l++) {
      const p = plans[l]!;
      const H = this.hidden;
      // The input projections: rows of the tables for layer 0, one-row gemms on the layer below's new h above it.
      let xmOff = 0;
      if (p.xzTable !== null) {
        xmOff = token * H;
        p.zArgs.biasOffset = token * p.G; // z = m·whmᵀ + XZ[token] (LSTM: h·whᵀ + XZ[token])
      } else {
        if (p.xmArgs) backend.gemm(p.xmArgs); // XM = x·wmxᵀ
        backend.gemm(p.xzArgs!); // Z = x·whxᵀ + bias (LSTM: x·wxᵀ + bias)
      }
      const xm = p.xmTable ?? p.xm;
      switch (p.kind) {
        case 'mlstm':
          backend.gemm(p.hmArgs!); // HM = h_{t−1}·wmhᵀ
          gates.multiplicativeForward(H, xm!, xmOff, p.hm!, 0, p.m!, 0); // m = XM ⊙ HM
          backend.gemm(p.zArgs); // z (+)= m·whmᵀ
          gates.lstmGatesForward(1, H, p.z, 0, p.c!, 0, p.c!, 0, p.h, 0, p.saved!, 0);
          break;
        case 'lstm':
          backend.gemm(p.zArgs); // z (+)= h_{t−1}·whᵀ
          gates.lstmGatesForward(1, H, p.z, 0, p.c!, 0, p.c!, 0, p.h, 0, p.saved!, 0);
          break;
        case 'mrnn':
          backend.gemm(p.hmArgs!);
          gates.multiplicativeForward(H, xm!, xmOff, p.hm!, 0, p.m!, 0);
          backend.gemm(p.zArgs);
          gates.tanhForward(H, p.z, 0, p.h, 0);
          break;
      }
    }
    this.backend.gemm(this.headArgs); // logits = h·headᵀ + bias
    return this.logits;
  }

  /** Whether dispose() was called. */
  get disposed(): boolean {
    return this.isDisposed;
  }

  /**
   * Gives back what the stepper holds in the backend's memory (its prepared weights and, on a backend
   * with a memory of its own, every buffer, `h`, `c` and `logits` included); it cannot step afterwards.
   * Idempotent; not needed on the JS backend, where everything is garbage-collected.
   */
  dispose(): void {
    if (this.isDisposed) return;
    this.isDisposed = true;
    collected.unregister(this);
    release(this.resources);
  }
}

/** The gate kernels of a step, with the flat-array signatures of src/tensor/kernels/recurrent-*.ts. */
export interface StepGates {
  lstmGatesForward: typeof lstmGatesForward;
  multiplicativeForward: typeof multiplicativeForward;
  tanhForward: typeof tanhForward;
}

const JS_GATES: StepGates = Object.freeze({ lstmGatesForward, multiplicativeForward, tanhForward });

/**
 * The gate kernels the fused sequence ops run on `backend`, so a step computes what they compute: the
 * backend's own table (`recurrent`, issue 12's seam: the wasm backend's SIMD σ/tanh) where it has one,
 * else the JS kernels, which is what the fused ops import when the Backend has no such table.
 */
export function stepGates(backend: Backend): StepGates {
  return (backend as Backend & { recurrent?: StepGates }).recurrent ?? JS_GATES;
}

/** A backend memory that kernels read in place: arrays in it are never copied per call (the wasm backend's). */
interface BackendMemory {
  allocate(length: number): Float32Array;
  free(array: Float32Array): void;
}

function backendMemory(backend: Backend): BackendMemory | null {
  const b = backend as Backend & Partial<BackendMemory>;
  return typeof b.allocate === 'function' && typeof b.free === 'function' ? (b as Backend & BackendMemory) : null;
}

/** What a stepper took from its backend, given back by dispose() or, for one never disposed, when it is collected. */
interface StepperResources {
  backend: Backend;
  memory: BackendMemory | null;
  arrays: Float32Array[];
  prepared: PreparedB[];
}

function release(r: StepperResources): void {
  for (const p of r.prepared) r.backend.releaseB?.(p);
  for (const a of r.arrays) r.memory!.free(a);
  r.prepared.length = 0;
  r.arrays.length = 0;
}

const collected = new FinalizationRegistry<StepperResources>(release);

/** A zeroed [n] buffer of the step: in the backend's memory when it has one, else an ordinary array. */
function buffer(r: StepperResources, dtype: DType, n: number): Storage {
  if (r.memory === null) return allocate(dtype, n);
  const a = r.memory.allocate(n);
  r.arrays.push(a);
  return a;
}

/** `x` where the step's kernels read it in place: itself, or a copy in the backend's memory. */
function copied(r: StepperResources, dtype: DType, x: Storage): Storage {
  if (r.memory === null) return x;
  const a = buffer(r, dtype, x.length);
  a.set(x);
  return a;
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
  xzTable: Storage | null; // [V,G] embed·whxᵀ + bias (LSTM: embed·wxᵀ + bias), layer 0: zArgs' bias
  xmArgs: GemmArgs | null;
  xzArgs: GemmArgs | null;
  hmArgs: GemmArgs | null;
  zArgs: GemmArgs;
}

function prepared(r: StepperResources, args: GemmArgs): GemmArgs {
  if (r.backend.prepareB !== undefined) {
    args.packedB = r.backend.prepareB(args);
    r.prepared.push(args.packedB);
  }
  return args;
}

function planLayer(
  r: StepperResources,
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
  const backend = r.backend;
  const h = hs[l]!;
  const c = cs[l]!;
  const z = buffer(r, dtype, G);
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
    xzTable = buffer(r, dtype, V * G); // [V,G]
    backend.gemm({ m: V, n: G, k: D, a: embed, b: wIn, transB: true, c: xzTable, bias });
    if (mult) {
      xmTable = buffer(r, dtype, V * H); // [V,H]
      backend.gemm({ m: V, n: H, k: D, a: embed, b: mult.wmx.data, transB: true, c: xmTable });
    }
  } else {
    xzArgs = prepared(r, { m: 1, n: G, k: D, a: x!, b: wIn, transB: true, c: z, bias: copied(r, dtype, bias) });
    if (mult) {
      xm = buffer(r, dtype, H);
      xmArgs = prepared(r, { m: 1, n: H, k: D, a: x!, b: mult.wmx.data, transB: true, c: xm });
    }
  }
  // z's recurrent half: added to the table row (layer 0: the row is the gemm's bias) or to Z = x·whxᵀ + bias.
  const zInput = xzTable !== null ? { bias: xzTable, biasOffset: 0 } : { accumulate: true };
  const wRec = mult ? mult.whm.data : lstm!.wh.data; // [G,H]
  const zArgs = prepared(r, { m: 1, n: G, k: H, a: mult ? buffer(r, dtype, H) : h, b: wRec, transB: true, c: z, ...zInput });
  if (mult) {
    const hm = buffer(r, dtype, H);
    return {
      kind,
      G,
      h,
      c,
      z,
      xm,
      hm,
      m: zArgs.a,
      saved: kind === 'mlstm' ? buffer(r, dtype, LSTM_SAVED_PER_UNIT * H) : null,
      xmTable,
      xzTable,
      xmArgs,
      xzArgs,
      hmArgs: prepared(r, { m: 1, n: H, k: H, a: h, b: mult.wmh.data, transB: true, c: hm }),
      zArgs,
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
    saved: buffer(r, dtype, LSTM_SAVED_PER_UNIT * H),
    xmTable: null,
    xzTable,
    xmArgs: null,
    xzArgs,
    hmArgs: null,
    zArgs,
  };
}
