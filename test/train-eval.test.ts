import { beforeAll, describe, expect, it } from 'vitest';
import { Tape } from '../src/autograd/tape.js';
import { Rng } from '../src/tensor/rng.js';
import { Trainer } from '../src/train/trainer.js';
import { evaluate } from '../src/train/evaluate.js';
import { dynamicEvaluate } from '../src/train/dynamic-eval.js';
import type { CharLM } from '../src/nn/charlm.js';
import { parameterValues, prepare, tinyModel, tinyOptions, wordCorpus } from './train-helpers.js';

const data = prepare(wordCorpus(6000, 123));
let model: CharLM;

beforeAll(async () => {
  model = tinyModel(data.codec.size, 1);
  await new Trainer(model, data, tinyOptions({ steps: 60 })).run({ yieldToHost: async () => undefined });
});

/** Mean nats/char, one token at a time, state carried, log-softmax by hand in float64: the reference. */
function naiveNats(m: CharLM, tokens: Int32Array): { sum: number; count: number } {
  const tape = new Tape();
  let state = m.zeroState(1);
  let sum = 0;
  tape.noGrad(() => {
    for (let i = 0; i + 1 < tokens.length; i++) {
      const out = m.forward(tape, tokens.subarray(i, i + 1), 1, 1, state);
      const z = Array.from(out.logits.value.data);
      const max = Math.max(...z);
      const logZ = max + Math.log(z.reduce((a, v) => a + Math.exp(v - max), 0));
      sum += logZ - z[tokens[i + 1]!]!;
      state = out.state;
    }
  });
  return { sum, count: tokens.length - 1 };
}

describe('evaluate', () => {
  it('equals a token-by-token float64 reference with the state carried through the whole text', () => {
    const text = data.valid.subarray(0, 120);
    const ref = naiveNats(model, text);
    for (const seq of [1, 7, 256]) {
      const r = evaluate(model, text, { seq });
      expect(r.predictions).toBe(119);
      expect(r.streams).toBe(1);
      expect(Math.abs(r.nats - ref.sum / ref.count) / (ref.sum / ref.count)).toBeLessThan(1e-5);
      expect(r.bpc).toBeCloseTo(r.nats / Math.LN2, 12);
    }
  });

  it('with B streams scores each contiguous stream from a zero state (the tail N − B⌊N/B⌋ is dropped)', () => {
    const text = data.valid.subarray(0, 103);
    const B = 4;
    const L = Math.floor(103 / B);
    let sum = 0;
    let count = 0;
    for (let b = 0; b < B; b++) {
      const r = naiveNats(model, text.subarray(b * L, (b + 1) * L));
      sum += r.sum;
      count += r.count;
    }
    const r = evaluate(model, text, { batch: B, seq: 10 });
    expect(r.predictions).toBe(count);
    expect(Math.abs(r.nats - sum / count) / (sum / count)).toBeLessThan(1e-5);
    expect(evaluate(model, text.subarray(0, 5), { batch: 8 }).streams).toBe(2); // every stream keeps ≥ 2 tokens
    expect(() => evaluate(model, text.subarray(0, 1))).toThrow(/at least 2 tokens/);
  });
});

describe('dynamic evaluation', () => {
  // A 40-character random string over the corpus alphabet, repeated: unlike anything in training, but
  // predictable from the text already read, which only an adapting model can exploit.
  const rng = new Rng(5);
  let unit = '';
  for (let i = 0; i < 40; i++) unit += 'thecasondgm '[rng.int(12)];
  const repetitive = data.codec.encode(unit.repeat(15));

  it('beats static evaluation by more than 1 bit/char on a repetitive text, and restores the weights', () => {
    const before = parameterValues(model);
    const staticBpc = evaluate(model, repetitive).bpc;
    const dynamic = dynamicEvaluate(model, repetitive, { lr: 0.3, seq: 20 });
    expect(dynamic.predictions).toBe(repetitive.length - 1);
    expect(dynamic.segments).toBe(Math.ceil((repetitive.length - 1) / 20));
    expect(dynamic.bpc).toBeLessThan(staticBpc - 1);
    expect(parameterValues(model)).toEqual(before);
    expect(evaluate(model, repetitive).bpc).toBe(staticBpc);
  });

  it('with lr 0 is static evaluation', () => {
    const staticR = evaluate(model, repetitive, { seq: 20 });
    const frozen = dynamicEvaluate(model, repetitive, { lr: 0, seq: 20 });
    expect(Math.abs(frozen.bpc - staticR.bpc) / staticR.bpc).toBeLessThan(1e-6);
  });

  it('rejects bad options', () => {
    expect(() => dynamicEvaluate(model, repetitive, { lr: -1 })).toThrow(/lr must be/);
    expect(() => dynamicEvaluate(model, repetitive, { lr: 0.1, seq: 0 })).toThrow(/seq must be/);
  });
});
