import { describe, expect, it, vi } from 'vitest';
import { Tape } from '../src/autograd/tape.js';
import { CharLM } from '../src/nn/charlm.js';
import type { CellKind } from '../src/nn/cells/index.js';
import { Rng } from '../src/tensor/rng.js';
import type { Backend, RecurrentKernelName } from '../src/tensor/backend.js';
import { blockedBackend } from '../src/tensor/kernels/index.js';
import { Trainer } from '../src/train/trainer.js';
import { countingBackend } from './support/counting-backend.js';
import { wasmBackends } from './support/wasm.js';
import { prepare, tinyOptions, wordCorpus } from './train-helpers.js';

/*
 * The Backend is the one seam of the hot kernels: every recurrent gate kernel a training step (and
 * a validation) runs is called through tape.backend.recurrent, never imported by the nn ops. Each JS
 * kernel module is wrapped so that the test counts EVERY call of its functions, however it is
 * reached; a counting backend counts the calls that came through it. On the JS backend the two
 * counts must be equal (nothing bypasses the backend); on the wasm backend with float32 operands no
 * JS kernel may run at all (the wasm kernels do the work).
 */

const direct = vi.hoisted(() => ({}) as Record<string, number>);

/** The module's functions named in `names`, each counting its calls into `direct`. */
function counted<M extends Record<string, unknown>>(module: M, names: readonly string[]): M {
  const out: Record<string, unknown> = { ...module };
  for (const name of names) {
    const f = module[name] as (...args: unknown[]) => unknown;
    out[name] = (...args: unknown[]): unknown => {
      direct[name] = (direct[name] ?? 0) + 1;
      return f(...args);
    };
  }
  return out as M;
}

vi.mock('../src/tensor/kernels/recurrent-lstm-gates.js', async (importOriginal) =>
  counted(await importOriginal<Record<string, unknown>>(), ['lstmGatesForward', 'lstmGatesBackward']),
);
vi.mock('../src/tensor/kernels/recurrent-multiplicative.js', async (importOriginal) =>
  counted(await importOriginal<Record<string, unknown>>(), ['multiplicativeForward', 'multiplicativeBackward']),
);
vi.mock('../src/tensor/kernels/recurrent-tanh.js', async (importOriginal) =>
  counted(await importOriginal<Record<string, unknown>>(), ['tanhForward', 'tanhBackward']),
);

const data = prepare(wordCorpus(4000, 3));
const LAYERS = 2;
const options = tinyOptions({ steps: 2, seq: 12, batch: 4, validBatch: 4 });

/** Which kernels a cell's forward and backward call once per step and layer. */
const KERNELS: Record<CellKind, readonly RecurrentKernelName[]> = {
  mlstm: ['multiplicativeForward', 'lstmGatesForward', 'lstmGatesBackward', 'multiplicativeBackward'],
  lstm: ['lstmGatesForward', 'lstmGatesBackward'],
  mrnn: ['multiplicativeForward', 'tanhForward', 'tanhBackward', 'multiplicativeBackward'],
};

function clearDirect(): void {
  for (const k of Object.keys(direct)) delete direct[k];
}

function trainOneStep(cell: CellKind, inner: Backend, dtype: 'float32' | 'float64') {
  const backend = countingBackend(inner);
  const config = { cell, weightNorm: false, vocab: data.codec.size, embed: 8, hidden: 10, layers: LAYERS };
  const model = new CharLM(config, { rng: new Rng(5), dtype });
  const trainer = new Trainer(model, data, options, { tape: new Tape({ backend }) });
  clearDirect();
  const r = trainer.trainStep();
  expect(Number.isFinite(r.loss)).toBe(true);
  return { through: { ...backend.kernelCalls }, direct: { ...direct }, trainer, backend };
}

describe('every recurrent kernel call goes through the Backend', () => {
  for (const cell of ['mlstm', 'lstm', 'mrnn'] as const) {
    it(`${cell}: a training step and a validation on the JS backend call each kernel only through backend.recurrent`, () => {
      const { through, direct: seen, trainer, backend } = trainOneStep(cell, blockedBackend, 'float32');
      for (const name of KERNELS[cell]) expect(through[name], name).toBe(options.seq * LAYERS); // one call per step and layer
      for (const name of Object.keys(through) as RecurrentKernelName[]) {
        if (!KERNELS[cell].includes(name)) expect(through[name], name).toBe(0);
        expect(seen[name] ?? 0, `${name}: calls that bypassed the backend`).toBe(through[name]);
      }
      clearDirect();
      const before = { ...backend.kernelCalls };
      trainer.validate();
      const forward = KERNELS[cell].filter((n) => n.endsWith('Forward'));
      for (const name of forward) {
        const n = backend.kernelCalls[name] - before[name];
        expect(n, name).toBeGreaterThan(0);
        expect(direct[name] ?? 0, `${name} in validation`).toBe(n);
      }
    });

    it(`${cell}: on the wasm backend no JS gate kernel runs for float32, and float64 falls back to the JS kernels`, () => {
      for (const wasm of wasmBackends().all) {
        const f32 = trainOneStep(cell, wasm, 'float32');
        for (const name of KERNELS[cell]) expect(f32.through[name], name).toBe(options.seq * LAYERS);
        expect(f32.direct, `${wasm.describe()}: JS kernels that ran`).toEqual({});
        const f64 = trainOneStep(cell, wasm, 'float64');
        for (const name of KERNELS[cell]) {
          expect(f64.through[name], name).toBe(options.seq * LAYERS);
          expect(f64.direct[name], `${name}: the float64 fallback`).toBe(options.seq * LAYERS);
        }
      }
    });
  }
});
