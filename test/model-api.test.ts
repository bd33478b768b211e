import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Tape } from '../src/autograd/tape.js';
import { Rng } from '../src/tensor/rng.js';
import type { Storage } from '../src/tensor/dtype.js';
import { CharLM, type CharLMConfig } from '../src/nn/charlm.js';
import { encodeCheckpoint } from '../src/io/checkpoint.js';
import { buildCharVocabulary, TextCodec, trainingVocabulary, UNKNOWN_SYMBOL, type Vocabulary } from '../src/data/vocabulary.js';
import { extractFeatures } from '../src/features/extract.js';
import { LogitSampler } from '../src/train/sampling.js';
import { loadModel, ModelStepper, sample, StopMatcher, surprisalBits, surprisingSpans, TextModel } from '../src/model/index.js';
import { decodeCheckpoint } from '../src/io/checkpoint.js';
import { blockedBackend } from '../src/tensor/kernels/index.js';

// These tests compare the model API with CharLM.forward on a default Tape, i.e. on the JS kernels: the API is
// pinned to the same kernels (its own default is selectBackend()'s; test/model-backends.test.ts runs wasm).
const JS = { backend: blockedBackend };

/*
 * The model API against the engine's own forward pass. CharLM.forward over a whole text is the
 * reference: the API runs one token at a time on its own buffers (ModelStepper), and must give the
 * same logits to the last bit — so the same surprise for every character, the same distribution at
 * every generated character, and feed must read exactly the characters it is given (ml5's
 * feed("hello") read "hhell", ml5-library#778).
 */

const TEXT = 'Call me Ishmael. Some years ago, never mind how long precisely, having little or no money in my purse.\n';
const sameBits = (a: ArrayLike<number>, b: ArrayLike<number>): boolean =>
  a.length === b.length && Array.from(a).every((v, i) => Object.is(v, b[i]));

function charModel(config: Partial<CharLMConfig>, vocab: Vocabulary, seed = 1): CharLM {
  const V = new TextCodec(vocab).size;
  return new CharLM({ cell: 'mlstm', weightNorm: false, vocab: V, embed: 6, hidden: 9, layers: 1, ...config }, { rng: new Rng(seed) });
}

/** CharLM.forward over `tokens` as one [T,1] window from a zero state: logits [T,V] and the final state. */
function forwardAll(model: CharLM, tokens: Int32Array): { logits: Storage; h: Storage[]; c: (Storage | null)[] } {
  const tape = new Tape();
  return tape.noGrad(() => {
    const f = model.forward(tape, tokens, tokens.length, 1, model.zeroState(1));
    return { logits: f.logits.value.data, h: f.state.map((s) => s.h.value.data), c: f.state.map((s) => (s.c ? s.c.value.data : null)) };
  });
}

const vocab = trainingVocabulary(TEXT);
const codec = new TextCodec(vocab);
const NEWLINE = codec.encode('\n')[0]!;

const configs: [string, Partial<CharLMConfig>][] = [
  ['mlstm', {}],
  ['mlstm, 2 layers', { layers: 2, hidden: 7 }],
  ['weight-normalised mlstm', { weightNorm: true }],
  ['lstm, 2 layers', { cell: 'lstm', layers: 2 }],
  ['mrnn', { cell: 'mrnn' }],
  ['mlstm with H > 256 (two k-blocks in every recurrent product)', { hidden: 260, embed: 3 }],
];

describe('ModelStepper: one token at a time equals CharLM.forward over the whole text, bit for bit', () => {
  for (const [name, config] of configs) {
    it(name, () => {
      const model = charModel(config, vocab, 7);
      const tokens = codec.encode(TEXT.slice(0, 60));
      const ref = forwardAll(model, tokens);
      const V = codec.size;
      const stepper = new ModelStepper(model, JS);
      for (let t = 0; t < tokens.length; t++) {
        const logits = stepper.step(tokens[t]!);
        expect(sameBits(logits, ref.logits.subarray(t * V, (t + 1) * V))).toBe(true);
      }
      stepper.h.forEach((h, l) => expect(sameBits(h, ref.h[l]!)).toBe(true));
      stepper.c.forEach((c, l) => (c ? expect(sameBits(c, ref.c[l]!)).toBe(true) : expect(ref.c[l]).toBeNull()));
    });
  }

  it('random sizes and texts (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<CharLMConfig['cell']>('mlstm', 'lstm', 'mrnn'),
        fc.integer({ min: 1, max: 2 }),
        fc.integer({ min: 1, max: 13 }),
        fc.integer({ min: 1, max: 9 }),
        fc.string({ unit: fc.constantFrom(...'ab c\nd'), minLength: 1, maxLength: 40 }),
        fc.nat(),
        (cell, layers, hidden, embed, text, seed) => {
          const v = buildCharVocabulary('ab c\nd');
          const model = charModel({ cell, layers, hidden, embed }, v, seed);
          const tokens = new TextCodec(v).encode(text);
          const ref = forwardAll(model, tokens);
          const stepper = new ModelStepper(model, JS);
          const V = model.config.vocab;
          for (let t = 0; t < tokens.length; t++) {
            if (!sameBits(stepper.step(tokens[t]!), ref.logits.subarray(t * V, (t + 1) * V))) return false;
          }
          return true;
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('TextModel', () => {
  const model = charModel({ hidden: 12, embed: 5 }, vocab, 3);
  const V = codec.size;

  it('score: every character’s surprise is −log₂ softmax of forward’s logits, to the last bit; pieces equal the whole', () => {
    const api = new TextModel(model, vocab, JS);
    const text = TEXT.slice(0, 80);
    const r = api.score(text);
    const tokens = codec.encode(text);
    const ref = forwardAll(model, Int32Array.from([NEWLINE, ...tokens]));
    expect(r.characters).toBe(tokens.length);
    let total = 0;
    for (let i = 0; i < tokens.length; i++) {
      const expected = surprisalBits(ref.logits.subarray(i * V, (i + 1) * V), V, tokens[i]!);
      expect(Object.is(r.bits![i], expected)).toBe(true);
      total += expected;
      // and the definition itself, written out independently
      const row = Array.from(ref.logits.subarray(i * V, (i + 1) * V));
      const max = Math.max(...row);
      const lse = max + Math.log(row.reduce((a, z) => a + Math.exp(z - max), 0));
      expect(r.bits![i]).toBeCloseTo((lse - row[tokens[i]!]!) / Math.LN2, 12);
    }
    expect(r.totalBits).toBe(total);
    expect(r.bpc).toBe(total / tokens.length);
    api.reset();
    const parts = [text.slice(0, 7), text.slice(7, 8), '', text.slice(8)].map((p) => api.score(p));
    expect(parts.flatMap((p) => Array.from(p.bits!))).toEqual(Array.from(r.bits!));
    expect(api.score('', { perCharacter: false })).toMatchObject({ characters: 0, bits: null, bpc: 0, totalBits: 0 });
  });

  it('feed reads exactly the characters it is given (ml5#778: feed("hello") read "hhell")', () => {
    const api = new TextModel(model, vocab, JS);
    const read = api.feed('hello');
    expect(read).toMatchObject({ characters: 5, unknown: 0 });
    const ref = forwardAll(model, Int32Array.from([NEWLINE, ...codec.encode('hello')]));
    const s = api.state;
    expect(sameBits(s.layers[0]!.h, ref.h[0]!)).toBe(true);
    expect(sameBits(s.layers[0]!.c!, ref.c[0]!)).toBe(true);
    expect(sameBits(s.logits, ref.logits.subarray(5 * V, 6 * V))).toBe(true);
    // Not "hhell", not "hello" twice, not "\nhello\n": each of those gives another state.
    for (const wrong of ['hhell', 'hellohello', 'hello\n', 'ello']) {
      const other = forwardAll(model, Int32Array.from([NEWLINE, ...codec.encode(wrong)]));
      expect(sameBits(s.layers[0]!.h, other.h[0]!)).toBe(false);
    }
    const split = new TextModel(model, vocab, JS);
    split.feed('he');
    split.feed('');
    split.feed('llo');
    expect(sameBits(split.state.layers[0]!.h, s.layers[0]!.h)).toBe(true);
    const p = api.predict();
    const row = Array.from(ref.logits.subarray(5 * V, 6 * V));
    const max = Math.max(...row);
    const z = row.reduce((a, v) => a + Math.exp(v - max), 0);
    row.forEach((v, i) => expect(p.probabilities[i]).toBeCloseTo(Math.exp(v - max) / z, 14));
    expect(p.symbols).toEqual(vocab.kind === 'chars' ? vocab.symbols : []);
    const top = p.top(3);
    expect(top.map((t) => t.probability)).toEqual([...p.probabilities].sort((a, b) => b - a).slice(0, 3));
  });

  it('generate: every character is drawn from forward’s distribution at that point, bit for bit (replayed)', () => {
    for (const options of [{ seed: 4 }, { seed: 5, temperature: 0.7, topK: 5 }, { seed: 6, topP: 0.8 }, { seed: 7, temperature: 0 }]) {
      const api = new TextModel(model, vocab, JS);
      const prime = 'Call me';
      const text = api.generateText({ ...options, prime, length: 50 });
      const tokens = Int32Array.from([NEWLINE, ...codec.encode(prime + text)]);
      const ref = forwardAll(model, tokens);
      const sampler = new LogitSampler(V, options);
      const rng = new Rng(options.seed);
      const first = 1 + prime.length; // forward's row first − 1 predicts the first generated character
      for (let i = 0; i < 50; i++) expect(sampler.draw(ref.logits, (first - 1 + i) * V, rng)).toBe(tokens[first + i]);
      // and the state has read everything it generated
      expect(sameBits(api.state.logits, ref.logits.subarray((tokens.length - 1) * V))).toBe(true);
    }
  });

  it('is deterministic: the same seed from the same state gives the same text, another seed another', () => {
    const api = new TextModel(model, vocab, JS);
    const a = api.generateText({ seed: 11, length: 80 });
    api.reset();
    const b = api.generateText({ seed: 11, length: 80 });
    api.reset();
    const c = api.generateText({ seed: 12, length: 80 });
    expect(a).toBe(b);
    expect(a).not.toBe(c);
    expect([...a].length).toBe(80);
  });

  it('state: saved, changed, restored: everything after the restore is as it was', () => {
    const api = new TextModel(model, vocab, JS);
    api.feed('Some years ago');
    const saved = api.state;
    const next = api.generateText({ seed: 3, length: 40 });
    const scored = api.score(' never mind').bits;
    api.feed('something else entirely');
    api.state = saved;
    expect(api.generateText({ seed: 3, length: 40 })).toBe(next);
    expect(api.score(' never mind').bits).toEqual(scored);
    // the saved state is a copy, not a view of the live buffers
    api.reset();
    api.state = saved;
    expect(api.generateText({ seed: 3, length: 40 })).toBe(next);
    expect(() => (api.state = { layers: [], logits: new Float32Array(V) })).toThrow(/expected the state of 1 layers/);
    expect(() => (api.state = { ...saved, logits: new Float32Array(2) })).toThrow(
      /logits must be a Float32Array or Float64Array of length/,
    );
  });

  it('stop: the generation ends where the same draws first produce the stop text, which is not output', () => {
    fc.assert(
      fc.property(fc.nat(), fc.string({ unit: fc.constantFrom(...'e tao\n'), minLength: 1, maxLength: 3 }), (seed, stop) => {
        const api = new TextModel(model, vocab, JS);
        const full = api.generateText({ seed, length: 120 });
        api.reset();
        const g = api.generate({ seed, length: 120, stop: [stop, 'IIII'] });
        const text = [...g].join('');
        const at = full.indexOf(stop);
        expect(text).toBe(at < 0 ? full : full.slice(0, at));
        expect(g.stopped).toBe(at >= 0);
        expect(g.drawn).toBe(at < 0 ? 120 : at + stop.length);
      }),
      { numRuns: 40 },
    );
    const api = new TextModel(model, vocab, JS);
    expect(() => api.generate({ stop: 'aé' })).toThrow(
      `generate: the stop text "aé" holds 'é' (U+00E9), outside the model's vocabulary: it would never be generated`,
    );
  });

  it('generateAsync yields the same text in slices, and stops on an abort signal', async () => {
    const api = new TextModel(model, vocab, JS);
    const sync = api.generateText({ seed: 9, length: 300, prime: 'Call' });
    api.reset();
    let asyncText = '';
    for await (const chunk of api.generateAsync({ seed: 9, length: 300, prime: 'Call', sliceMs: 0 })) asyncText += chunk;
    expect(asyncText).toBe(sync);
    api.reset();
    const controller = new AbortController();
    let got = '';
    for await (const chunk of api.generateAsync({ seed: 9, length: 1e6, sliceMs: 1, signal: controller.signal })) {
      got += chunk;
      controller.abort();
    }
    expect(got.length).toBeGreaterThan(0);
    expect(got.length).toBeLessThan(1e6);
  });

  it('a generation ends when another call uses the model', () => {
    const api = new TextModel(model, vocab, JS);
    const g = api.generate({ length: 10 });
    g.next();
    api.feed('x');
    expect(() => g.next()).toThrow(/the model was used by another call/);
  });

  it('reads any text: characters outside the vocabulary become U+FFFD and are counted', () => {
    const api = new TextModel(model, vocab, JS);
    const text = 'Ahab & the whale — 🐋!';
    const r = api.score(text);
    const known = new Set(vocab.kind === 'chars' ? vocab.symbols : []);
    const unknown = [...text].filter((c) => !known.has(c));
    expect(r.unknown).toBe(unknown.length);
    expect(r.unknownCharacters).toEqual([...new Set(unknown)]);
    expect(r.characters).toBe([...text].length);
    const ref = new TextModel(model, vocab, JS);
    const same = ref.score([...text].map((c) => (known.has(c) ? c : UNKNOWN_SYMBOL)).join(''));
    expect(Array.from(r.bits!)).toEqual(Array.from(same.bits!));
    const unknownBits = [...text].reduce((a, c, i) => (known.has(c) ? a : a + r.bits![i]!), 0);
    expect(r.unknownBits).toBeCloseTo(unknownBits, 9);
    expect(api.feed('&&').unknown).toBe(2);
    expect(api.generate({ prime: 'Call &', length: 1 }).unknown).toBe(1);
    // A model without U+FFFD (written before it existed) refuses, naming the character and where it is.
    const old = buildCharVocabulary(TEXT);
    const oldApi = new TextModel(charModel({}, old), old);
    expect(() => oldApi.score('Call me & you')).toThrow(
      "score: character '&' (U+0026) at offset 8 (line 1, column 9) is not in the model's vocabulary",
    );
  });

  it('embed is what mlstm features computes (extractFeatures), and leaves the state alone', () => {
    const api = new TextModel(model, vocab, JS);
    api.feed('Call');
    const before = api.state;
    for (const pool of ['mean', 'last', 'mean+last'] as const) {
      const got = api.embed('Some years ago', { pool });
      const ref = extractFeatures(model, [codec.encode('Some years ago')], { pool, ...JS });
      expect(Array.from(got)).toEqual(Array.from(ref.data));
    }
    expect(Array.from(api.embed('Some'))).toEqual(Array.from(api.embed('Some', { pool: 'mean' })));
    expect(api.embedBatch(['a', 'Some years', 'ago']).rows).toBe(3);
    expect(sameBits(api.state.logits, before.logits)).toBe(true);
    expect(() => api.embed('')).toThrow(/text 0 is empty/);
  });

  it('loadModel reads a checkpoint; a byte-level model streams whole UTF-8 characters', () => {
    const api = loadModel(encodeCheckpoint(model, vocab), JS);
    const direct = new TextModel(model, vocab, JS);
    expect(api.generateText({ seed: 1, length: 30 })).toBe(direct.generateText({ seed: 1, length: 30 }));
    const bytesModel = new CharLM({ cell: 'mlstm', weightNorm: false, vocab: 256, embed: 4, hidden: 8, layers: 1 }, { rng: new Rng(2) });
    const b = loadModel(encodeCheckpoint(bytesModel, { kind: 'bytes' }), JS);
    expect(b.unit).toBe('byte');
    const chunks = [...b.generate({ seed: 1, length: 400 })];
    for (const ch of chunks) expect([...ch].length).toBeGreaterThan(0);
    const r = b.score('é!');
    expect([r.characters, r.unknown]).toEqual([3, 0]);
    expect(() => loadModel(new Uint8Array(4), { source: 'x.safetensors' })).toThrow(/x\.safetensors/);
  });
});

describe('sample (one-shot)', () => {
  const model = charModel({ hidden: 10 }, vocab, 4);
  it('is the prime followed by what TextModel.generate draws from a fresh start', () => {
    const a = sample(model, vocab, { length: 40, prime: 'Call ', seed: 1, temperature: 0.8, topK: 5 });
    expect(a).toBe(
      `Call ${new TextModel(model, vocab, JS).generateText({ length: 40, prime: 'Call ', seed: 1, temperature: 0.8, topK: 5 })}`,
    );
    expect(sample(model, vocab, { length: 40, prime: 'Call ', seed: 1, temperature: 0.8, topK: 5 })).toBe(a);
    expect(Array.from(sample(model, vocab, { length: 25 })).length).toBe(25);
    expect(() => sample(model, { kind: 'bytes' }, { length: 5 })).toThrow(`256 symbols but the model predicts ${codec.size}`);
  });
});

describe('StopMatcher', () => {
  it('releases every token except a completed stop text, in order, whatever the overlaps (property against indexOf)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 2 }), { maxLength: 60 }),
        fc.array(fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 3 }),
        (drawn, stops) => {
          const m = new StopMatcher(stops.map((s) => Int32Array.from(s)));
          const out: number[] = [];
          let end = -1;
          for (let i = 0; i < drawn.length && end < 0; i++) {
            const n = m.push(drawn[i]!);
            for (let j = 0; j < n; j++) out.push(m.releasedAt(j));
            if (m.matched) end = i;
          }
          if (end < 0) {
            const n = m.flush();
            for (let j = 0; j < n; j++) out.push(m.releasedAt(j));
          }
          // The reference: the earliest end of any stop occurrence; output is everything before that occurrence.
          const text = drawn.map(String).join(',') + ',';
          let firstEnd = Infinity;
          let cut = drawn.length;
          for (let e = 0; e < drawn.length && firstEnd === Infinity; e++) {
            for (const s of [...stops].sort((a, b) => b.length - a.length)) {
              const k = e + 1 - s.length;
              if (k >= 0 && s.every((v, j) => drawn[k + j] === v)) {
                firstEnd = e;
                cut = k;
                break;
              }
            }
          }
          expect(text.length).toBeGreaterThan(0);
          expect(end).toBe(firstEnd === Infinity ? -1 : firstEnd);
          expect(out).toEqual(drawn.slice(0, cut));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('surprisingSpans', () => {
  it('the greedy non-overlapping windows of largest total, against brute force (integer bits: exact sums, exact ties)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 40 }),
        fc.integer({ min: 1, max: 6 }),
        fc.nat(4),
        (bits, width, count) => {
          const got = surprisingSpans(bits, { width, count });
          const w = Math.min(width, bits.length);
          const sum = (s: number): number => bits.slice(s, s + w).reduce((a, b) => a + b, 0);
          const taken: number[] = [];
          const order = Array.from({ length: Math.max(0, bits.length - w + 1) }, (_, s) => s).sort((a, b) => sum(b) - sum(a) || a - b);
          for (const s of order) if (w > 0 && taken.length < count && taken.every((t) => s + w <= t || s >= t + w)) taken.push(s);
          expect(got.map((g) => g.start)).toEqual(taken);
          for (const g of got) expect(g.bits).toBe(sum(g.start));
        },
      ),
    );
  });
});

describe('checkpoint storage', () => {
  it('F16 halves the file and rounds every parameter to the nearest half; a TextModel loads it', () => {
    const model = charModel({}, vocab, 9);
    const f32 = encodeCheckpoint(model, vocab);
    const f16 = encodeCheckpoint(model, vocab, { storage: 'F16' });
    expect(f16.length).toBeLessThan(0.6 * f32.length);
    const back = decodeCheckpoint(f16).model;
    const before = new Map(model.namedParameters().map(([n, p]) => [n, p.value.data]));
    for (const [name, p] of back.namedParameters()) {
      const orig = before.get(name)!;
      p.value.data.forEach((v, i) => expect(Math.abs(v - orig[i]!)).toBeLessThanOrEqual(Math.abs(orig[i]!) * 2 ** -11 + 2 ** -25));
    }
    expect(loadModel(f16).generateText({ length: 5 })).toHaveLength(5);
    expect(() => encodeCheckpoint(model, vocab, { storage: 'F8' as 'F16' })).toThrow(/storage must be 'F32', 'F16' or 'BF16'/);
  });
});
