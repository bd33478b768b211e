import type { Vocabulary } from '../data/vocabulary.js';
import type { CharLM } from '../nn/charlm.js';
import { TextModel, type GenerateOptions } from './text-model.js';

export interface SampleOptions extends Omit<GenerateOptions, 'length'> {
  /** Tokens to generate after the prime (characters, or bytes for a bytes model). */
  length: number;
}

/**
 * One-shot generation from a CharLM (say, while it trains): the prime followed by `length` generated
 * characters, as TextModel.generate draws them from a fresh start (a newline, then the prime). For
 * anything more (streaming, scoring, keeping a state) make a TextModel once and use it.
 */
export function sample(model: CharLM, vocab: Vocabulary, options: SampleOptions): string {
  return (options.prime ?? '') + new TextModel(model, vocab).generateText(options);
}
