/**
 * Feature vectors of texts from a trained character model, without gradients.
 *
 * Batching: texts of different lengths share a batch by RIGHT-PADDING. This is exact, not an
 * approximation: the recurrence is causal, so the padding steps after a text's end never influence
 * that text's states at or before its end, and we read each text's feature at (or averaged up to) its
 * own last step. No masking inside the cell is needed. The only cost is the wasted work on padding,
 * which we keep small by sorting the texts by length first, so a batch holds texts of similar length.
 * (A text's feature depends on nothing else in its batch; test/features-extract.test.ts checks that
 * one-at-a-time and batched extraction agree.)
 *
 * Long texts are run in windows of `window` steps with the state carried across, which bounds the
 * memory of the per-step buffers ([window,B,H]) without changing any value.
 */
import { tapeFor, type ComputeOptions } from '../train/default-tape.js';
import type { Tensor } from '../tensor/tensor.js';
import type { CharLM } from '../nn/charlm.js';
import type { LayerState } from '../nn/state.js';
import { inEvalMode } from '../train/model.js';

/**
 * How a text's states become one feature vector, all from the top layer:
 * - `mean`: the mean of its h_t over the text's steps, [H] (the default);
 * - `last`: its final cell state c_T (h_T for the mRNN, which has no c), [H];
 * - `mean+last`: the two side by side, [2H]: columns 0..H−1 are `mean`, H..2H−1 are `last`.
 *
 * `mean` is the default because on both real tasks measured here it is the better one by far with a
 * small model (spam e-mail: 91.8% against 73.9% for `last`, examples/spam/RESULTS.md): the end of a
 * text, often a signature or a cut-off line, says less about it than the whole of it does. `last` is
 * what Radford et al. (2017) read from a 4096-unit model.
 */
export type Pool = 'mean' | 'last' | 'mean+last';
export const POOLS: readonly Pool[] = ['mean', 'last', 'mean+last'];
export const DEFAULT_POOL: Pool = 'mean';

/** Columns of a feature row for `hidden` units: H, or 2H for `mean+last`. */
export function featureWidth(pool: Pool, hidden: number): number {
  return pool === 'mean+last' ? 2 * hidden : hidden;
}

/** What each block of a pool's columns holds, for reports ("mean hidden state h", …). */
export function describePool(pool: Pool): string {
  switch (pool) {
    case 'mean':
      return 'mean hidden state h';
    case 'last':
      return 'final cell state c';
    case 'mean+last':
      return 'mean hidden state h, then final cell state c';
  }
}

/** A dense row-major matrix [rows, cols]. */
export interface FeatureMatrix {
  data: Float32Array; // [rows, cols]
  rows: number;
  cols: number;
}

export interface ExtractOptions extends ComputeOptions {
  pool?: Pool;
  /** Texts per forward pass (default 32). */
  batch?: number;
  /** Time steps per forward call (default 256); only memory depends on it. */
  window?: number;
  /** Called after each batch with the number of texts done so far. */
  onProgress?: (done: number, total: number) => void;
}

function checkPositiveInt(op: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`${op}: ${name} must be a positive integer, got ${v}`);
}

/** Indices of `sequences` ordered by decreasing length (stable, so ties keep input order). */
export function lengthOrder(sequences: readonly ArrayLike<number>[]): number[] {
  return sequences.map((_, i) => i).sort((a, b) => sequences[b]!.length - sequences[a]!.length || a - b);
}

/**
 * One feature row (featureWidth(pool, H) columns) per sequence of token ids (each non-empty, every
 * id < vocab), in input order. Dropout is off and nothing is recorded on the tape.
 */
export function extractFeatures(model: CharLM, sequences: readonly Int32Array[], options: ExtractOptions = {}): FeatureMatrix {
  const op = 'extractFeatures';
  const pool = options.pool ?? DEFAULT_POOL;
  const batch = options.batch ?? 32;
  const window = options.window ?? 256;
  if (!POOLS.includes(pool)) throw new RangeError(`${op}: pool must be one of ${POOLS.join(', ')}, got ${JSON.stringify(pool)}`);
  checkPositiveInt(op, 'batch', batch);
  checkPositiveInt(op, 'window', window);
  const V = model.config.vocab;
  sequences.forEach((s, i) => {
    if (s.length === 0) throw new RangeError(`${op}: sequence ${i} is empty; a feature needs at least one token`);
    for (let t = 0; t < s.length; t++) {
      const id = s[t]!;
      if (!(id >= 0 && id < V))
        throw new RangeError(`${op}: sequence ${i} has token ${id} at position ${t}, outside the vocabulary of ${V}`);
    }
  });
  const H = model.config.hidden;
  const N = sequences.length;
  const cols = featureWidth(pool, H);
  const useMean = pool !== 'last';
  const useLast = pool !== 'mean';
  const lastCol = pool === 'mean+last' ? H : 0; // where the `last` block starts in a row
  const out = new Float32Array(N * cols); // [N,cols]
  const order = lengthOrder(sequences);
  const tape = tapeFor(options);
  const maxB = Math.min(batch, Math.max(N, 1));
  const tokens = new Int32Array(window * maxB); // [T,B], reused by every window
  const sums = new Float64Array(maxB * H); // [B,H] running sums of h_t for pool = mean

  inEvalMode(model, () =>
    tape.noGrad(() => {
      for (let first = 0; first < N; first += batch) {
        const members = order.slice(first, first + batch);
        const B = members.length;
        const lengths = members.map((i) => sequences[i]!.length);
        const longest = lengths[0]!; // sorted by decreasing length
        sums.fill(0);
        let state: LayerState[] = model.zeroState(B);
        for (let start = 0; start < longest; start += window) {
          const T = Math.min(window, longest - start);
          for (let b = 0; b < B; b++) {
            const seq = sequences[members[b]!]!;
            for (let t = 0; t < T; t++) tokens[t * B + b] = start + t < seq.length ? seq[start + t]! : 0; // pad with token 0
          }
          const xs = model.embed.forward(tape, tokens.subarray(0, T * B), [T, B]); // [T,B,E]
          const r = model.rnn.forward(tape, xs, state);
          state = r.state;
          const top = r.cs.length - 1;
          if (useLast) {
            const source: Tensor = r.cs[top] ?? r.hs.value; // [T,B,H]
            for (let b = 0; b < B; b++) {
              const t = lengths[b]! - 1 - start;
              if (t >= 0 && t < T) copyRow(source.data, (t * B + b) * H, out, members[b]! * cols + lastCol, H);
            }
          }
          if (useMean) {
            const hs = r.hs.value.data; // [T,B,H]
            for (let b = 0; b < B; b++) {
              const steps = Math.min(T, lengths[b]! - start);
              for (let t = 0; t < steps; t++) {
                const from = (t * B + b) * H;
                for (let j = 0; j < H; j++) sums[b * H + j]! += hs[from + j]!;
              }
            }
          }
        }
        if (useMean) {
          for (let b = 0; b < B; b++) {
            const row = members[b]! * cols;
            for (let j = 0; j < H; j++) out[row + j] = sums[b * H + j]! / lengths[b]!;
          }
        }
        options.onProgress?.(Math.min(first + batch, N), N);
      }
    }),
  );
  return { data: out, rows: N, cols };
}

function copyRow(from: ArrayLike<number>, fromOffset: number, to: Float32Array, toOffset: number, n: number): void {
  for (let j = 0; j < n; j++) to[toOffset + j] = from[fromOffset + j]!;
}

/**
 * Every feature column's value at every step of one text [T, featureWidth(pool, H)]: h_t in the
 * columns of a `mean` block (whose average is the feature), the top layer's c_t in those of a `last`
 * block (whose final value is the feature). For pictures of a unit.
 */
export function unitTraces(
  model: CharLM,
  tokens: Int32Array,
  pool: Pool = DEFAULT_POOL,
  options: { window?: number } & ComputeOptions = {},
): FeatureMatrix {
  const op = 'unitTraces';
  if (tokens.length === 0) throw new RangeError(`${op}: the text is empty`);
  if (!POOLS.includes(pool)) throw new RangeError(`${op}: pool must be one of ${POOLS.join(', ')}, got ${JSON.stringify(pool)}`);
  const window = options.window ?? 256;
  checkPositiveInt(op, 'window', window);
  const V = model.config.vocab;
  for (let t = 0; t < tokens.length; t++) {
    if (!(tokens[t]! >= 0 && tokens[t]! < V))
      throw new RangeError(`${op}: token ${tokens[t]} at position ${t} is outside the vocabulary of ${V}`);
  }
  const H = model.config.hidden;
  const cols = featureWidth(pool, H);
  const lastCol = pool === 'mean+last' ? H : 0;
  const out = new Float32Array(tokens.length * cols); // [T,cols]
  const tape = tapeFor(options);
  inEvalMode(model, () =>
    tape.noGrad(() => {
      let state: LayerState[] = model.zeroState(1);
      for (let start = 0; start < tokens.length; start += window) {
        const T = Math.min(window, tokens.length - start);
        const xs = model.embed.forward(tape, tokens.subarray(start, start + T), [T, 1]);
        const r = model.rnn.forward(tape, xs, state);
        state = r.state;
        const hs = r.hs.value.data; // [T,1,H]
        const cs = (r.cs[r.cs.length - 1] ?? r.hs.value).data; // [T,1,H]
        for (let t = 0; t < T; t++) {
          const row = (start + t) * cols;
          if (pool !== 'last') copyRow(hs, t * H, out, row, H);
          if (pool !== 'mean') copyRow(cs, t * H, out, row + lastCol, H);
        }
      }
    }),
  );
  return { data: out, rows: tokens.length, cols };
}
