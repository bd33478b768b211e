import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Tape } from '../src/autograd/tape.js';
import { Rng } from '../src/tensor/rng.js';
import type { Backend, GemmArgs, PrepareBArgs, PreparedB } from '../src/tensor/backend.js';
import type { Storage } from '../src/tensor/dtype.js';
import { CharLM, type CharLMConfig } from '../src/nn/charlm.js';
import { encodeCheckpoint } from '../src/io/checkpoint.js';
import { buildCharVocabulary, TextCodec, trainingVocabulary } from '../src/data/vocabulary.js';
import { extractFeatures } from '../src/features/extract.js';
import { LogitSampler } from '../src/train/sampling.js';
import { loadModel, ModelStepper, surprisalBits, TextModel } from '../src/model/index.js';
import { stepGates, type StepGates } from '../src/model/stepper.js';
import { blockedBackend } from '../src/tensor/kernels/index.js';
import type { WasmBackend } from '../src/wasm/index.js';
import { wasmBackends } from './support/wasm.js';

/*
 * The model API on a backend of one's choosing (loadModel(bytes, { backend }), new TextModel(…, {
 * backend })): on the wasm backend, one token at a time still equals CharLM.forward over the whole
 * text on the same backend to the last bit (its one-row kernel sums as the tiled one does,
 * src/wasm/gemm-row.ts), so scores and generated text are forward's; and the step's buffers live in
 * the backend's memory, so no operand is copied per character. test/model-api.test.ts holds the
 * same guarantees on the default backend.
 */

const TEXT = 'Call me Ishmael. Some years ago, never mind how long precisely, having little or no money in my purse.\n';
const sameBits = (a: ArrayLike<number>, b: ArrayLike<number>): boolean =>
  a.length === b.length && Array.from(a).every((v, i) => Object.is(v, b[i]));

const vocab = trainingVocabulary(TEXT);
const codec = new TextCodec(vocab);
const NEWLINE = codec.encode('\n')[0]!;
const { all: WASM } = wasmBackends();

function charModel(config: Partial<CharLMConfig>, seed = 1, v = vocab): CharLM {
  const V = new TextCodec(v).size;
  return new CharLM({ cell: 'mlstm', weightNorm: false, vocab: V, embed: 6, hidden: 9, layers: 1, ...config }, { rng: new Rng(seed) });
}

/** CharLM.forward on `backend` over `tokens` as one [T,1] window from a zero state. */
function forwardAll(model: CharLM, tokens: Int32Array, backend: Backend): { logits: Storage; h: Storage[]; c: (Storage | null)[] } {
  const tape = new Tape({ backend });
  return tape.noGrad(() => {
    const f = model.forward(tape, tokens, tokens.length, 1, model.zeroState(1));
    return { logits: f.logits.value.data, h: f.state.map((s) => s.h.value.data), c: f.state.map((s) => (s.c ? s.c.value.data : null)) };
  });
}

const configs: [string, Partial<CharLMConfig>][] = [
  ['mlstm', {}],
  ['mlstm, 2 layers', { layers: 2, hidden: 7 }],
  ['weight-normalised mlstm', { weightNorm: true }],
  ['lstm, 2 layers', { cell: 'lstm', layers: 2 }],
  ['mrnn, 2 layers', { cell: 'mrnn', layers: 2 }],
  ['mlstm with H = 260 (G = 1040: row tiles and a ragged last one)', { hidden: 260, embed: 3 }],
];

for (const backend of WASM) {
  const name = backend.describe();

  describe(`${name}: ModelStepper one token at a time equals CharLM.forward on the same backend, bit for bit`, () => {
    for (const [what, config] of configs) {
      it(what, () => {
        const model = charModel(config, 7);
        const tokens = codec.encode(TEXT.slice(0, 50));
        const ref = forwardAll(model, tokens, backend);
        const V = codec.size;
        const stepper = new ModelStepper(model, { backend });
        for (let t = 0; t < tokens.length; t++) {
          expect(sameBits(stepper.step(tokens[t]!), ref.logits.subarray(t * V, (t + 1) * V)), `step ${t}`).toBe(true);
        }
        stepper.h.forEach((h, l) => expect(sameBits(h, ref.h[l]!)).toBe(true));
        stepper.c.forEach((c, l) => (c ? expect(sameBits(c, ref.c[l]!)).toBe(true) : expect(ref.c[l]).toBeNull()));
        stepper.dispose();
      });
    }

    it('random cells, sizes and texts (property)', () => {
      fc.assert(
        fc.property(
          fc.constantFrom<CharLMConfig['cell']>('mlstm', 'lstm', 'mrnn'),
          fc.integer({ min: 1, max: 2 }),
          fc.integer({ min: 1, max: 40 }),
          fc.integer({ min: 1, max: 9 }),
          fc.string({ unit: fc.constantFrom(...'ab c\nd'), minLength: 1, maxLength: 30 }),
          fc.nat(),
          (cell, layers, hidden, embed, text, seed) => {
            const v = buildCharVocabulary('ab c\nd');
            const model = charModel({ cell, layers, hidden, embed }, seed, v);
            const tokens = new TextCodec(v).encode(text);
            const ref = forwardAll(model, tokens, backend);
            const stepper = new ModelStepper(model, { backend });
            const V = model.config.vocab;
            let same = true;
            for (let t = 0; t < tokens.length && same; t++)
              same = sameBits(stepper.step(tokens[t]!), ref.logits.subarray(t * V, (t + 1) * V));
            stepper.dispose();
            return same;
          },
        ),
        { numRuns: 50 },
      );
    });
  });

  describe(`${name}: TextModel`, () => {
    const model = charModel({ hidden: 30, embed: 5 }, 3);
    const V = codec.size;

    it('score is −log₂ softmax of forward’s logits on this backend, to the last bit', () => {
      const api = new TextModel(model, vocab, { backend });
      expect(api.backend).toBe(backend);
      const text = TEXT.slice(0, 70);
      const r = api.score(text);
      const tokens = codec.encode(text);
      const ref = forwardAll(model, Int32Array.from([NEWLINE, ...tokens]), backend);
      for (let i = 0; i < tokens.length; i++) {
        expect(Object.is(r.bits![i], surprisalBits(ref.logits.subarray(i * V, (i + 1) * V), V, tokens[i]!))).toBe(true);
      }
      api.dispose();
    });

    it('generate draws every character from forward’s distribution (replayed); the same seed gives the same text', () => {
      for (const options of [{ seed: 4 }, { seed: 6, topP: 0.8, temperature: 0.7 }]) {
        const api = new TextModel(model, vocab, { backend });
        const text = api.generateText({ ...options, prime: 'Call', length: 60 });
        const tokens = Int32Array.from([NEWLINE, ...codec.encode('Call' + text)]);
        const ref = forwardAll(model, tokens, backend);
        const sampler = new LogitSampler(V, options);
        const rng = new Rng(options.seed);
        for (let i = 0; i < 60; i++) expect(sampler.draw(ref.logits, (4 + i) * V, rng)).toBe(tokens[5 + i]);
        api.reset();
        expect(api.generateText({ ...options, prime: 'Call', length: 60 })).toBe(text);
        api.dispose();
      }
    });

    it('feed and state: the state read is forward’s; a restored state continues as before', () => {
      const api = new TextModel(model, vocab, { backend });
      api.feed('hello');
      const ref = forwardAll(model, Int32Array.from([NEWLINE, ...codec.encode('hello')]), backend);
      const saved = api.state;
      expect(sameBits(saved.layers[0]!.h, ref.h[0]!)).toBe(true);
      expect(sameBits(saved.logits, ref.logits.subarray(5 * V, 6 * V))).toBe(true);
      expect(saved.logits.buffer).toBeInstanceOf(ArrayBuffer); // a copy, not a view of the backend's memory
      const next = api.generateText({ seed: 2, length: 30 });
      api.feed('something else');
      api.state = saved;
      expect(api.generateText({ seed: 2, length: 30 })).toBe(next);
      api.dispose();
    });

    it('embed is extractFeatures on the same backend', () => {
      const api = new TextModel(model, vocab, { backend });
      const got = api.embed('Some years ago');
      const ref = extractFeatures(model, [codec.encode('Some years ago')], { tape: new Tape({ backend }) });
      expect(Array.from(got)).toEqual(Array.from(ref.data));
      api.dispose();
    });

    it('loadModel(bytes, { backend }) runs on it; its text is close to the JS kernel’s logits', () => {
      const api = loadModel(encodeCheckpoint(model, vocab), { backend });
      const js = new TextModel(model, vocab, { backend: blockedBackend });
      api.feed(TEXT.slice(0, 40));
      js.feed(TEXT.slice(0, 40));
      const a = api.state.logits,
        b = js.state.logits;
      for (let i = 0; i < V; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThan(1e-4 * (1 + Math.abs(b[i]!)));
      api.dispose();
    });
  });

  describe(`${name}: where the step's operands live`, () => {
    it('every product of a step reads and writes the backend’s memory (nothing copied per character) with prepared weights', () => {
      for (const [, config] of configs) {
        const seen: string[] = [];
        const watching = watchingBackend(backend, (args) => {
          const where = (x: Storage | undefined): string => (x === undefined ? '' : backend.owns(x) ? 'in' : 'OUT');
          seen.push(`${where(args.a)}${where(args.c)}${where(args.bias)}${args.packedB ? '' : ' unprepared'}`);
        });
        const model = charModel(config, 5);
        const stepper = new ModelStepper(model, { backend: watching });
        seen.length = 0; // building the tables is not a step
        for (const t of codec.encode('Call me')) stepper.step(t);
        expect(seen.length).toBeGreaterThan(0);
        expect(seen.filter((s) => s !== 'inin' && s !== 'ininin')).toEqual([]);
        for (const x of [...stepper.h, ...stepper.c, stepper.logits]) if (x) expect(backend.owns(x)).toBe(true);
        stepper.dispose();
      }
    });

    it('dispose gives the memory back; a disposed model says so', () => {
      const before = backend.heap.allocatedBytes;
      const api = new TextModel(charModel({ hidden: 40, layers: 2 }, 9), vocab, { backend });
      expect(backend.heap.allocatedBytes).toBeGreaterThan(before);
      api.generateText({ length: 5 });
      api.dispose();
      api.dispose(); // idempotent
      expect(backend.heap.allocatedBytes).toBe(before);
      expect(() => api.feed('a')).toThrow('TextModel: the model was disposed (dispose()); load it again to use it');
      expect(() => api.predict()).toThrow(/disposed/);
      expect(() => api.state).toThrow(/disposed/);
    });
  });
}

describe('the gate kernels of a step are the backend’s', () => {
  it('a backend with its own gate table (Backend.recurrent, issue 12’s seam) has the step call it, once per layer and step', () => {
    const calls = { lstmGatesForward: 0, multiplicativeForward: 0, tanhForward: 0 };
    const js = stepGates(blockedBackend); // the JS kernels
    const recurrent: StepGates = {
      lstmGatesForward: (...args) => (calls.lstmGatesForward++, js.lstmGatesForward(...args)),
      multiplicativeForward: (...args) => (calls.multiplicativeForward++, js.multiplicativeForward(...args)),
      tanhForward: (...args) => (calls.tanhForward++, js.tanhForward(...args)),
    };
    const tokens = codec.encode('Call me');
    for (const [cell, expected] of [
      ['mlstm', { lstmGatesForward: 2, multiplicativeForward: 2, tanhForward: 0 }],
      ['lstm', { lstmGatesForward: 2, multiplicativeForward: 0, tanhForward: 0 }],
      ['mrnn', { lstmGatesForward: 0, multiplicativeForward: 2, tanhForward: 2 }],
    ] as const) {
      const model = charModel({ cell, layers: 2 }, 4);
      const plain = new ModelStepper(model, { backend: blockedBackend });
      const counted = new ModelStepper(model, { backend: { ...blockedBackend, recurrent } as Backend });
      Object.assign(calls, { lstmGatesForward: 0, multiplicativeForward: 0, tanhForward: 0 });
      for (const t of tokens) expect(sameBits(counted.step(t), plain.step(t))).toBe(true);
      const perStep = Object.fromEntries(Object.entries(calls).map(([k, v]) => [k, v / tokens.length]));
      expect(perStep).toEqual(expected);
    }
  });
});

/** `backend` seen through a wrapper that reports every gemm (its memory and gate kernels are the backend's). */
function watchingBackend(backend: WasmBackend, onGemm: (args: GemmArgs) => void): Backend {
  const gates = (backend as { recurrent?: unknown }).recurrent;
  return {
    name: backend.name,
    describe: () => backend.describe(),
    close: () => {},
    ...(gates === undefined ? {} : { recurrent: gates }),
    gemm: (args: GemmArgs) => {
      onGemm(args);
      backend.gemm(args);
    },
    prepareB: (args: PrepareBArgs) => backend.prepareB(args),
    releaseB: (p: PreparedB) => backend.releaseB(p),
    allocate: (n: number) => backend.allocate(n),
    free: (a: Float32Array) => backend.free(a),
  } as unknown as Backend;
}
