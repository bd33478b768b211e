import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { gradcheck } from '../src/autograd/gradcheck.js';
import { embedding } from '../src/autograd/ops/index.js';
import { mul } from '../src/autograd/ops/elementwise.js';
import { linear } from '../src/autograd/ops/matmul.js';
import { reshape, stack } from '../src/autograd/ops/shape.js';
import { Tape } from '../src/autograd/tape.js';
import type { Var } from '../src/autograd/var.js';
import { CharLM, type CharLMConfig } from '../src/nn/charlm.js';
import type { CellKind, CellWeights } from '../src/nn/cells/index.js';
import type { LSTMWeights } from '../src/nn/functional/lstm.js';
import type { MLSTMWeights } from '../src/nn/functional/mlstm.js';
import type { MRNNWeights } from '../src/nn/functional/mrnn.js';
import { applyEmbeddingMask, drawWindowMasks, type WindowMasks } from '../src/nn/window-dropout.js';
import { Rng } from '../src/tensor/rng.js';
import { Tensor } from '../src/tensor/tensor.js';
import { evaluate } from '../src/train/evaluate.js';
import { exportTrainerState, importTrainerState } from '../src/train/state.js';
import { Trainer } from '../src/train/trainer.js';
import { randn } from './cells-support.js';
import { lstmReference, mlstmReference, mrnnReference } from './dropout-reference.js';
import { parameterValues, prepare, tinyModel, tinyOptions, wordCorpus } from './train-helpers.js';

/*
 * The paper's regularisation at the model and trainer level (docs/training.md): CharLM with a window's
 * masks equals an explicit composition of plain ops with the same masks (values and every parameter's
 * gradient); embedding dropout is gradient-checked; the trainer draws its masks in the documented order
 * from its seeded generator, a resumed run draws the same ones, and validation never drops.
 */

const data = prepare(wordCorpus(6000, 123));
const noYield = { yieldToHost: () => Promise.resolve() };

describe('embedding dropout: gradcheck', () => {
  it('w.r.t. the embedding table, random [V,E], T, B (incl. 1) and masks', () => {
    fc.assert(
      fc.property(
        fc.record({
          V: fc.integer({ min: 1, max: 6 }),
          E: fc.integer({ min: 1, max: 5 }),
          T: fc.integer({ min: 1, max: 4 }),
          B: fc.integer({ min: 1, max: 3 }),
          p: fc.double({ min: 0.1, max: 0.7, noNaN: true }),
          seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        }),
        ({ V, E, T, B, p, seed }) => {
          const rng = new Rng(seed);
          const tokens = Int32Array.from({ length: T * B }, () => rng.int(V));
          const masks: WindowMasks = { embed: new Tensor(new Float64Array(B * V), [B, V]), hidden: null };
          drawWindowMasks(rng, masks, { embed: p, hidden: 0 });
          gradcheck(
            (tape, table) => applyEmbeddingMask(tape, embedding(tape, table!, tokens, [T, B]), tokens, masks.embed!),
            [randn(rng, [V, E])],
            { atol: 1e-6, rtol: 1e-6 },
          );
        },
      ),
      { numRuns: 50 },
    );
  });
});

/** Stream b's embeddings of the window, each row v of the table scaled by E_mask[b,v] first; [T,B,E]. */
function maskedEmbeddings(tape: Tape, table: Var, tokens: Int32Array, T: number, B: number, mask: Tensor): Var {
  const V = mask.shape[1]!;
  const perStream: Var[] = [];
  for (let b = 0; b < B; b++) {
    const rowScale = tape.constant(new Tensor(mask.data.slice(b * V, (b + 1) * V), [V, 1]));
    const streamTokens = Int32Array.from({ length: T }, (_, t) => tokens[t * B + b]!);
    perStream.push(embedding(tape, mul(tape, table, rowScale), streamTokens, [T])); // [T,E]
  }
  return stack(tape, perStream, 1);
}

/** The whole model as plain ops with explicit masks: per-stream masked tables, reference cells, the head. */
function charlmReference(tape: Tape, model: CharLM, tokens: Int32Array, T: number, B: number, masks: WindowMasks): Var {
  let x = masks.embed
    ? maskedEmbeddings(tape, model.embed.weight, tokens, T, B, masks.embed)
    : embedding(tape, model.embed.weight, tokens, [T, B]);
  const state = model.zeroState(B);
  model.rnn.layers.items.forEach((cell, l) => {
    const w: CellWeights = cell.weights(tape);
    const M = tape.constant(masks.hidden![l]!);
    const { h, c } = state[l]!;
    if (cell.kind === 'mlstm') x = mlstmReference(tape, x, h, c!, w as MLSTMWeights, M).hs;
    else if (cell.kind === 'lstm') x = lstmReference(tape, x, h, c!, w as LSTMWeights, M).hs;
    else x = mrnnReference(tape, x, h, w as MRNNWeights, M).hs;
  });
  return linear(tape, reshape(tape, x, [T * B, model.config.hidden]), model.head.weight, model.head.bias ?? undefined);
}

describe('CharLM with a window of masks equals plain ops with the same explicit masks', () => {
  const cases: [string, CellKind, boolean][] = [
    ['mlstm', 'mlstm', false],
    ['weight-normalised mlstm', 'mlstm', true],
    ['lstm', 'lstm', false],
    ['mrnn', 'mrnn', false],
  ];
  for (const [name, cell, weightNorm] of cases) {
    it(`${name}, 2 layers: logits and every parameter's gradient`, () => {
      const config: CharLMConfig = { cell, weightNorm, vocab: 7, embed: 3, hidden: 5, layers: 2 };
      const model = new CharLM(config, { rng: new Rng(4), dtype: 'float64' });
      const [T, B] = [4, 3];
      const rng = new Rng(9);
      const tokens = Int32Array.from({ length: T * B }, () => rng.int(7));
      const masks = model.windowMasks(B, { embed: 0.4, hidden: 0.3 })!;
      drawWindowMasks(rng, masks, { embed: 0.4, hidden: 0.3 });
      const upstream = randn(new Rng(2), [T * B, 7]);
      const run = (forward: (tape: Tape) => Var): { logits: number[]; grads: Record<string, number[]> } => {
        model.zeroGrad();
        const tape = new Tape();
        const logits = forward(tape);
        tape.backward(logits, upstream);
        return {
          logits: Array.from(logits.data),
          grads: Object.fromEntries(model.namedParameters().map(([n, p]) => [n, Array.from(p.grad!.data)])),
        };
      };
      const fused = run((tape) => model.forward(tape, tokens, T, B, model.zeroState(B), masks).logits);
      const ref = run((tape) => charlmReference(tape, model, tokens, T, B, masks));
      const close = (a: number[], b: number[], what: string): void => {
        expect(a.length, what).toBe(b.length);
        for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!), `${what}[${i}]`).toBeLessThan(1e-10 * (1 + Math.abs(b[i]!)));
      };
      close(fused.logits, ref.logits, 'logits');
      for (const name of Object.keys(ref.grads)) close(fused.grads[name]!, ref.grads[name]!, name);
      // and the masks matter: without them the logits differ
      const plain = model.forward(new Tape(), tokens, T, B, model.zeroState(B)).logits;
      expect(Array.from(plain.data)).not.toEqual(fused.logits);
    });
  }
});

describe('window masks', () => {
  it('are drawn from the generator in the documented order: embedding b-major then v, then each layer b-major then h', () => {
    const model = new CharLM({ cell: 'mlstm', weightNorm: false, vocab: 4, embed: 2, hidden: 3, layers: 2 }, { rng: new Rng(1) });
    const p = { embed: 0.5, hidden: 0.25 };
    const masks = model.windowMasks(2, p)!;
    drawWindowMasks(new Rng(42), masks, p);
    const rng = new Rng(42);
    const expected = (n: number, q: number): number[] => Array.from({ length: n }, () => Math.fround(rng.next() < q ? 0 : 1 / (1 - q)));
    expect(masks.embed!.shape).toEqual([2, 4]);
    expect(Array.from(masks.embed!.data)).toEqual(expected(8, 0.5));
    expect(masks.hidden!.map((m) => m.shape)).toEqual([
      [2, 3],
      [2, 3],
    ]);
    expect(Array.from(masks.hidden![0]!.data)).toEqual(expected(6, 0.25));
    expect(Array.from(masks.hidden![1]!.data)).toEqual(expected(6, 0.25));
    expect(model.windowMasks(2, { embed: 0, hidden: 0 })).toBeNull();
    expect(model.windowMasks(2, { embed: 0, hidden: 0.1 })!.embed).toBeNull();
  });

  it('drop about p of the elements and scale the rest by 1/(1 − p)', () => {
    const model = new CharLM({ cell: 'lstm', weightNorm: false, vocab: 50, embed: 2, hidden: 40, layers: 1 }, { rng: new Rng(1) });
    const masks = model.windowMasks(50, { embed: 0.2, hidden: 0.5 })!;
    drawWindowMasks(new Rng(3), masks, { embed: 0.2, hidden: 0.5 });
    const dropped = (t: Tensor): number => Array.from(t.data).filter((v) => v === 0).length / t.size;
    // 2500 and 2000 Bernoulli draws: 4 standard deviations are 0.032 and 0.045
    expect(Math.abs(dropped(masks.embed!) - 0.2)).toBeLessThan(0.032);
    expect(Math.abs(dropped(masks.hidden![0]!) - 0.5)).toBeLessThan(0.045);
    expect(new Set(masks.hidden![0]!.data)).toEqual(new Set([0, 2]));
    expect(new Set(masks.embed!.data)).toEqual(new Set([0, Math.fround(1 / 0.8)]));
  });
});

describe('Trainer with embedding and hidden dropout', () => {
  const dropout = { embedDropout: 0.1, hiddenDropout: 0.25 };

  it('needs a seeded generator, and probabilities in [0, 1)', () => {
    const model = tinyModel(data.codec.size, 1);
    expect(() => new Trainer(model, data, tinyOptions(dropout))).toThrow(/embedDropout and hiddenDropout need a seeded generator/);
    expect(() => new Trainer(model, data, tinyOptions({ hiddenDropout: 1 }), { rng: new Rng(1) })).toThrow(
      'Trainer: option: hiddenDropout must be in [0, 1), got 1',
    );
    expect(() => new Trainer(model, data, tinyOptions({ embedDropout: -0.1 }), { rng: new Rng(1) })).toThrow(/embedDropout must be in/);
  });

  it('trains differently from no dropout, but validates without dropping (validation = evaluate)', async () => {
    const plain = new Trainer(tinyModel(data.codec.size, 2), data, tinyOptions({ steps: 3 }));
    const dropped = new Trainer(tinyModel(data.codec.size, 2), data, tinyOptions({ steps: 3, ...dropout }), { rng: new Rng(5) });
    const a = plain.trainStep();
    const b = dropped.trainStep();
    expect(b.loss).not.toBe(a.loss);
    expect(dropped.validate()).toBe(evaluate(dropped.model, data.valid, { batch: 8, seq: 16 }).bpc);
    expect(dropped.validate()).toBe(dropped.validate());
    await dropped.run(noYield);
    expect(dropped.model.training).toBe(true);
  });

  it.each([
    ['mlstm', { cell: 'mlstm' }],
    ['weight-normalised mlstm, 2 layers and between-layer dropout too', { layers: 2, weightNorm: true, dropout: 0.2 }],
    ['lstm', { cell: 'lstm' }],
    ['mrnn', { cell: 'mrnn' }],
  ] as const)('N steps + save + resume N steps = 2N uninterrupted steps, bit for bit (%s)', async (_what, overrides) => {
    const N = 12;
    const options = tinyOptions({ steps: 2 * N, ...dropout });
    const build = (seed: number): { model: CharLM; trainer: Trainer } => {
      const model = tinyModel(data.codec.size, seed, overrides);
      return { model, trainer: new Trainer(model, data, options, { rng: model.dropoutRng ?? new Rng(seed).fork() }) };
    };
    const { model: straight, trainer: straightTrainer } = build(3);
    const straightLosses: number[] = [];
    await straightTrainer.run({ ...noYield, onStep: (r) => straightLosses.push(r.loss) });

    const { model: first, trainer: firstTrainer } = build(3);
    const losses: number[] = [];
    await firstTrainer.run({ ...noYield, onStep: (r) => losses.push(r.loss), shouldStop: () => firstTrainer.step === N });
    const saved = exportTrainerState(firstTrainer);
    const savedParams = new Map([...first.stateDict()].map(([n, t]) => [n, t.clone()]));

    const { model: resumed, trainer: resumedTrainer } = build(99); // another seed: everything must come from the saved state
    resumed.loadStateDict(savedParams);
    importTrainerState(resumedTrainer, saved.tensors, saved.metadata, 'saved');
    await resumedTrainer.run({ ...noYield, onStep: (r) => losses.push(r.loss) });
    expect(losses).toEqual(straightLosses);
    expect(parameterValues(resumed)).toEqual(parameterValues(straight));
  });
});
