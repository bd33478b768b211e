import { Tape } from '../autograd/tape.js';
import { Rng } from '../tensor/rng.js';
import { TextCodec, type Vocabulary } from '../data/vocabulary.js';
import { inEvalMode, type LanguageModel } from './model.js';
import { LogitSampler } from './sampling.js';

export interface SampleOptions {
  /** Tokens to generate after the prime (characters, or bytes for a bytes model). */
  length: number;
  /** Softmax temperature (default 1; 0 = always the most likely character). */
  temperature?: number;
  /** Sample among the K most likely characters only (default 0 = all). */
  topK?: number;
  /** Text that conditions the model before generating; it is part of the returned text. */
  prime?: string;
  /** Seed of the sampling generator (default 0): the same seed gives the same text. */
  seed?: number;
}

/**
 * Generate text: the prime (if any) is run through the model to set its state, then `length` tokens
 * are drawn one at a time, each fed back as the next input. Without a prime the model starts from a
 * zero state reading a newline (or token 0 if the vocabulary has no newline), which is not part of the
 * output. Returns the prime followed by the generated text.
 */
export function sample(model: LanguageModel, vocab: Vocabulary, options: SampleOptions): string {
  const { length } = options;
  if (!Number.isInteger(length) || length < 0) throw new RangeError(`sample: length must be an integer ≥ 0, got ${length}`);
  const codec = new TextCodec(vocab);
  if (codec.size !== model.config.vocab) {
    throw new RangeError(`sample: the vocabulary has ${codec.size} symbols but the model predicts ${model.config.vocab}`);
  }
  const sampler = new LogitSampler(codec.size, {
    ...(options.temperature !== undefined && { temperature: options.temperature }),
    ...(options.topK !== undefined && { topK: options.topK }),
  });
  const prime = options.prime ?? '';
  const primeTokens = codec.encode(prime, '--prime');
  const rng = new Rng(options.seed ?? 0);
  const tape = new Tape();
  const start = primeTokens.length > 0 ? primeTokens : Int32Array.of(startToken(codec));
  const generated = new Int32Array(length);
  const step = Int32Array.of(0); // [1,1]
  inEvalMode(model, () =>
    tape.noGrad(() => {
      let out = model.forward(tape, start, start.length, 1, model.zeroState(1));
      let row = (start.length - 1) * codec.size; // the last position's logits predict the next token
      for (let i = 0; i < length; i++) {
        const token = sampler.draw(out.logits.value.data, row, rng);
        generated[i] = token;
        if (i === length - 1) break;
        step[0] = token;
        out = model.forward(tape, step, 1, 1, out.state);
        row = 0;
      }
    }),
  );
  if (vocab.kind === 'bytes') return codec.decode(Int32Array.from([...primeTokens, ...generated]));
  return prime + codec.decode(generated);
}

function startToken(codec: TextCodec): number {
  if (codec.vocab.kind === 'bytes') return 10;
  const newline = codec.vocab.symbols.indexOf('\n');
  return newline >= 0 ? newline : 0;
}
