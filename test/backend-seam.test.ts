import { describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { gradcheck } from '../src/autograd/gradcheck.js';
import { lstmSequence } from '../src/nn/functional/lstm.js';
import { mlstmSequence } from '../src/nn/functional/mlstm.js';
import { mrnnSequence } from '../src/nn/functional/mrnn.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { cellSizesArb, pack, randn } from './cells-support.js';
import { Tape } from '../src/autograd/tape.js';
import { CharLM } from '../src/nn/charlm.js';
import type { CellKind } from '../src/nn/cells/index.js';
import { Rng } from '../src/tensor/rng.js';
import type { Backend, RecurrentKernelName } from '../src/tensor/backend.js';
import { blockedBackend, jsRecurrentKernels, naiveBackend } from '../src/tensor/kernels/index.js';
import { tapeFor } from '../src/train/default-tape.js';
import { evaluate } from '../src/train/evaluate.js';
import { selectBackend, selectBackendAsync } from '../src/wasm/index.js';
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

describe('selectBackend: the default backend', () => {
  it('is the wasm backend where WebAssembly SIMD validates (here), one shared instance whose close() does not end it', async () => {
    const a = selectBackend();
    expect(a.kind).toBe('wasm');
    expect(a.reason).toBe('WebAssembly SIMD validates');
    expect(a.backend.describe()).toMatch(/^wasm-simd( fma)?$/);
    expect(selectBackend('wasm').backend).toBe(a.backend);
    expect((await selectBackendAsync()).backend).toBe(a.backend);
    a.backend.close(); // a caller closing what it was given must not break the next caller
    const out = new Float32Array(4);
    a.backend.recurrent.tanhForward(4, new Float32Array([0, 1, -1, 20]), 0, out, 0);
    expect(Array.from(out)).toEqual(Array.from(new Float32Array([0, Math.tanh(1), -Math.tanh(1), 1])));
    const js = selectBackend('js');
    expect(js).toMatchObject({ kind: 'js', backend: blockedBackend });
    expect(js.backend.describe()).toBe('js');
  });

  it('falls back to the JS kernels, saying why, where there is no WebAssembly; an explicit wasm is refused in one line', async () => {
    vi.stubGlobal('WebAssembly', undefined);
    try {
      expect(selectBackend()).toEqual({
        backend: blockedBackend,
        kind: 'js',
        reason: 'this runtime has no WebAssembly: the JS kernels run',
      });
      expect((await selectBackendAsync()).kind).toBe('js');
      expect(() => selectBackend('wasm')).toThrow(/^wasm backend: this runtime has no WebAssembly; use the JS backend$/);
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it('a Trainer and evaluate without a tape compute on it', () => {
    const backend = countingBackend(selectBackend().backend);
    // The default is what tapeFor resolves; a given backend replaces it.
    expect(tapeFor({}).backend).toBe(selectBackend().backend);
    expect(tapeFor({ backend }).backend).toBe(backend);
    const model = new CharLM(
      { cell: 'mlstm', weightNorm: false, vocab: data.codec.size, embed: 4, hidden: 6, layers: 1 },
      { rng: new Rng(1) },
    );
    evaluate(model, data.valid.subarray(0, 40), { backend, seq: 8 });
    expect(backend.kernelCalls.lstmGatesForward).toBe(39);
  });

  it('every backend states the accuracy of every recurrent kernel', () => {
    for (const backend of [blockedBackend, naiveBackend, ...wasmBackends().all]) {
      for (const name of Object.keys(jsRecurrentKernels).filter((k) => k !== 'accuracy')) {
        expect(backend.recurrent.accuracy[name as RecurrentKernelName], `${backend.describe()} ${name}`).toMatch(/\w{3}/);
      }
    }
  });
});

describe('float64 on the wasm backend: the JS kernels run, so gradient checks hold unchanged', () => {
  const tol = { atol: 1e-6, rtol: 1e-6 };
  for (const wasm of wasmBackends().all) {
    it(`${wasm.describe()}: mlstm, lstm and mrnn sequences pass gradcheck w.r.t. every input and weight`, () => {
      fc.assert(
        fc.property(cellSizesArb, ({ T, B, D, H, seed }) => {
          const rng = new Rng(seed);
          const state = [randn(rng, [T, B, D]), randn(rng, [B, H], 0.5), randn(rng, [B, H], 0.5)];
          const w = (rows: number, cols: number): Tensor => randn(rng, [rows, cols], 1 / Math.sqrt(cols));
          const m = [w(H, D), w(H, H), w(4 * H, D), w(4 * H, H), randn(rng, [4 * H], 0.5)];
          gradcheck(
            (tape, x, h0, c0, wmx, wmh, whx, whm, bias) => {
              const r = mlstmSequence(tape, x!, h0!, c0!, { wmx: wmx!, wmh: wmh!, whx: whx!, whm: whm!, bias: bias! });
              return pack(tape, r.hs, r.state.c!);
            },
            [...state, ...m],
            { ...tol, backend: wasm },
          );
          gradcheck(
            (tape, x, h0, c0, wx, wh, bias) => {
              const r = lstmSequence(tape, x!, h0!, c0!, { wx: wx!, wh: wh!, bias: bias! });
              return pack(tape, r.hs, r.state.c!);
            },
            [...state, w(4 * H, D), w(4 * H, H), randn(rng, [4 * H], 0.5)],
            { ...tol, backend: wasm },
          );
          gradcheck(
            (tape, x, h0, wmx, wmh, whx, whm, bias) =>
              mrnnSequence(tape, x!, h0!, { wmx: wmx!, wmh: wmh!, whx: whx!, whm: whm!, bias: bias! }).hs,
            [state[0]!, state[1]!, w(H, D), w(H, H), w(H, D), w(H, H), randn(rng, [H], 0.5)],
            { ...tol, backend: wasm },
          );
        }),
        { numRuns: 10 },
      );
    });
  }
});
