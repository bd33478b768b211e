import type { Backend } from '../tensor/backend.js';
import type { Storage } from '../tensor/dtype.js';
import { Rng } from '../tensor/rng.js';
import type { CharLM, CharLMConfig } from '../nn/charlm.js';
import type { LayerState } from '../nn/state.js';
import { decodeCheckpoint } from '../io/checkpoint.js';
import { describeCharacter, TextCodec, type EncodedText, type Vocabulary } from '../data/vocabulary.js';
import { extractFeatures, DEFAULT_POOL, type FeatureMatrix, type Pool } from '../features/extract.js';
import { LN2 } from '../train/model.js';
import { Tape } from '../autograd/tape.js';
import { LogitSampler, type SamplingOptions } from '../train/sampling.js';
import { ModelStepper } from './stepper.js';
import { StopMatcher } from './stop.js';

/**
 * Everything a TextModel remembers of what it has read: every layer's state and the logits that
 * predict the next character. Plain typed arrays, so it can be kept, copied, or posted to a worker.
 */
export interface ModelState {
  /** Every layer's h [H] and c [H] (null for the mRNN): the LayerState of nn, as plain arrays. */
  layers: LayerState<Storage>[];
  logits: Storage; // [V]
}

/** What feeding or scoring a text read. */
export interface ReadResult {
  /** Tokens read: characters, or bytes for a byte-level model. */
  characters: number;
  /** How many characters were outside the vocabulary and read as U+FFFD (0 for a byte-level model). */
  unknown: number;
  /** The distinct unknown characters, in order of first appearance. */
  unknownCharacters: string[];
}

export interface ScoreOptions {
  /** Keep the surprise of every character in `bits` (default true); false keeps only the totals, for very long texts. */
  perCharacter?: boolean;
  /** How an error names the text (a file name; default 'score'). */
  source?: string;
}

export interface ScoreResult extends ReadResult {
  /** −log₂ p(character | everything read before it), per character (null with perCharacter: false). */
  bits: Float64Array | null;
  /** The sum of the surprises, in bits. */
  totalBits: number;
  /** Bits per character: totalBits / characters (0 for an empty text). */
  bpc: number;
  /** Bits spent on the characters read as U+FFFD (part of totalBits). */
  unknownBits: number;
}

export interface Prediction {
  /** [V] probability of each symbol as the next character. */
  probabilities: Float64Array;
  /** The model's symbols, index-aligned with `probabilities` (bytes as `\xNN` above 0x7F for a byte-level model). */
  symbols: readonly string[];
  /** The k most likely symbols, most likely first (ties: lower index). */
  top(k: number): { symbol: string; token: number; probability: number }[];
}

export interface GenerateOptions extends SamplingOptions {
  /** Characters to draw (bytes for a byte-level model), at most; default 200. */
  length?: number;
  /** Text read before generating (not part of the output); its unknown characters count in `unknown`. */
  prime?: string;
  /** Stop as soon as the generated text ends with this text (or one of these); the stop text is not output. */
  stop?: string | readonly string[];
  /** Seed of the sampling generator (default 0): the same seed from the same state gives the same text. */
  seed?: number;
}

export interface GenerateAsyncOptions extends GenerateOptions {
  /** Milliseconds of work between yields to the event loop (default 12): a page stays responsive. */
  sliceMs?: number;
  /** Stops the generation at the next slice. */
  signal?: AbortSignal;
}

export interface TextModelOptions {
  /**
   * The kernels to run on (default: `selectBackend()`, the wasm backend where WebAssembly SIMD validates, as
   * for training and evaluation, so `embed` gives what `mlstm features` computes). The
   * weights are prepared for it once; on the wasm backend (`createWasmBackend` of mlstm/node or
   * mlstm/web) the model's buffers live in its memory too, so a character copies nothing.
   */
  backend?: Backend;
}

/**
 * A trained character model as an app component: it reads text and keeps the state of what it read,
 * streams generated text, scores how surprising a text is, predicts the next character, and embeds texts
 * as feature vectors.
 *
 * It is a single stream with a state: `feed`, `score` and `generate` continue from what was read before
 * (a conversation), `reset()` starts over, `state` saves and restores. After `reset()` the model has
 * read one newline (the start context; token 0 if the vocabulary has no newline), so the first
 * character of a text is predicted too. Characters outside the vocabulary are read as U+FFFD when the
 * vocabulary has it (every model `mlstm train` makes does) and counted; a model without it refuses
 * them, naming the character and its offset.
 *
 * Buffers are made once, per model, and reused. On the JS backend nothing needs disposing; on the wasm
 * backend `dispose()` gives the model's memory back at once (else it goes when the model is collected).
 */
export class TextModel {
  readonly config: Readonly<CharLMConfig>;
  readonly vocab: Vocabulary;
  readonly codec: TextCodec;
  /** What one token is: a character, or a byte for a byte-level model. */
  readonly unit: 'character' | 'byte';
  /** The token read by reset(): newline, else 0. */
  readonly startToken: number;
  private readonly model: CharLM;
  private readonly stepper: ModelStepper;
  private readonly symbolList: readonly string[];
  /** The generation allowed to step the model; any other call takes the model from it (see claim). */
  private owner: object | null = null;

  constructor(model: CharLM, vocab: Vocabulary, options: TextModelOptions = {}) {
    const codec = new TextCodec(vocab);
    if (codec.size !== model.config.vocab)
      throw new RangeError(`TextModel: the vocabulary has ${codec.size} symbols but the model predicts ${model.config.vocab}`);
    this.model = model;
    this.config = model.config;
    this.vocab = vocab;
    this.codec = codec;
    this.unit = vocab.kind === 'bytes' ? 'byte' : 'character';
    this.symbolList = Object.freeze(
      vocab.kind === 'bytes'
        ? Array.from({ length: 256 }, (_, b) => (b < 0x80 ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`))
        : vocab.symbols.slice(),
    );
    this.startToken = vocab.kind === 'bytes' ? 10 : Math.max(0, vocab.symbols.indexOf('\n'));
    this.stepper = new ModelStepper(model, options);
    this.reset();
  }

  /** The backend the model runs on. */
  get backend(): Backend {
    return this.stepper.backend;
  }

  /**
   * Gives back the memory the model holds in its backend (prepared weights; on the wasm backend every
   * buffer): the model cannot read or generate afterwards. Idempotent.
   */
  dispose(): void {
    if (this.stepper.disposed) return;
    this.claim();
    this.stepper.dispose();
  }

  /** The model's symbols in token order. */
  get symbols(): readonly string[] {
    return this.symbolList;
  }

  /** Start over: zero state, then the start context (one newline) read. */
  reset(): void {
    this.claim();
    this.stepper.zeroState();
    this.stepper.step(this.startToken);
  }

  /**
   * Read `text`, exactly its characters and nothing else, advancing the state (no sampling). A byte-level
   * model also reads raw bytes (a Uint8Array) as they are.
   */
  feed(text: string | Uint8Array, options: { source?: string } = {}): ReadResult {
    this.claim();
    const e = this.encode(text, options.source ?? 'feed');
    const tokens = e.tokens;
    for (let i = 0; i < tokens.length; i++) this.stepper.step(tokens[i]!);
    return readResult(e);
  }

  /**
   * How surprising `text` is, given what was read before it: −log₂ p of each character, then read it
   * (the state advances as with feed). Scoring a text in pieces gives the same bits as scoring it
   * whole, so a long text can be streamed through in chunks. reset() first for a text on its own.
   */
  score(text: string | Uint8Array, options: ScoreOptions = {}): ScoreResult {
    this.claim();
    const e = this.encode(text, options.source ?? 'score');
    const tokens = e.tokens;
    const n = tokens.length;
    const bits = options.perCharacter === false ? null : new Float64Array(n);
    const V = this.stepper.vocab;
    const unknownToken = this.codec.unknownToken;
    let logits = this.stepper.logits;
    let total = 0;
    let unknownBits = 0;
    for (let i = 0; i < n; i++) {
      const t = tokens[i]!;
      const b = surprisalBits(logits, V, t);
      if (bits) bits[i] = b;
      total += b;
      if (t === unknownToken && e.unknown > 0) unknownBits += b;
      logits = this.stepper.step(t);
    }
    return { ...readResult(e), bits, totalBits: total, bpc: n === 0 ? 0 : total / n, unknownBits };
  }

  /** The next character's distribution, softmax(logits / temperature) (default 1), from the current state. */
  predict(options: { temperature?: number } = {}): Prediction {
    this.checkLive();
    const temperature = options.temperature ?? 1;
    if (!(temperature > 0) || !Number.isFinite(temperature))
      throw new RangeError(`predict: temperature must be a finite number > 0, got ${temperature}`);
    const logits = this.stepper.logits;
    const V = this.stepper.vocab;
    let max = -Infinity;
    for (let i = 0; i < V; i++) if (logits[i]! > max) max = logits[i]!;
    const p = new Float64Array(V);
    let sum = 0;
    for (let i = 0; i < V; i++) sum += p[i] = Math.exp((logits[i]! - max) / temperature);
    for (let i = 0; i < V; i++) p[i]! /= sum;
    const symbols = this.symbolList;
    return {
      probabilities: p,
      symbols,
      top: (k: number) =>
        Array.from(p.keys())
          .sort((a, b) => p[b]! - p[a]! || a - b)
          .slice(0, Math.max(0, k))
          .map((token) => ({ symbol: symbols[token]!, token, probability: p[token]! })),
    };
  }

  /**
   * Generate text from the current state, one character per chunk as it is drawn:
   * `for (const chunk of model.generate({ length: 300 })) page.append(chunk)`. The prime, if any, is read
   * first; every drawn character is read too, so a following call continues the text. Drawing and reading
   * a character allocate nothing. Any other call on the model ends the generation (its next step throws).
   */
  generate(options: GenerateOptions = {}): Generation {
    return new Generation(this, this.stepper, options, this.claim());
  }

  /** generate, collected into one string. */
  generateText(options: GenerateOptions = {}): string {
    let s = '';
    for (const chunk of this.generate(options)) s += chunk;
    return s;
  }

  /**
   * generate for pages: an async iterator that works in slices of `sliceMs` and yields to the event loop
   * between them, each chunk being the text drawn in one slice. `signal` ends it early.
   */
  async *generateAsync(options: GenerateAsyncOptions = {}): AsyncGenerator<string, void, undefined> {
    const sliceMs = options.sliceMs ?? 12;
    if (!(sliceMs >= 0)) throw new RangeError(`generateAsync: sliceMs must be ≥ 0, got ${sliceMs}`);
    const generation = this.generate(options);
    const clock = (): number => (typeof performance !== 'undefined' ? performance.now() : Date.now());
    for (;;) {
      if (options.signal?.aborted) return;
      const end = clock() + sliceMs;
      let chunk = '';
      let done = false;
      do {
        const r = generation.next();
        if (r.done) {
          done = true;
          break;
        }
        chunk += r.value;
      } while (clock() < end);
      if (chunk.length > 0) yield chunk;
      if (done) return;
      await new Promise<void>((resolve) => setTimeout(resolve, 0));
    }
  }

  /** A snapshot of the state (copies): restore it with `model.state = saved`. */
  get state(): ModelState {
    this.checkLive();
    const s = this.stepper;
    return {
      layers: s.h.map((h, l) => ({ h: h.slice(), c: s.c[l] ? s.c[l].slice() : null })),
      logits: s.logits.slice(),
    };
  }

  set state(state: ModelState) {
    const s = this.stepper;
    const where = 'TextModel.state';
    if (!state || !Array.isArray(state.layers) || state.layers.length !== s.layers)
      throw new RangeError(`${where}: expected the state of ${s.layers} layers, got ${state?.layers?.length ?? 'none'}`);
    checkLength(where, 'logits', state.logits, s.vocab);
    state.layers.forEach((layer, l) => {
      checkLength(where, `layers[${l}].h`, layer.h, s.hidden);
      if (s.c[l]) checkLength(where, `layers[${l}].c`, layer.c, s.hidden);
    });
    this.claim();
    state.layers.forEach((layer, l) => {
      s.h[l]!.set(layer.h);
      if (s.c[l]) s.c[l].set(layer.c!);
    });
    s.logits.set(state.logits);
  }

  /**
   * The feature vector of one text, as `mlstm features` computes it (the text alone, from a zero state;
   * the model's own state is not used or changed). `mean` (default): the top layer's mean h; `last`: its
   * final c; `mean+last`: both.
   */
  embed(text: string, options: { pool?: Pool } = {}): Float32Array {
    return this.embedBatch([text], options).data;
  }

  /** embed for many texts at once (batched, same values): one row per text. */
  embedBatch(texts: readonly string[], options: { pool?: Pool; batch?: number } = {}): FeatureMatrix {
    const sequences = texts.map((t, i) => {
      const tokens = this.encode(t, `embed: text ${i}`).tokens;
      if (tokens.length === 0) throw new RangeError(`embed: text ${i} is empty; a feature needs at least one character`);
      return tokens;
    });
    return extractFeatures(this.model, sequences, {
      tape: new Tape({ backend: this.stepper.backend }),
      pool: options.pool ?? DEFAULT_POOL,
      ...(options.batch ? { batch: options.batch } : {}),
    });
  }

  private encode(text: string | Uint8Array, source: string): EncodedText {
    if (text instanceof Uint8Array) {
      if (this.unit !== 'byte') throw new TypeError(`${source}: a character model reads text (a string); decode the bytes first`);
      return { tokens: this.codec.encodeBytes(text), unknown: 0, unknownCharacters: [], firstUnknownOffset: -1 };
    }
    if (typeof text !== 'string') throw new TypeError(`${source}: expected a string, got ${typeof text}`);
    return this.codec.encodeText(text, source);
  }

  /** Takes the model from any generation in progress (its next step throws) and returns a new owner token. */
  private claim(): object {
    this.checkLive();
    const token = {};
    this.owner = token;
    return token;
  }

  private checkLive(): void {
    if (this.stepper.disposed) throw new Error('TextModel: the model was disposed (dispose()); load it again to use it');
  }

  /** @internal Whether `token` (a generation's) still owns the model. */
  owns(token: object): boolean {
    return this.owner === token;
  }
}

/** −log₂ softmax(logits)[target], in float64 through the row's log-sum-exp with the max subtracted. */
export function surprisalBits(logits: Storage, V: number, target: number): number {
  let max = -Infinity;
  for (let j = 0; j < V; j++) if (logits[j]! > max) max = logits[j]!;
  let sum = 0;
  for (let j = 0; j < V; j++) sum += Math.exp(logits[j]! - max);
  return (max + Math.log(sum) - logits[target]!) / LN2;
}

function readResult(e: EncodedText): ReadResult {
  return { characters: e.tokens.length, unknown: e.unknown, unknownCharacters: e.unknownCharacters };
}

function checkLength(where: string, name: string, v: unknown, n: number): void {
  if (!(v instanceof Float32Array || v instanceof Float64Array) || v.length !== n)
    throw new RangeError(`${where}: ${name} must be a Float32Array or Float64Array of length ${n}`);
}

/**
 * One run of TextModel.generate: an iterator of text chunks (one per character as it is drawn; a
 * byte-level model's bytes are decoded as UTF-8 and yielded as whole characters). After it ends,
 * `stopped` says whether a stop text ended it, `drawn` how many tokens were drawn (stop text included).
 */
export class Generation implements IterableIterator<string> {
  /** Characters of the prime that were outside the vocabulary (read as U+FFFD), and which. */
  readonly unknown: number;
  readonly unknownCharacters: string[];
  /** Whether a stop text ended the generation (set when it ends). */
  stopped = false;
  /** Tokens drawn so far (the stop text included). */
  drawn = 0;
  private readonly length: number;
  private readonly sampler: LogitSampler;
  private readonly rng: Rng;
  /** Uniform numbers drawn from rng in batches (the same sequence as one next() per draw; see LogitSampler). */
  private readonly uniforms = new Float64Array(64);
  private uniformAt = 64;
  private readonly stop: StopMatcher | null;
  private readonly decoder: InstanceType<typeof TextDecoder> | null;
  private readonly byteBuffer: Uint8Array;
  private readonly symbols: readonly string[];
  private pending = 0; // tokens released (by the stop matcher, or the last one drawn), not yet yielded
  private pendingAt = 0;
  private lastDrawn = 0;
  private finished = false;

  constructor(
    private readonly model: TextModel,
    private readonly stepper: ModelStepper,
    options: GenerateOptions,
    private readonly token: object,
  ) {
    const length = options.length ?? 200;
    if (!Number.isInteger(length) || length < 0) throw new RangeError(`generate: length must be an integer ≥ 0, got ${length}`);
    this.length = length;
    this.sampler = new LogitSampler(stepper.vocab, {
      ...(options.temperature !== undefined && { temperature: options.temperature }),
      ...(options.topK !== undefined && { topK: options.topK }),
      ...(options.topP !== undefined && { topP: options.topP }),
    });
    this.rng = new Rng(options.seed ?? 0);
    const stops = options.stop === undefined ? [] : typeof options.stop === 'string' ? [options.stop] : [...options.stop];
    this.stop = stops.length > 0 ? new StopMatcher(stops.map((s) => stopTokens(model.codec, s))) : null;
    this.decoder = model.unit === 'byte' ? new TextDecoder('utf-8') : null;
    this.byteBuffer = new Uint8Array(1);
    this.symbols = model.vocab.kind === 'chars' ? model.vocab.symbols : [];
    const prime = options.prime ?? '';
    const e = model.codec.encodeText(prime, 'prime');
    this.unknown = e.unknown;
    this.unknownCharacters = e.unknownCharacters;
    for (let i = 0; i < e.tokens.length; i++) stepper.step(e.tokens[i]!);
  }

  [Symbol.iterator](): this {
    return this;
  }

  next(): IteratorResult<string, undefined> {
    for (;;) {
      if (this.pending > 0) {
        const text = this.emit(this.stop ? this.stop.releasedAt(this.pendingAt++) : this.lastDrawn);
        this.pending--;
        if (text.length > 0) return { value: text, done: false };
        continue;
      }
      if (this.finished) return this.end();
      this.advance();
    }
  }

  /**
   * Draw one token and read it, or end the generation (length reached, stop text completed); what it
   * releases for output is queued for next(). Returns the token drawn, or −1 when it ended instead.
   * The per-character work of generate: it allocates nothing.
   */
  advance(): number {
    if (this.finished) return -1;
    if (!this.model.owns(this.token))
      throw new Error('generate: the model was used by another call (feed, score, reset, state or generate) during this generation');
    if (this.drawn >= this.length) {
      this.finished = true;
      if (this.stop) this.release(this.stop.flush());
      return -1;
    }
    if (this.uniformAt === this.uniforms.length) {
      this.rng.fillUniform(this.uniforms);
      this.uniformAt = 0;
    }
    const t = this.sampler.drawWith(this.stepper.logits, 0, this.uniforms, this.uniformAt++);
    this.stepper.step(t);
    this.drawn++;
    this.lastDrawn = t;
    if (this.stop === null) {
      this.release(1);
      return t;
    }
    const released = this.stop.push(t);
    if (this.stop.matched) {
      this.stopped = true;
      this.finished = true;
    }
    this.release(released);
    return t;
  }

  private release(count: number): void {
    this.pending = count;
    this.pendingAt = 0;
  }

  private emit(token: number): string {
    if (this.decoder === null) return this.symbols[token]!;
    this.byteBuffer[0] = token;
    return this.decoder.decode(this.byteBuffer, { stream: true });
  }

  private end(): IteratorResult<string, undefined> {
    if (this.decoder !== null) {
      const tail = this.decoder.decode();
      if (tail.length > 0) return { value: tail, done: false };
    }
    return { value: undefined, done: true };
  }
}

/** A stop text as tokens; a character the model cannot produce (outside the vocabulary) is refused. */
function stopTokens(codec: TextCodec, stop: string): Int32Array {
  if (typeof stop !== 'string' || stop.length === 0) throw new RangeError('generate: a stop text must be a non-empty string');
  const e = codec.encodeText(stop, 'stop');
  if (e.unknown > 0)
    throw new RangeError(
      `generate: the stop text ${JSON.stringify(stop)} holds ${e.unknownCharacters.map((c) => describeCharacter(c.codePointAt(0)!)).join(', ')}, outside the model's vocabulary: it would never be generated`,
    );
  return e.tokens;
}

/** Load a checkpoint (safetensors bytes, e.g. from fetch or a file) as a TextModel. */
export function loadModel(bytes: Uint8Array | ArrayBuffer, options: TextModelOptions & { source?: string } = {}): TextModel {
  const { model, vocab } = decodeCheckpoint(bytes, { source: options.source ?? 'model' });
  return new TextModel(model, vocab, options);
}
