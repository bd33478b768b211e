import { CharLM, type CharLMConfig } from '../src/nn/charlm.js';
import { Rng } from '../src/tensor/rng.js';
import { buildCharVocabulary, TextCodec, type Vocabulary } from '../src/data/vocabulary.js';
import { splitTrainValid } from '../src/data/split.js';
import type { TrainerOptions } from '../src/train/options.js';

/** Words drawn uniformly and independently, separated by spaces. */
export const WORDS = ['the', 'cat', 'sat', 'on', 'a', 'mat', 'and', 'dog'];

/**
 * A corpus whose entropy rate is known exactly: each word carries log2(8) = 3 bits and is followed by a
 * space, so the source emits 3 bits per (mean word length + 1) characters. No model can do better on
 * average; a model that learned only character frequencies stays near the unigram entropy.
 */
export function wordCorpus(length: number, seed: number): string {
  const rng = new Rng(seed);
  let text = '';
  while (text.length < length) text += `${WORDS[rng.int(WORDS.length)]} `;
  return text;
}

export const WORD_ENTROPY_RATE = Math.log2(WORDS.length) / (WORDS.reduce((a, w) => a + w.length + 1, 0) / WORDS.length);

/** Entropy in bits of the character frequencies of `text`. */
export function unigramEntropy(text: string): number {
  const counts = new Map<string, number>();
  for (const c of text) counts.set(c, (counts.get(c) ?? 0) + 1);
  let h = 0;
  for (const n of counts.values()) {
    const p = n / text.length;
    h -= p * Math.log2(p);
  }
  return h;
}

export interface Prepared {
  vocab: Vocabulary;
  codec: TextCodec;
  train: Int32Array;
  valid: Int32Array;
}

export function prepare(text: string): Prepared {
  const vocab = buildCharVocabulary(text);
  const codec = new TextCodec(vocab);
  const { train, valid } = splitTrainValid(codec.encode(text));
  return { vocab, codec, train, valid };
}

export function tinyModel(vocab: number, seed: number, overrides: Partial<CharLMConfig> = {}): CharLM {
  return new CharLM({ cell: 'mlstm', weightNorm: false, vocab, embed: 8, hidden: 24, layers: 1, ...overrides }, { rng: new Rng(seed) });
}

export function tinyOptions(overrides: Partial<TrainerOptions> = {}): TrainerOptions {
  const lr = 1e-2;
  return {
    batch: 8,
    seq: 16,
    steps: 100,
    optimizer: { name: 'adam', lr },
    schedule: { kind: 'constant', lr },
    clip: 1,
    validEvery: 0,
    validBatch: 8,
    checkpointEvery: 0,
    maxBadSteps: 5,
    ...overrides,
  };
}

/** Every parameter's values, by name, as plain arrays (for bit-exact comparison). */
export function parameterValues(model: CharLM): Record<string, number[]> {
  return Object.fromEntries(model.namedParameters().map(([n, p]) => [n, Array.from(p.value.data)]));
}
