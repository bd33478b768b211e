/**
 * "Look inside": every intermediate value of one recurrent layer, per character, for every hidden unit.
 *
 * The engine's fused op (src/nn/functional/mlstm.ts) returns only h, c and m. To show the gates and
 * the two factors of m beside the equations that produce them, this file runs the cell's equations
 * again, step by step, with the engine's own matrix ops on the cell's weights:
 *
 *   mLSTM:  xm = x·wmxᵀ,  hm = h_{t−1}·wmhᵀ,  m = xm ⊙ hm,  z = x·whxᵀ + m·whmᵀ + b
 *   LSTM:   z = x·wxᵀ + h_{t−1}·whᵀ + b
 *   both:   i,f,g,o = split(z); c = σ(f)c_{t−1} + σ(i)tanh(g); h = σ(o)tanh(c)
 *   mRNN:   m as the mLSTM; h = tanh(x·whxᵀ + m·whmᵀ + b)
 *
 * and reports how far its h, c, m are from the fused kernel's (`check`), so the page never shows
 * numbers that disagree with the model it claims to explain. Runtime-neutral (no DOM, no worker API).
 */
import { Tape, Var, Tensor, ops } from '../../dist/index.js';

/** Longer texts are cut: the heatmap is read by a person, and each character costs a few small gemms. */
export const MAX_INSPECT_CHARS = 400;
const TOP_K = 5;

const sigmoid = (z) => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)));

/** The symbol a token stands for, printable (bytes models show non-ASCII bytes as '·'). */
export function tokenSymbol(vocab, token) {
  if (vocab.kind === 'chars') return vocab.symbols[token];
  return token >= 0x20 && token < 0x7f ? String.fromCharCode(token) : token === 10 ? '\n' : '·';
}

function rowsOf(v, T, D) {
  return new Var(v.value.reshape([T, D]));
}

/**
 * @param model  a CharLM (from dist)
 * @param codec  its TextCodec
 * @param text   the text to read
 * @param layer  which recurrent layer to open (0-based)
 * @returns plain data (typed arrays [T,H] row-major per quantity) that can be posted to the page
 */
export function inspectText(model, codec, text, layer = 0) {
  if (typeof text !== 'string' || text.length === 0) throw new RangeError('look inside: type some text first');
  const L = model.config.layers;
  if (!Number.isInteger(layer) || layer < 0 || layer >= L) throw new RangeError(`look inside: layer must be in 0..${L - 1}, got ${layer}`);
  let tokens = codec.encode(text, 'the text to look inside');
  const truncated = tokens.length > MAX_INSPECT_CHARS;
  if (truncated) tokens = tokens.slice(0, MAX_INSPECT_CHARS);
  const T = tokens.length;
  const H = model.config.hidden;
  const cells = model.rnn.layers.items;
  const tape = new Tape();
  const wasTraining = model.training;
  model.train(false);
  try {
    return tape.noGrad(() => {
      // The engine's own forward, layer by layer (B = 1), keeping the chosen layer's input.
      let x = model.embed.forward(tape, tokens, [T, 1]); // [T,1,E]
      let layerInput = null;
      let fused = null;
      for (let l = 0; l < L; l++) {
        if (l === layer) layerInput = x;
        const r = cells[l].forward(tape, x, cells[l].zeroState(1));
        if (l === layer) fused = r;
        x = r.hs; // [T,1,H]
      }
      const D = layerInput.shape[2];
      const cell = cells[layer];
      const values = recompute(tape, cell.kind, cell.weights(tape), rowsOf(layerInput, T, D), T, H);
      const check = compareWithFused(values, fused, T * H);
      const predictions = predictNext(tape, model, rowsOf(x, T, H), tokens, codec);
      const chars = Array.from(tokens, (t) => tokenSymbol(codec.vocab, t));
      return {
        kind: cell.kind,
        layer,
        layers: L,
        T,
        H,
        D,
        chars,
        truncated,
        series: values,
        check,
        ...predictions,
        unitOrder: unitsByVariance(values.h, T, H),
      };
    });
  } finally {
    model.train(wasTraining);
  }
}

/** Run the cell's equations one step at a time with the engine's linear op; every quantity [T,H]. */
function recompute(tape, kind, w, x, T, H) {
  const out = {};
  const names =
    kind === 'mrnn'
      ? ['xm', 'hm', 'm', 'z', 'h']
      : kind === 'lstm'
        ? ['zi', 'zf', 'zg', 'zo', 'i', 'f', 'g', 'o', 'c', 'h']
        : ['xm', 'hm', 'm', 'zi', 'zf', 'zg', 'zo', 'i', 'f', 'g', 'o', 'c', 'h'];
  for (const n of names) out[n] = new Float32Array(T * H);
  // Input halves of every step at once (they do not depend on the recurrence).
  const G = kind === 'mrnn' ? H : 4 * H;
  const xz = ops.linear(tape, x, kind === 'lstm' ? w.wx : w.whx, w.bias).value.data; // [T,G]
  const xm = kind === 'lstm' ? null : ops.linear(tape, x, w.wmx).value.data; // [T,H]
  const hPrev = new Var(new Tensor(new Float32Array(H), [1, H])); // h_{t−1}, starts at 0
  const cPrev = new Float64Array(H);
  const m = new Var(new Tensor(new Float32Array(H), [1, H]));
  for (let t = 0; t < T; t++) {
    const row = t * H;
    const z = new Float64Array(G);
    for (let k = 0; k < G; k++) z[k] = xz[t * G + k];
    if (kind === 'lstm') {
      const hz = ops.linear(tape, hPrev, w.wh).value.data; // [1,4H]
      for (let k = 0; k < G; k++) z[k] += hz[k];
    } else {
      const hm = ops.linear(tape, hPrev, w.wmh).value.data; // [1,H]
      for (let j = 0; j < H; j++) {
        out.xm[row + j] = xm[row + j];
        out.hm[row + j] = hm[j];
        m.value.data[j] = xm[row + j] * hm[j];
        out.m[row + j] = m.value.data[j];
      }
      const mz = ops.linear(tape, m, w.whm).value.data; // [1,G]
      for (let k = 0; k < G; k++) z[k] += mz[k];
    }
    for (let j = 0; j < H; j++) {
      let h;
      if (kind === 'mrnn') {
        out.z[row + j] = z[j];
        h = Math.tanh(z[j]);
      } else {
        const k = row + j;
        out.zi[k] = z[j];
        out.zf[k] = z[H + j];
        out.zg[k] = z[2 * H + j];
        out.zo[k] = z[3 * H + j];
        const i = (out.i[k] = sigmoid(z[j]));
        const f = (out.f[k] = sigmoid(z[H + j]));
        const g = (out.g[k] = Math.tanh(z[2 * H + j]));
        const o = (out.o[k] = sigmoid(z[3 * H + j]));
        const c = f * cPrev[j] + i * g;
        out.c[k] = c;
        cPrev[j] = c;
        h = o * Math.tanh(c);
      }
      out.h[row + j] = h;
      hPrev.value.data[j] = h;
    }
  }
  return out;
}

function maxAbsDiff(a, b, n) {
  let d = 0;
  for (let k = 0; k < n; k++) d = Math.max(d, Math.abs(a[k] - b[k]));
  return d;
}

/** Largest |recomputed − fused| per quantity: the equations shown are the model's, to float32 rounding. */
function compareWithFused(values, fused, n) {
  const check = { h: maxAbsDiff(values.h, fused.hs.value.data, n) };
  if (values.c && fused.cs) check.c = maxAbsDiff(values.c, fused.cs.data, n);
  if (values.m && fused.ms) check.m = maxAbsDiff(values.m, fused.ms.data, n);
  return check;
}

/** After each character: the model's top-K guesses for the next one, and its surprise at the real one. */
function predictNext(tape, model, hTop, tokens, codec) {
  const T = tokens.length;
  const V = model.config.vocab;
  const logits = model.head.forward(tape, hTop).value.data; // [T,V]
  const probs = new Float64Array(V);
  const top = [];
  const surprisal = new Float32Array(T).fill(NaN); // bits, −log₂ p(actual next)
  for (let t = 0; t < T; t++) {
    let max = -Infinity;
    for (let v = 0; v < V; v++) max = Math.max(max, logits[t * V + v]);
    let sum = 0;
    for (let v = 0; v < V; v++) sum += probs[v] = Math.exp(logits[t * V + v] - max);
    for (let v = 0; v < V; v++) probs[v] /= sum;
    const order = Array.from({ length: V }, (_, v) => v).sort((a, b) => probs[b] - probs[a] || a - b);
    top.push(order.slice(0, TOP_K).map((v) => ({ symbol: tokenSymbol(codec.vocab, v), p: probs[v] })));
    if (t + 1 < T) surprisal[t] = -Math.log2(probs[tokens[t + 1]]);
  }
  return { top, surprisal };
}

/** Hidden units ordered by the variance of h over the text: the busiest first, a good place to start. */
function unitsByVariance(h, T, H) {
  const variance = new Float64Array(H);
  for (let j = 0; j < H; j++) {
    let s = 0;
    let s2 = 0;
    for (let t = 0; t < T; t++) {
      s += h[t * H + j];
      s2 += h[t * H + j] ** 2;
    }
    variance[j] = Math.max(0, s2 / T - (s / T) ** 2);
  }
  return Array.from({ length: H }, (_, j) => j)
    .sort((a, b) => variance[b] - variance[a] || a - b)
    .map((j) => ({ unit: j, variance: variance[j] }));
}
