import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Tape } from '../src/autograd/tape.js';
import { planBudget, runSeconds, type CellTiming } from '../src/compare/budget.js';
import { calibrate, comparisonModel, runComparisonOne, type ComparisonRun, type ComparisonSetup } from '../src/compare/experiment.js';
import { differingSettings, parseComparisonReport } from '../src/compare/report.js';
import { matchSizes, parameterCount } from '../src/compare/sizes.js';
import { meanAndSd, summarise } from '../src/compare/summary.js';
import { CELL_KINDS, type CellKind } from '../src/nn/cells/index.js';
import { CharLM } from '../src/nn/charlm.js';
import { Rng } from '../src/tensor/rng.js';
import { dynamicEvaluate } from '../src/train/dynamic-eval.js';
import { evaluate } from '../src/train/evaluate.js';
import { prepare, tinyOptions, wordCorpus } from './train-helpers.js';

const cellArb = fc.constantFrom<CellKind>(...CELL_KINDS);

describe('parameter counts', () => {
  it('the closed form equals the parameters CharLM builds, for every cell and shape (sizes 1 included)', () => {
    fc.assert(
      fc.property(
        cellArb,
        fc.record({
          vocab: fc.integer({ min: 1, max: 40 }),
          embed: fc.integer({ min: 1, max: 12 }),
          layers: fc.integer({ min: 1, max: 3 }),
        }),
        fc.integer({ min: 1, max: 24 }),
        (cell, shape, hidden) => {
          const model = new CharLM({ cell, weightNorm: false, hidden, ...shape }, { rng: new Rng(1) });
          expect(parameterCount(cell, hidden, shape)).toBe(model.parameters().reduce((n, p) => n + p.size, 0));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('matchSizes picks, for each cell, the hidden size whose count is nearest the reference (no neighbour is nearer)', () => {
    fc.assert(
      fc.property(
        cellArb,
        fc.integer({ min: 4, max: 600 }),
        fc.record({
          vocab: fc.integer({ min: 2, max: 300 }),
          embed: fc.integer({ min: 1, max: 64 }),
          layers: fc.integer({ min: 1, max: 3 }),
        }),
        (reference, hidden, shape) => {
          const sizes = matchSizes(CELL_KINDS, { cell: reference, hidden }, shape);
          const target = parameterCount(reference, hidden, shape);
          for (const s of sizes) {
            expect(s.params).toBe(parameterCount(s.cell, s.hidden, shape));
            expect(s.difference).toBeCloseTo(s.params / target - 1, 12);
            const gap = Math.abs(s.params - target);
            for (const h of [s.hidden - 1, s.hidden + 1].filter((h) => h >= 1))
              expect(Math.abs(parameterCount(s.cell, h, shape) - target)).toBeGreaterThanOrEqual(gap);
          }
          expect(sizes.find((s) => s.cell === reference)).toMatchObject({ hidden, difference: 0 });
        },
      ),
      { numRuns: 200 },
    );
  });

  it('from H = 100 up the three cells match within 1% (the default mLSTM H = 128 on Moby-Dick: LSTM 144, mRNN 204)', () => {
    for (let hidden = 100; hidden <= 1024; hidden += 7) {
      for (const s of matchSizes(CELL_KINDS, { cell: 'mlstm', hidden }, { vocab: 83, embed: 32, layers: 1 }))
        expect(Math.abs(s.difference), `${s.cell} at ${hidden}`).toBeLessThan(0.01);
    }
    expect(matchSizes(CELL_KINDS, { cell: 'mlstm', hidden: 128 }, { vocab: 83, embed: 32, layers: 1 }).map((s) => s.hidden)).toEqual([
      128, 144, 204,
    ]);
  });
});

describe('planBudget', () => {
  const timingArb = fc.record({
    cell: fc.constant('c'),
    secondsPerStep: fc.double({ min: 0.01, max: 2, noNaN: true }),
    evalCharsPerSecond: fc.double({ min: 1000, max: 50000, noNaN: true }),
    dynamicCharsPerSecond: fc.double({ min: 500, max: 10000, noNaN: true }),
  });

  it('the plan fits what is left of the budget, and one more step per run would not', () => {
    fc.assert(
      fc.property(
        fc.array(timingArb, { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 100, max: 50000 }),
        fc.integer({ min: 1, max: 10 }),
        (timings, seeds, evalChars, curvePoints) => {
          const request = { budgetSeconds: 3600, spentSeconds: 60, seeds, evalChars, curvePoints };
          let plan;
          try {
            plan = planBudget(timings, request);
          } catch (e) {
            expect((e as Error).message).toMatch(/leaves fewer than 10 training steps per run/);
            return;
          }
          const available = (3600 - 60) * 0.9;
          // what the plan solves for: every run with the curve's full curvePoints + 1 evaluations
          const bound = (steps: number): number =>
            seeds *
            timings.reduce(
              (s, t) =>
                s + steps * t.secondsPerStep + ((curvePoints + 1) * evalChars) / t.evalCharsPerSecond + evalChars / t.dynamicCharsPerSecond,
              0,
            );
          expect(bound(plan.steps)).toBeLessThanOrEqual(available * (1 + 1e-12));
          expect(bound(plan.steps + 1)).toBeGreaterThan(available);
          const estimate = seeds * timings.reduce((s, t) => s + runSeconds(t, plan.steps, plan.validEvery, evalChars), 0);
          expect(plan.estimatedSeconds).toBeCloseTo(estimate, 6);
          expect(plan.estimatedSeconds).toBeLessThanOrEqual(bound(plan.steps) * (1 + 1e-12));
          expect(plan.validEvery).toBe(Math.ceil(plan.steps / curvePoints));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('a budget too small says what it would need', () => {
    const t: CellTiming = { cell: 'mlstm', secondsPerStep: 1, evalCharsPerSecond: 10000, dynamicCharsPerSecond: 2000 };
    expect(() => planBudget([t, t, t], { budgetSeconds: 60, spentSeconds: 10, seeds: 3, evalChars: 20000, curvePoints: 8 })).toThrow(
      /a budget of 1\.0 minutes leaves fewer than 10 training steps per run \(3 seeds × 3 cells\); it needs at least \d+\.\d minutes/,
    );
  });
});

describe('summary', () => {
  it('mean and sample standard deviation', () => {
    expect(meanAndSd([1, 2, 3, 4])).toEqual({ mean: 2.5, sd: Math.sqrt(5 / 3), n: 4 });
    expect(meanAndSd([2])).toMatchObject({ mean: 2, n: 1 });
    expect(meanAndSd([2]).sd).toBeNaN();
    expect(meanAndSd([]).mean).toBeNaN();
  });

  it('per cell over the completed runs; diverged runs are counted, not averaged', () => {
    const run = (cell: string, seed: number, valid: number | null, status: ComparisonRun['status'] = 'completed'): ComparisonRun => ({
      cell,
      hidden: 4,
      params: 10,
      seed,
      status,
      valid_bpc: valid,
      dynamic_bpc: valid === null ? null : valid - 0.1,
      chars_per_s: 100 * seed,
      train_seconds: 1,
      chars: 10,
      curve: [],
    });
    const sizes = [
      { cell: 'mlstm' as const, hidden: 4, params: 10, difference: 0 },
      { cell: 'lstm' as const, hidden: 5, params: 10, difference: 0 },
    ];
    const [a, b] = summarise(sizes, [run('mlstm', 1, 2), run('mlstm', 2, 3), run('mlstm', 3, null, 'diverged')]);
    expect(a).toMatchObject({ cell: 'mlstm', completed: 2, diverged: 1, valid: { mean: 2.5, n: 2 }, charsPerSecond: { mean: 200, n: 3 } });
    expect(a!.dynamic.mean).toBeCloseTo(2.4, 12);
    expect(b).toMatchObject({ cell: 'lstm', completed: 0, diverged: 0, valid: { n: 0 } });
  });
});

describe('a comparison run', () => {
  const data = prepare(wordCorpus(5000, 31));
  const setup: ComparisonSetup = {
    shape: { vocab: data.codec.size, embed: 6, layers: 1 },
    trainer: tinyOptions({ steps: 9, validEvery: 4, validBatch: 1, schedule: { kind: 'cosine', lr: 1e-2, steps: 9 } }),
    dynamic: { lr: 0.05, seq: 20 },
    train: data.train,
    evalText: data.valid.subarray(0, 200),
  };
  const size = { cell: 'lstm' as const, hidden: 10, params: parameterCount('lstm', 10, setup.shape), difference: 0 };
  let now = 0;
  const hooks = () => ({ tape: new Tape(), clock: () => (now += 5) });

  it('records the curve from step 0 to the end, scores the evaluation text plainly (the last point) and dynamically', async () => {
    const done = (await runComparisonOne(setup, size, 4, hooks()))!;
    const { run, model } = done;
    expect(run).toMatchObject({ cell: 'lstm', hidden: 10, seed: 4, status: 'completed', chars: 9 * 8 * 16 });
    expect(run.curve.map((p) => p.step)).toEqual([0, 4, 8, 9]);
    expect(run.curve.map((p) => p.chars)).toEqual([0, 4, 8, 9].map((s) => s * 8 * 16));
    expect(run.curve[0]!.bpc).toBe(evaluate(comparisonModel(setup, size, 4), setup.evalText, { seq: 16, tape: new Tape() }).bpc);
    expect(run.valid_bpc).toBe(run.curve[3]!.bpc);
    expect(run.valid_bpc).toBe(evaluate(model, setup.evalText, { seq: 16, tape: new Tape() }).bpc); // the hooks' tape: the JS kernels
    expect(run.dynamic_bpc).toBe(dynamicEvaluate(model, setup.evalText, { ...setup.dynamic, tape: new Tape() }).bpc);
    // the fake clock ticks 5 ms per reading: training time counts step readings only
    expect(run.train_seconds).toBeGreaterThan(0);
    expect(run.chars_per_s).toBeCloseTo(run.chars / run.train_seconds, 6);
    for (let i = 1; i < run.curve.length; i++) expect(run.curve[i]!.seconds).toBeGreaterThanOrEqual(run.curve[i - 1]!.seconds);
  });

  it('is deterministic given its seed, differs with another, and a stop request abandons it', async () => {
    const scores = (r: ComparisonRun): unknown => [r.valid_bpc, r.dynamic_bpc, r.curve.map((p) => p.bpc)];
    const a = (await runComparisonOne(setup, size, 1, hooks()))!.run;
    const b = (await runComparisonOne(setup, size, 1, hooks()))!.run;
    const c = (await runComparisonOne(setup, size, 2, hooks()))!.run;
    expect(scores(b)).toEqual(scores(a));
    expect(scores(c)).not.toEqual(scores(a));
    let steps = 0;
    const stopped = await runComparisonOne(setup, size, 1, { ...hooks(), onStep: () => steps++, shouldStop: () => steps >= 3 });
    expect(stopped).toBeNull();
  });

  it('with embedding and hidden dropout: trains on its own seeded masks, still deterministic', async () => {
    const dropped: ComparisonSetup = { ...setup, trainer: { ...setup.trainer, embedDropout: 0.1, hiddenDropout: 0.2 } };
    const a = (await runComparisonOne(dropped, size, 1, hooks()))!.run;
    const b = (await runComparisonOne(dropped, size, 1, hooks()))!.run;
    const plain = (await runComparisonOne(setup, size, 1, hooks()))!.run;
    expect(a.valid_bpc).toBe(b.valid_bpc);
    expect(a.valid_bpc).not.toBe(plain.valid_bpc);
  });

  it('calibration times training and both evaluations', async () => {
    const t = await calibrate(setup, size, hooks(), { warmup: 1, steps: 2, evalChars: 100, dynamicChars: 50 });
    expect(t.cell).toBe('lstm');
    expect(t.secondsPerStep).toBeCloseTo(0.005, 9); // one 5 ms tick between the two readings of each timed step
    expect(t.evalCharsPerSecond).toBeCloseTo(100 / 0.005, 6);
    expect(t.dynamicCharsPerSecond).toBeCloseTo(50 / 0.005, 6);
  });
});

describe('the report', () => {
  it('names what differs, and refuses what is not a report', () => {
    const base = { cells: ['mlstm'], hidden: 8, lr: 0.003 } as never;
    expect(differingSettings(base, { ...(base as object), lr: 0.01 } as never)).toEqual(['lr']);
    expect(differingSettings(base, base)).toEqual([]);
    expect(() => parseComparisonReport('nope', 'x.json')).toThrow('x.json is not JSON (not a report of mlstm compare)');
    expect(() => parseComparisonReport('{"version": 9}', 'x.json')).toThrow(/x.json is not a report of mlstm compare of version 1/);
  });
});
