import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Rng } from '../src/tensor/rng.js';
import { Tensor } from '../src/tensor/tensor.js';
import { Tape } from '../src/autograd/tape.js';
import type { Var } from '../src/autograd/var.js';
import { mlstmSequence, type MLSTMWeights } from '../src/nn/functional/mlstm.js';
import { mrnnStep, type MRNNWeights } from '../src/nn/functional/mrnn.js';
import { createCell, type CellKind } from '../src/nn/cells/index.js';
import type { LayerState } from '../src/nn/state.js';
import { cellSizesArb, maxRelDiff, pack, randn, type CellSizes } from './cells-support.js';

/*
 * Mathematical identities of the cells (float64), each with its expected side computed by an
 * independent route: rescaling symmetries, the degenerate LSTM case, bilinearity of m, step-by-step
 * versus fused windows, and truncation of the gradient at a detached state.
 */

const EXACT = 1e-12;

function scaled(t: Tensor, alpha: number): Tensor {
  return new Tensor(
    t.data.map((v) => v * alpha),
    t.shape,
  );
}

function mlstmInputs(tape: Tape, { T, B, D, H, seed }: CellSizes) {
  const rng = new Rng(seed);
  const mat = (r: number, c: number): Tensor => randn(rng, [r, c], 1.5 / Math.sqrt(c));
  return {
    x: tape.constant(randn(rng, [T, B, D])),
    h0: tape.constant(randn(rng, [B, H], 0.5)),
    c0: tape.constant(randn(rng, [B, H], 0.5)),
    w: { wmx: mat(H, D), wmh: mat(H, H), whx: mat(4 * H, D), whm: mat(4 * H, H), bias: randn(rng, [4 * H], 0.5) },
  };
}

function asVars(tape: Tape, w: Record<keyof MLSTMWeights, Tensor>): MLSTMWeights {
  return {
    wmx: tape.constant(w.wmx),
    wmh: tape.constant(w.wmh),
    whx: tape.constant(w.whx),
    whm: tape.constant(w.whm),
    bias: tape.constant(w.bias),
  };
}

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

describe('mLSTM invariants', () => {
  it('wmx·α with whm/α leaves h and c unchanged and scales m by α', () => {
    const alphaArb = fc.tuple(fc.double({ min: 0.2, max: 5, noNaN: true }), fc.boolean()).map(([a, neg]) => (neg ? -a : a));
    fc.assert(
      fc.property(cellSizesArb, alphaArb, (sizes, alpha) => {
        const tape = new Tape();
        const { x, h0, c0, w } = mlstmInputs(tape, sizes);
        const base = mlstmSequence(tape, x, h0, c0, asVars(tape, w));
        const moved = mlstmSequence(tape, x, h0, c0, asVars(tape, { ...w, wmx: scaled(w.wmx, alpha), whm: scaled(w.whm, 1 / alpha) }));
        expect(maxRelDiff(moved.hs.data, base.hs.data)).toBeLessThan(EXACT);
        expect(maxRelDiff(moved.cs.data, base.cs.data)).toBeLessThan(EXACT);
        expect(maxRelDiff(moved.state.c!.data, base.state.c!.data)).toBeLessThan(EXACT);
        expect(maxRelDiff(moved.ms.data, scaled(base.ms, alpha).data)).toBeLessThan(EXACT);
      }),
      { numRuns: 50 },
    );
  });

  it('with wmh = 0, m vanishes and the cell is the LSTM z = x·whxᵀ + bias (whm has no effect)', () => {
    fc.assert(
      fc.property(cellSizesArb, (sizes) => {
        const { T, B, D, H } = sizes;
        const tape = new Tape();
        const { x, h0, c0, w } = mlstmInputs(tape, sizes);
        const r = mlstmSequence(tape, x, h0, c0, asVars(tape, { ...w, wmh: new Tensor(new Float64Array(H * H), [H, H]) }));
        for (const v of r.ms.data) expect(v === 0).toBe(true); // ±0: XM ⊙ 0
        // Independent recurrence straight from the equations with m ≡ 0.
        const c = Float64Array.from(c0.data);
        const hsRef: number[] = [];
        const csRef: number[] = [];
        for (let t = 0; t < T; t++) {
          for (let b = 0; b < B; b++) {
            const z = (gate: number, j: number): number => {
              let s = w.bias.data[gate * H + j]!;
              for (let d = 0; d < D; d++) s += x.data[(t * B + b) * D + d]! * w.whx.data[(gate * H + j) * D + d]!;
              return s;
            };
            for (let j = 0; j < H; j++) {
              const cell = sigmoid(z(1, j)) * c[b * H + j]! + sigmoid(z(0, j)) * Math.tanh(z(2, j));
              c[b * H + j] = cell;
              hsRef.push(sigmoid(z(3, j)) * Math.tanh(cell));
              csRef.push(cell);
            }
          }
        }
        expect(maxRelDiff(r.hs.data, hsRef)).toBeLessThan(EXACT);
        expect(maxRelDiff(r.cs.data, csRef)).toBeLessThan(EXACT);
      }),
      { numRuns: 50 },
    );
  });
});

describe('mRNN invariants', () => {
  it('m is bilinear in (x, h): m(αx, βh) = αβ·m(x, h) and additive in x and in h', () => {
    const scalarArb = fc.double({ min: -3, max: 3, noNaN: true });
    fc.assert(
      fc.property(cellSizesArb, scalarArb, scalarArb, ({ B, D, H, seed }, alpha, beta) => {
        const rng = new Rng(seed);
        const tape = new Tape();
        const w: MRNNWeights = {
          wmx: tape.constant(randn(rng, [H, D])),
          wmh: tape.constant(randn(rng, [H, H])),
          whx: tape.constant(randn(rng, [H, D])),
          whm: tape.constant(randn(rng, [H, H])),
          bias: tape.constant(randn(rng, [H])),
        };
        const [x1, x2] = [randn(rng, [B, D]), randn(rng, [B, D])];
        const [h1, h2] = [randn(rng, [B, H]), randn(rng, [B, H])];
        const m = (x: Tensor, h: Tensor): Float64Array => mrnnStep(tape, tape.constant(x), tape.constant(h), w).m.data as Float64Array;
        const add = (a: Tensor, b: Tensor): Tensor =>
          new Tensor(
            a.data.map((v, i) => v + b.data[i]!),
            a.shape,
          );
        const base = m(x1, h1);
        expect(
          maxRelDiff(
            m(scaled(x1, alpha), scaled(h1, beta)),
            base.map((v) => alpha * beta * v),
          ),
        ).toBeLessThan(EXACT);
        expect(
          maxRelDiff(
            m(add(x1, x2), h1),
            base.map((v, i) => v + m(x2, h1)[i]!),
          ),
        ).toBeLessThan(EXACT);
        expect(
          maxRelDiff(
            m(x1, add(h1, h2)),
            base.map((v, i) => v + m(x1, h2)[i]!),
          ),
        ).toBeLessThan(EXACT);
      }),
      { numRuns: 50 },
    );
  });
});

const kindArb = fc.constantFrom<CellKind>('mlstm', 'lstm', 'mrnn');
const wnArb = fc.boolean();

function makeCell(kind: CellKind, weightNorm: boolean, { D, H, seed }: CellSizes) {
  return createCell(kind, {
    inputSize: D,
    hiddenSize: H,
    rng: new Rng(seed),
    dtype: 'float64',
    weightNorm: kind === 'mlstm' && weightNorm,
    init: { input: 'fanIn', recurrent: 'orthogonal' },
  });
}

function initialState(tape: Tape, kind: CellKind, B: number, H: number, rng: Rng): LayerState {
  return { h: tape.leaf(randn(rng, [B, H], 0.5), 'h0'), c: kind === 'mrnn' ? null : tape.leaf(randn(rng, [B, H], 0.5), 'c0') };
}

describe('step-by-step equals the fused window', () => {
  it('T calls of step give forward’s outputs, final state and gradients (all cells, with and without weight norm)', () => {
    fc.assert(
      fc.property(cellSizesArb, kindArb, wnArb, (sizes, kind, wn) => {
        const { T, B, D, H, seed } = sizes;
        const cell = makeCell(kind, wn, sizes);
        const rng = new Rng(seed + 1);
        const xs = randn(rng, [T, B, D]);
        const upstream = randn(rng, [T * B * H + B * H]);
        const s0 = { h: randn(rng, [B, H], 0.5), c: randn(rng, [B, H], 0.5) };

        const fusedTape = new Tape();
        const hF = fusedTape.leaf(s0.h);
        const cF = kind === 'mrnn' ? null : fusedTape.leaf(s0.c);
        const fused = cell.forward(fusedTape, fusedTape.leaf(xs), { h: hF, c: cF });
        fusedTape.backward(pack(fusedTape, fused.hs, fused.state.c ?? fused.state.h), upstream);
        const fusedGrads = cell.parameters().map((p) => Float64Array.from(p.grad!.data));
        const fusedH0 = Float64Array.from(hF.grad!.data);
        cell.zeroGrad();

        const stepTape = new Tape();
        const hS = stepTape.leaf(s0.h);
        const cS = kind === 'mrnn' ? null : stepTape.leaf(s0.c);
        let state: LayerState = { h: hS, c: cS };
        const weights = cell.weights(stepTape);
        const hs: Var[] = [];
        const ms: number[] = [];
        const cs: number[] = [];
        for (let t = 0; t < T; t++) {
          const x = stepTape.leaf(new Tensor(xs.data.slice(t * B * D, (t + 1) * B * D), [B, D]));
          const r = cell.step(stepTape, x, state, weights);
          hs.push(r.h);
          if (r.m) ms.push(...r.m.data);
          if (r.c) cs.push(...r.c.data);
          state = r;
        }
        stepTape.backward(pack(stepTape, ...hs, state.c ?? state.h), upstream);

        expect(
          maxRelDiff(
            hs.flatMap((h) => [...h.data]),
            fused.hs.data,
          ),
        ).toBeLessThan(EXACT);
        expect(maxRelDiff(state.h.data, fused.state.h.data)).toBeLessThan(EXACT);
        if (fused.cs) expect(maxRelDiff(cs, fused.cs.data)).toBeLessThan(EXACT);
        if (fused.ms) expect(maxRelDiff(ms, fused.ms.data)).toBeLessThan(EXACT);
        cell.parameters().forEach((p, i) => expect(maxRelDiff(p.grad!.data, fusedGrads[i]!), p.name).toBeLessThan(1e-10));
        expect(maxRelDiff(hS.grad!.data, fusedH0)).toBeLessThan(1e-10);
      }),
      { numRuns: 40 },
    );
  });
});

describe('truncated BPTT', () => {
  it('gradients through two windows with a detached state between them equal the second window alone', () => {
    fc.assert(
      fc.property(cellSizesArb, kindArb, wnArb, (sizes, kind, wn) => {
        const { T, B, D, H, seed } = sizes;
        const cell = makeCell(kind, wn, sizes);
        const rng = new Rng(seed + 7);
        const x1 = randn(rng, [T, B, D]);
        const x2 = randn(rng, [T, B, D]);
        const upstream = randn(rng, [T, B, H]);

        const tape = new Tape();
        const first = cell.forward(tape, tape.leaf(x1), initialState(tape, kind, B, H, rng));
        const carried: LayerState = { h: first.state.h.detach(), c: first.state.c ? first.state.c.detach() : null };
        const second = cell.forward(tape, tape.leaf(x2), carried);
        tape.backward(second.hs, upstream);
        const both = cell.parameters().map((p) => Float64Array.from(p.grad!.data));
        cell.zeroGrad();

        const alone = new Tape();
        const state: LayerState = { h: alone.constant(first.state.h.value), c: first.state.c ? alone.constant(first.state.c.value) : null };
        alone.backward(cell.forward(alone, alone.leaf(x2), state).hs, upstream);
        cell.parameters().forEach((p, i) => expect(maxRelDiff(both[i]!, p.grad!.data), p.name).toBe(0));
      }),
      { numRuns: 30 },
    );
  });
});
