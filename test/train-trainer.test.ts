import { describe, expect, it } from 'vitest';
import { Trainer, type StepResult } from '../src/train/trainer.js';
import { evaluate } from '../src/train/evaluate.js';
import { exportTrainerState, importTrainerState } from '../src/train/state.js';
import { parameterValues, prepare, tinyModel, tinyOptions, unigramEntropy, WORD_ENTROPY_RATE, wordCorpus } from './train-helpers.js';

const corpus = wordCorpus(6000, 123);
const data = prepare(corpus);
const noYield = { yieldToHost: async () => undefined };

describe('Trainer end to end (8 random words: entropy rate 0.828 bpc)', () => {
  it('reaches validation bpc below entropy rate + 0.1 within 100 steps, from about the unigram entropy', async () => {
    const model = tinyModel(data.codec.size, 1);
    const trainer = new Trainer(model, data, tinyOptions({ steps: 100, validEvery: 50 }));
    const validations: [number, number][] = [];
    const steps: StepResult[] = [];
    const outcome = await trainer.run({ ...noYield, onStep: (r) => steps.push(r), onValidation: (s, b) => validations.push([s, b]) });
    expect(outcome.status).toBe('completed');
    expect(steps.map((s) => s.step)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(steps.every((s) => !s.skipped && Number.isFinite(s.gradNorm))).toBe(true);
    // The first window is scored by an untrained model: within 1 bit of log2(V), far above the unigram entropy.
    expect(steps[0]!.bpc).toBeGreaterThan(unigramEntropy(corpus));
    expect(validations.map(([s]) => s)).toEqual([50, 100]);
    const final = validations[1]![1];
    expect(outcome.validBpc).toBe(final);
    expect(final).toBeLessThan(WORD_ENTROPY_RATE + 0.1);
    expect(final).toBeGreaterThan(WORD_ENTROPY_RATE - 0.1); // nothing beats the source by much
    expect(final).toBe(evaluate(model, data.valid, { batch: 8, seq: 16 }).bpc);
  });

  it('gives bit-identical losses and parameters for the same seed, different ones for another seed', async () => {
    const runOnce = async (seed: number) => {
      const model = tinyModel(data.codec.size, seed);
      const trainer = new Trainer(model, data, tinyOptions({ steps: 30 }));
      const losses: number[] = [];
      await trainer.run({ ...noYield, onStep: (r) => losses.push(r.loss) });
      return { losses, params: parameterValues(model) };
    };
    const a = await runOnce(7);
    const b = await runOnce(7);
    expect(b.losses).toEqual(a.losses);
    expect(b.params).toEqual(a.params);
    expect((await runOnce(8)).losses).not.toEqual(a.losses);
  });
});

describe('resume', () => {
  it.each([
    ['one layer', {}],
    ['two layers with dropout (the mask generator is part of the state)', { layers: 2, dropout: 0.3 }],
  ] as const)('N steps + save + resume N steps = 2N uninterrupted steps, bit for bit (%s)', async (_what, overrides) => {
    const N = 20;
    // seq 16 × batch 8 over 5700 tokens: 44 windows per pass, so 40 steps stay inside one pass and the
    // carried hidden state matters at the resume point.
    const options = tinyOptions({ steps: 2 * N, schedule: { kind: 'cosine', lr: 1e-2, steps: 2 * N } });
    const build = (seed: number): { model: ReturnType<typeof tinyModel>; trainer: Trainer } => {
      const model = tinyModel(data.codec.size, seed, overrides);
      const rng = model.dropoutRng;
      return { model, trainer: new Trainer(model, data, options, rng ? { rng } : {}) };
    };
    const { model: straight, trainer: straightTrainer } = build(3);
    const straightLosses: number[] = [];
    await straightTrainer.run({ ...noYield, onStep: (r) => straightLosses.push(r.loss) });

    const { model: first, trainer: firstTrainer } = build(3);
    const losses: number[] = [];
    const outcome = await firstTrainer.run({ ...noYield, onStep: (r) => losses.push(r.loss), shouldStop: () => firstTrainer.step === N });
    expect(outcome.status).toBe('interrupted');
    const saved = exportTrainerState(firstTrainer);
    const savedParams = new Map([...first.stateDict()].map(([n, t]) => [n, t.clone()]));

    // A different seed: every parameter must come from the saved state, not from initialisation.
    const { model: resumed, trainer: resumedTrainer } = build(99);
    resumed.loadStateDict(savedParams);
    importTrainerState(resumedTrainer, saved.tensors, saved.metadata, 'saved');
    expect(resumedTrainer.step).toBe(N);
    await resumedTrainer.run({ ...noYield, onStep: (r) => losses.push(r.loss) });

    expect(losses).toEqual(straightLosses);
    expect(parameterValues(resumed)).toEqual(parameterValues(straight));
    expect(Array.from(resumedTrainer.history)).toEqual(Array.from(straightTrainer.history));
  });

  it('refuses other training data, another batch, and a checkpoint without training state', () => {
    const model = tinyModel(data.codec.size, 3);
    const trainer = new Trainer(model, data, tinyOptions());
    trainer.trainStep();
    const saved = exportTrainerState(trainer);
    const other = prepare(wordCorpus(6000, 124));
    expect(() =>
      importTrainerState(new Trainer(tinyModel(data.codec.size, 3), other, tinyOptions()), saved.tensors, saved.metadata, 'ckpt'),
    ).toThrow(/ckpt: the training text differs/);
    expect(() =>
      importTrainerState(
        new Trainer(tinyModel(data.codec.size, 3), data, tinyOptions({ batch: 4, validBatch: 4 })),
        saved.tensors,
        saved.metadata,
        'ckpt',
      ),
    ).toThrow(/ckpt: the run used --batch 8, not 4/);
    expect(() => importTrainerState(new Trainer(tinyModel(data.codec.size, 3), data, tinyOptions()), saved.tensors, {}, 'ckpt')).toThrow(
      /ckpt has no training state/,
    );
  });
});

describe('non-finite steps', () => {
  it('skip the update with a warning and stop the run after maxBadSteps in a row', async () => {
    const model = tinyModel(data.codec.size, 5);
    const trainer = new Trainer(model, data, tinyOptions({ steps: 50, maxBadSteps: 3 }));
    await trainer.run({ ...noYield, shouldStop: () => trainer.step === 5 });
    const before = parameterValues(model);
    const updates = trainer.optimizer.stepCount;
    model.head.bias!.value.data[0] = NaN; // every loss from now on is NaN
    const warnings: string[] = [];
    const checkpoints: string[] = [];
    const outcome = await trainer.run({ ...noYield, onWarning: (w) => warnings.push(w), onCheckpoint: (r) => void checkpoints.push(r) });
    expect(outcome.status).toBe('diverged');
    expect(outcome.message).toMatch(/3 non-finite steps in a row/);
    expect(warnings).toEqual([6, 7, 8].map((s, i) => `step ${s}: loss NaN is not finite; update skipped (${i + 1} in a row)`));
    expect(checkpoints).toEqual([]); // the last good checkpoint is kept
    expect(trainer.optimizer.stepCount).toBe(updates);
    const after = parameterValues(model);
    after['head.bias']![0] = before['head.bias']![0]!;
    expect(after).toEqual(before);
    expect(Array.from(trainer.history.subarray(5)).every(Number.isNaN)).toBe(true);
  });
});
