/**
 * One model being trained, sampled and inspected: everything the demo's worker does, without any
 * worker or DOM API, so the same file runs under Node (the browser test's self-check imports it).
 *
 * Everything here is the engine's runtime-neutral build (dist/); nothing is reimplemented except the
 * per-unit recomputation in inspect.js, which exists to show the equations' intermediate values.
 */
import { CharLM, Rng, Tape, encodeCheckpoint, decodeCheckpoint } from '../../dist/index.js';
import { TextCodec, buildCharVocabulary } from '../../dist/data/vocabulary.js';
import { splitTrainValid } from '../../dist/data/split.js';
import { Trainer } from '../../dist/train/trainer.js';
import { evaluate } from '../../dist/train/evaluate.js';
import { sample } from '../../dist/model/sample.js';
import { inspectText } from './inspect.js';

/** The demo's defaults: small enough for ~10 steps/s on one core with the naive gemm. */
export const DEFAULT_CONFIG = Object.freeze({
  hidden: 64,
  embed: 16,
  seq: 32,
  batch: 8,
  lr: 0.003,
  clip: 1,
  seed: 1,
});

/** Validation uses at most this many held-out characters, so that it costs well under a second. */
const VALID_CHARS = 3000;
/** A pasted text shorter than this trains without a held-out part (too little to spare). */
const MIN_TEXT_FOR_VALID = 20000;

/** Validate a training config from the page; the error names the field. */
export function checkConfig(raw) {
  const out = {};
  const ints = { hidden: [4, 512], embed: [2, 256], seq: [2, 512], batch: [1, 256], seed: [0, 2 ** 31 - 1] };
  for (const [k, [lo, hi]] of Object.entries(ints)) {
    const v = Number(raw[k] ?? DEFAULT_CONFIG[k]);
    if (!Number.isInteger(v) || v < lo || v > hi)
      throw new RangeError(`config: ${k} must be an integer in ${lo}..${hi}, got ${JSON.stringify(raw[k])}`);
    out[k] = v;
  }
  for (const [k, lo, hi] of [
    ['lr', 1e-6, 1],
    ['clip', 0, 1e6],
  ]) {
    const v = Number(raw[k] ?? DEFAULT_CONFIG[k]);
    if (!(v >= lo && v <= hi)) throw new RangeError(`config: ${k} must be a number in [${lo}, ${hi}], got ${JSON.stringify(raw[k])}`);
    out[k] = v;
  }
  return out;
}

/** Bits per character of a model that knows only the character frequencies: the bar to beat. */
export function unigramBpc(tokens, vocabSize) {
  const counts = new Float64Array(vocabSize);
  for (let i = 0; i < tokens.length; i++) counts[tokens[i]]++;
  let h = 0;
  for (const c of counts) if (c > 0) h -= (c / tokens.length) * Math.log2(c / tokens.length);
  return h;
}

function parameterCount(model) {
  return model.parameters().reduce((n, p) => n + p.value.size, 0);
}

/**
 * The gemm Backend a session's tapes use: one object whose kernels can be switched (to one thread,
 * after a parallel backend's worker failed) without rebuilding the trainer and its optimiser.
 */
class SwitchableBackend {
  constructor(target) {
    this.target = target;
  }
  get name() {
    return this.target.name;
  }
  describe() {
    return this.target.describe();
  }
  /** The gate kernels of the current target (the nn ops read this once per call). */
  get recurrent() {
    return this.target.recurrent;
  }
  gemm(args) {
    this.target.gemm(args);
  }
  prepareB(args) {
    return this.target.prepareB(args);
  }
  releaseB(prepared) {
    this.target.releaseB?.(prepared);
  }
  /**
   * A tape's workspace buffers, from the current target's memory where it has one (the wasm kernels then
   * read and write them in place). After a switch, buffers from the old target's memory stay valid arrays
   * (the new one copies them per call, and its free ignores them).
   */
  allocate(length) {
    return this.target.allocate ? this.target.allocate(length) : new Float32Array(length);
  }
  free(array) {
    this.target.free?.(array);
  }
  /** The current target's whole-window time loops (the wasm backends': batch rows split across threads). */
  get recurrentWindows() {
    return this.target.recurrentWindows;
  }
  /** Nothing: the worker that made the targets closes them. */
  close() {}
}

export class DemoSession {
  /**
   * @param {CharLM} model
   * @param {import('../../dist/data/vocabulary.js').Vocabulary} vocab
   * @param {object} options  { config, sourceName, step, backend }; backend: the gemm Backend training
   *   and validation run on (default: the engine's single-thread one), e.g. mlstm/web's parallel GEMM
   */
  constructor(model, vocab, options) {
    this.model = model;
    this.vocab = vocab;
    this.codec = new TextCodec(vocab);
    this.config = options.config;
    this.sourceName = options.sourceName;
    /** Steps done before this session's trainer (a loaded checkpoint's own count). */
    this.stepOffset = options.step ?? 0;
    this.trainer = null;
    this.valid = null;
    this.unigram = NaN;
    this.backend = options.backend ? new SwitchableBackend(options.backend) : null;
  }

  /**
   * The gemm Backend for training (the current trainer too: its step after this runs on it) and for
   * validation; null = the default.
   */
  useBackend(backend) {
    if (backend && this.backend) this.backend.target = backend;
    else this.backend = backend ? new SwitchableBackend(backend) : null;
  }

  /** A tape on this session's backend. */
  tape() {
    return this.backend ? new Tape({ backend: this.backend }) : new Tape();
  }

  /** A fresh model for `text` (its vocabulary is the text's characters). */
  static fromText(text, rawConfig, sourceName, backend = null) {
    const config = checkConfig(rawConfig);
    if (typeof text !== 'string' || text.length === 0) throw new RangeError('the training text is empty');
    const vocab = buildCharVocabulary(text);
    const model = new CharLM(
      { cell: 'mlstm', weightNorm: false, vocab: vocab.symbols.length, embed: config.embed, hidden: config.hidden, layers: 1 },
      { rng: new Rng(config.seed) },
    );
    const session = new DemoSession(model, vocab, { config, sourceName, backend });
    session.attachText(text, sourceName);
    return session;
  }

  /** A model from checkpoint bytes; throws the engine's CheckpointError (naming the file) on a bad file. */
  static fromCheckpoint(bytes, fileName, rawConfig) {
    const decoded = decodeCheckpoint(bytes, { source: fileName });
    const step = Number(decoded.metadata.step);
    const config = checkConfig({ ...rawConfig, hidden: decoded.config.hidden, embed: decoded.config.embed });
    return new DemoSession(decoded.model, decoded.vocab, { config, sourceName: fileName, step: Number.isSafeInteger(step) ? step : 0 });
  }

  /**
   * Use `text` for training from now on (a fresh Adam; the model's weights are kept). A text with a
   * character outside the model's vocabulary is an error naming the character and its position.
   */
  attachText(text, sourceName) {
    const tokens = this.codec.encode(text, sourceName);
    let train = tokens;
    let valid = null;
    if (tokens.length >= MIN_TEXT_FOR_VALID) {
      const split = splitTrainValid(tokens);
      train = split.train;
      valid = split.valid.subarray(0, VALID_CHARS);
    }
    const { batch, seq, lr, clip } = this.config;
    this.stepOffset += this.trainer ? this.trainer.step : 0;
    this.trainer = new Trainer(
      this.model,
      { train, valid: null },
      {
        batch,
        seq,
        steps: 100000, // only sizes the loss history; the demo calls trainStep() itself, for as long as it likes
        optimizer: { name: 'adam', lr },
        schedule: { kind: 'constant', lr },
        clip,
        validEvery: 0,
        validBatch: 1,
        checkpointEvery: 0,
        maxBadSteps: 5,
      },
      { tape: this.tape() },
    );
    this.valid = valid;
    this.unigram = unigramBpc(train, this.codec.size);
    this.trainChars = train.length;
    this.sourceName = sourceName;
  }

  get step() {
    return this.stepOffset + (this.trainer ? this.trainer.step : 0);
  }

  get hasTrainer() {
    return this.trainer !== null;
  }

  /** One truncated-BPTT window; returns the trainer's StepResult with the session's step count. */
  trainStep() {
    if (!this.trainer) throw new Error('trainStep: no training text attached');
    const r = this.trainer.trainStep();
    return { step: this.step, loss: r.loss, bpc: r.bpc, gradNorm: r.gradNorm, skipped: r.skipped };
  }

  /** Bits/char on the held-out tail (null when the text was too short to hold one out). */
  validate() {
    if (!this.valid) return null;
    return evaluate(this.model, this.valid, { batch: 8, seq: 128, tape: this.tape() }).bpc;
  }

  sample({ length = 240, temperature = 0.8, seed = 0, prime = '' } = {}) {
    return sample(this.model, this.vocab, { length, temperature, seed, prime });
  }

  inspect(text, layer = 0) {
    return inspectText(this.model, this.codec, text, layer);
  }

  /** The model as a safetensors checkpoint in the contract's format (the CLI loads it). */
  checkpoint() {
    return encodeCheckpoint(this.model, this.vocab, {
      metadata: { producer: 'mlstm browser demo', step: String(this.step), text: String(this.sourceName ?? '') },
    });
  }

  info() {
    const c = this.model.config;
    return {
      cell: c.cell,
      weightNorm: c.weightNorm,
      vocab: c.vocab,
      embed: c.embed,
      hidden: c.hidden,
      layers: c.layers,
      parameters: parameterCount(this.model),
      vocabKind: this.vocab.kind,
      symbols: this.vocab.kind === 'chars' ? this.vocab.symbols.slice() : null,
      sourceName: this.sourceName,
      trainChars: this.trainChars ?? 0,
      validChars: this.valid ? this.valid.length : 0,
      unigramBpc: this.unigram,
      step: this.step,
      config: this.config,
    };
  }
}
