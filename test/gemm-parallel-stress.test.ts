import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Tape as TapeClass } from '../src/autograd/tape.js';
import type { CharLM as CharLMClass } from '../src/nn/charlm.js';
import type { Backend, GemmArgs } from '../src/tensor/backend.js';
import type { Trainer as TrainerClass } from '../src/train/trainer.js';
import { Rng } from '../src/tensor/rng.js';
import { ensureBuilt, ROOT } from './cli-helpers.js';
import { prepare, tinyOptions, wordCorpus } from './train-helpers.js';

/*
 * A bounded stress run of the parallel GEMM on a machine whose cores are busy: two busy loops
 * (child processes, each busy for a random 1-30 ms and asleep for 0-8 ms, so that threads are
 * preempted at ever other points) hold both cores while a 2-thread backend trains a model and
 * runs a storm of products; everything must end bit-identical to the same work on one thread,
 * done before the load started. The protocol's correctness is proved by the model check and the
 * interleaving tests; this checks that nothing else (scheduling, late starts, message waits)
 * breaks on real threads under contention. It takes well under 60 s and stops its loops.
 */

interface Built {
  createParallelBackend: (o: { threads: number }) => Backend & { close(): void; ready(): Promise<void> };
  Tape: typeof TapeClass;
  CharLM: typeof CharLMClass;
  Trainer: typeof TrainerClass;
  blockedBackend: Backend;
}
let lib: Built;
const loops: ChildProcess[] = [];

beforeAll(async () => {
  ensureBuilt();
  const load = async <T>(path: string): Promise<T> => (await import(`${ROOT}dist/${path}`)) as T;
  lib = {
    ...(await load<Pick<Built, 'createParallelBackend'>>('node/gemm-workers.js')),
    ...(await load<Pick<Built, 'Tape'>>('autograd/tape.js')),
    ...(await load<Pick<Built, 'CharLM'>>('nn/charlm.js')),
    ...(await load<Pick<Built, 'Trainer'>>('train/trainer.js')),
    ...(await load<Pick<Built, 'blockedBackend'>>('tensor/kernels/gemm-blocked.js')),
  };
}, 180_000);

afterAll(() => {
  for (const loop of loops) loop.kill('SIGKILL');
});

const BUSY_LOOP = `
const nap = new Int32Array(new SharedArrayBuffer(4));
for (;;) {
  const until = performance.now() + 1 + Math.random() * 29;
  while (performance.now() < until);
  Atomics.wait(nap, 0, 0, Math.random() * 8);
}`;

const data = prepare(wordCorpus(60_000, 21));
const STEPS = 12;

/** A model trained STEPS steps on `backend` (sizes at which the window-wide products are split): its losses and parameters. */
function train(backend: Backend): { losses: number[]; params: Float32Array[] } {
  const model = new lib.CharLM(
    { cell: 'mlstm', weightNorm: false, vocab: data.codec.size, embed: 16, hidden: 64, layers: 1 },
    { rng: new Rng(4) },
  );
  const trainer = new lib.Trainer(model, data, tinyOptions({ steps: STEPS, batch: 16, seq: 32, validEvery: 0 }), {
    tape: new lib.Tape({ backend }),
  });
  const losses: number[] = [];
  for (let s = 0; s < STEPS; s++) losses.push(trainer.trainStep().loss);
  return { losses, params: model.parameters().map((p) => (p.value.data as Float32Array).slice()) };
}

/** Products of the shapes training uses (tall, wide, prepared, accumulating), each large enough to split. */
function problems(): GemmArgs[] {
  const rng = new Rng(9);
  const fill = (len: number): Float32Array => Float32Array.from({ length: len }, () => rng.uniform(-1, 1));
  const shapes: Array<[number, number, number, Partial<GemmArgs>]> = [
    [512, 256, 16, {}],
    [32, 512, 128, { transB: true }],
    [32, 1024, 64, { accumulate: true }],
    [200, 96, 64, { transA: true, alpha: -0.5 }],
  ];
  return shapes.map(([m, n, k, extra]) => ({ m, n, k, a: fill(m * k), b: fill(k * n), c: fill(m * n), ...extra }));
}

function storm(backend: Backend, cases: GemmArgs[], rounds: number): Float32Array[] {
  const out: Float32Array[] = cases.map((p) => new Float32Array(p.c.length));
  for (let round = 0; round < rounds; round++) {
    cases.forEach((p, i) => {
      const c = p.c.slice() as Float32Array;
      backend.gemm({ ...p, c });
      if (round === 0) out[i] = c;
      else if (!c.every((v, j) => Object.is(v, out[i]![j]))) throw new Error(`round ${round}: product ${i} differs from round 0`);
    });
  }
  return out;
}

describe('the parallel GEMM with both cores held by busy loops', () => {
  it('trains and computes bit-identically to a one-thread run done before the loops started', async () => {
    const cases = problems();
    const t0 = performance.now();
    const single = train(lib.blockedBackend);
    const singleProducts = storm(lib.blockedBackend, cases, 1);
    const unloaded = performance.now() - t0;

    for (let i = 0; i < 2; i++) loops.push(spawn(process.execPath, ['-e', BUSY_LOOP], { stdio: 'ignore' }));
    const backend = lib.createParallelBackend({ threads: 2 });
    try {
      await backend.ready();
      const t1 = performance.now();
      const loaded = train(backend);
      const products = storm(backend, cases, 150); // 600 products, each checked against the first round
      const seconds = (performance.now() - t1) / 1000;
      expect(loaded.losses).toEqual(single.losses);
      expect(loaded.params.every((p, i) => p.every((v, j) => Object.is(v, single.params[i]![j])))).toBe(true);
      expect(products.every((c, i) => c.every((v, j) => Object.is(v, singleProducts[i]![j])))).toBe(true);
      expect(seconds, `loaded run took ${seconds.toFixed(1)} s (unloaded 1 thread: ${(unloaded / 1000).toFixed(1)} s)`).toBeLessThan(50);
    } finally {
      backend.close();
      for (const loop of loops.splice(0)) loop.kill('SIGKILL');
    }
  }, 60_000);
});
