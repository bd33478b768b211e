import { describe, expect, it } from 'vitest';
import { jsBackendBase } from './support/counting-backend.js';
import { Tape } from '../src/autograd/tape.js';
import type { Backend, GemmArgs } from '../src/tensor/backend.js';
import { blockedBackend } from '../src/tensor/kernels/gemm-blocked.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { Trainer, type CheckpointReason, type StepResult } from '../src/train/trainer.js';
import { exportTrainerState, importTrainerState } from '../src/train/state.js';
import { parameterValues, prepare, tinyModel, tinyOptions, wordCorpus } from './train-helpers.js';

/*
 * A step or a validation that throws midway (what a parallel backend's GemmWorkerFault does) leaves
 * the trainer as after the last completed step: the run saves that state and reports 'failed', and
 * resumed from the save it gives the numbers of a run that never failed, bit for bit, dropout included.
 */

const data = prepare(wordCorpus(6000, 5));
const noYield = { yieldToHost: async () => undefined };

/** The blocked kernel, except that gemm call number `failAt` (1-based) throws; counts its calls. */
class FailingBackend implements Backend {
  readonly name = 'failing';
  readonly describe = jsBackendBase.describe;
  readonly recurrent = jsBackendBase.recurrent;
  readonly close = jsBackendBase.close;
  calls = 0;
  failAt = Infinity;
  gemm(args: GemmArgs): void {
    if (++this.calls === this.failAt)
      throw Object.assign(new Error('gemm worker 1 exited unexpectedly (exit code 1)'), { name: 'GemmWorkerFault' });
    blockedBackend.gemm(args);
  }
  prepareB = blockedBackend.prepareB!;
}

const overrides = { layers: 2, dropout: 0.25 } as const;
const options = tinyOptions({ steps: 9, validEvery: 3, checkpointEvery: 0, schedule: { kind: 'cosine', lr: 1e-2, steps: 9 } });

function build(backend: Backend, seed = 11): { model: ReturnType<typeof tinyModel>; trainer: Trainer } {
  const model = tinyModel(data.codec.size, seed, overrides);
  const rng = model.dropoutRng!;
  return { model, trainer: new Trainer(model, data, options, { rng, tape: new Tape({ backend }) }) };
}

async function straight(): Promise<{ losses: number[]; params: ReturnType<typeof parameterValues>; validations: [number, number][] }> {
  const { model, trainer } = build(blockedBackend);
  const losses: number[] = [];
  const outcome = await trainer.run({ ...noYield, onStep: (r) => losses.push(r.loss) });
  expect(outcome.status).toBe('completed');
  return { losses, params: parameterValues(model), validations: trainer.validationHistory };
}

/** Runs until the backend's call `failAt` throws; then resumes from the 'failed' checkpoint on a healthy backend. */
async function failAndResume(
  failAt: number,
): Promise<{ failedAt: number; losses: number[]; params: ReturnType<typeof parameterValues>; validations: [number, number][] }> {
  const backend = new FailingBackend();
  backend.failAt = failAt;
  const { model, trainer } = build(backend);
  const losses: number[] = [];
  const checkpoints: [CheckpointReason, number][] = [];
  let saved: ReturnType<typeof exportTrainerState> | undefined;
  let savedParams: Map<string, Tensor> | undefined;
  const outcome = await trainer.run({
    ...noYield,
    onStep: (r: StepResult) => losses.push(r.loss),
    onCheckpoint: (reason, step) => {
      checkpoints.push([reason, step]);
      saved = exportTrainerState(trainer);
      savedParams = new Map([...model.stateDict()].map(([n, t]) => [n, t.clone()]));
    },
  });
  expect(outcome.status).toBe('failed');
  expect(outcome.message).toBe('gemm worker 1 exited unexpectedly (exit code 1)');
  expect((outcome.error as Error).name).toBe('GemmWorkerFault');
  expect(checkpoints).toEqual([['failed', outcome.step]]);
  expect(losses.length).toBe(outcome.step); // the failed step reported nothing

  const { model: resumed, trainer: resumedTrainer } = build(blockedBackend, 99); // another seed: all state comes from the save
  resumed.loadStateDict(savedParams!);
  importTrainerState(resumedTrainer, saved!.tensors, saved!.metadata, 'saved');
  const outcome2 = await resumedTrainer.run({ ...noYield, onStep: (r) => losses.push(r.loss) });
  expect(outcome2.status).toBe('completed');
  return { failedAt: outcome.step, losses, params: parameterValues(resumed), validations: resumedTrainer.validationHistory };
}

/** How many gemm calls a training step and a validation make (the same every time). */
function gemmCalls(): { perStep: number; perValidation: number } {
  const counting = new FailingBackend();
  const { trainer } = build(counting);
  trainer.trainStep();
  const perStep = counting.calls;
  trainer.trainStep();
  expect(counting.calls).toBe(2 * perStep);
  trainer.validate();
  return { perStep, perValidation: counting.calls - 2 * perStep };
}

describe('a step or validation that throws (a worker fault), saved and resumed', () => {
  it('in the middle of a training step: the step is rewound (data cursor, dropout masks); the resumed run is bit-identical', async () => {
    const want = await straight();
    const { perStep, perValidation } = gemmCalls();
    // In step 5's forward pass (steps 1-4 and the validation at 3 before it), and in step 8's
    // backward pass (its last gemm: the backward's come after the forward's).
    for (const [failAt, lastGood] of [
      [4 * perStep + perValidation + 2, 4],
      [8 * perStep + 2 * perValidation, 7],
    ] as const) {
      const got = await failAndResume(failAt);
      expect(got.failedAt).toBe(lastGood);
      expect(got.losses).toEqual(want.losses);
      expect(got.params).toEqual(want.params);
      expect(got.validations).toEqual(want.validations);
    }
  });

  it('in a validation: the state after that step is saved, and the resumed run validates first', async () => {
    const want = await straight();
    expect(want.validations.map(([s]) => s)).toEqual([3, 6, 9]);
    const { perStep, perValidation } = gemmCalls();
    // Steps 1-6 and the validation at 3 (a validation follows its step): fail inside the one at 6.
    const got = await failAndResume(6 * perStep + perValidation + 1);
    expect(got.failedAt).toBe(6);
    expect(got.losses).toEqual(want.losses);
    expect(got.params).toEqual(want.params);
    expect(got.validations).toEqual(want.validations);
  });
});
