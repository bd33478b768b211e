/**
 * Vocabularies and the text ↔ token mapping.
 *
 * - `chars`: the distinct Unicode code points of the training text, sorted by code point, so the same text
 *   always gives the same indices whatever order its characters first appear in. A character vocabulary
 *   may hold the unknown symbol U+FFFD (REPLACEMENT CHARACTER) once; it then stands for every character
 *   outside the vocabulary (docs/CONTRACT.md "Checkpoints"), and encoding counts how many it stood for.
 *   Without it, such a character is an error naming it and its offset. `trainingVocabulary` (what
 *   `mlstm train` builds) always adds it, so a model trained here can read any text.
 * - `bytes`: V = 256, a token is one byte of the UTF-8 encoding; any input is representable.
 *
 * The shape of `Vocabulary` is the one the checkpoint module stores (docs/CONTRACT.md `vocab` / `tokenizer`).
 */
import { InputError } from './input-error.js';

export type Vocabulary = { kind: 'chars'; symbols: string[] } | { kind: 'bytes' };

export const BYTES_VOCABULARY: Vocabulary = Object.freeze({ kind: 'bytes' }) as Vocabulary;

/** The unknown symbol of a character vocabulary: U+FFFD REPLACEMENT CHARACTER. */
export const UNKNOWN_SYMBOL = '\uFFFD';
const UNKNOWN_CODE_POINT = 0xfffd;

/** A text that the vocabulary cannot represent (names the character, its offset, line and column). */
export function vocabularySize(vocab: Vocabulary): number {
  return vocab.kind === 'bytes' ? 256 : vocab.symbols.length;
}

/** The distinct characters (code points) of `text`, in code-point order. */
export function buildCharVocabulary(text: string): Vocabulary {
  return charVocabularyOf([text], false);
}

/**
 * The vocabulary `mlstm train` gives a new character model (as char-rnn does): the distinct characters
 * of the training text AND the validation text, plus the unknown symbol U+FFFD, in code-point order. So
 * a validation character the training text lacks is a symbol of its own, and any other text can be read
 * later (its foreign characters as U+FFFD). A U+FFFD in the texts is that same symbol.
 */
export function trainingVocabulary(train: string, valid = ''): Vocabulary {
  return charVocabularyOf([train, valid], true);
}

function charVocabularyOf(texts: readonly string[], withUnknown: boolean): Vocabulary {
  const seen = new Set<number>();
  if (withUnknown) seen.add(UNKNOWN_CODE_POINT);
  for (const text of texts) {
    for (let i = 0; i < text.length; ) {
      const cp = text.codePointAt(i)!;
      seen.add(cp);
      i += cp > 0xffff ? 2 : 1;
    }
  }
  const codes = [...seen].sort((a, b) => a - b);
  return { kind: 'chars', symbols: codes.map((c) => String.fromCodePoint(c)) };
}

/** What encoding a text found: its tokens, and the characters outside the vocabulary that U+FFFD stood for. */
export interface EncodedText {
  tokens: Int32Array;
  /** How many characters were outside the vocabulary (read as U+FFFD); 0 for a bytes vocabulary. */
  unknown: number;
  /** The distinct unknown characters, in order of first appearance. */
  unknownCharacters: string[];
  /** Character offset of the first unknown character, −1 if none. */
  firstUnknownOffset: number;
}

/** How many distinct unknown characters a report names (a few, not a whole alphabet). */
export const UNKNOWN_SHOWN = 10;

/**
 * One line for a report, e.g. `3 characters outside the vocabulary were read as U+FFFD: '&' (U+0026),
 * 'é' (U+00E9)`; '' when there were none.
 */
export function describeUnknown(e: Pick<EncodedText, 'unknown' | 'unknownCharacters'>): string {
  if (e.unknown === 0) return '';
  const shown = e.unknownCharacters.slice(0, UNKNOWN_SHOWN);
  const chars = shown.map((c) => describeCharacter(c.codePointAt(0)!));
  const more = e.unknownCharacters.length > shown.length ? ` and ${e.unknownCharacters.length - shown.length} more` : '';
  const n = e.unknown === 1 ? '1 character' : `${e.unknown} characters`;
  return `${n} outside the vocabulary ${e.unknown === 1 ? 'was' : 'were'} read as U+FFFD: ${chars.join(', ')}${more}`;
}

/** `'a'` for printable characters, `'\n' (U+000A)` style for the rest, for error messages. */
export function describeCharacter(cp: number): string {
  const hex = `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
  const ch = String.fromCodePoint(cp);
  const printable = cp >= 0x20 && cp !== 0x7f && !(cp >= 0x80 && cp < 0xa0);
  return printable ? `'${ch}' (${hex})` : `${JSON.stringify(ch)} (${hex})`;
}

/**
 * Encodes text to token ids and back for one vocabulary. Built once (the lookup table is the costly
 * part) and reused for the training text, the validation text and sampling primes.
 */
export class TextCodec {
  readonly vocab: Vocabulary;
  readonly size: number;
  /** The token of U+FFFD, which every character outside the vocabulary becomes; −1 if the vocabulary has none. */
  readonly unknownToken: number;
  /** Code point → index for the Basic Multilingual Plane (-1 = absent); astral code points use `astral`. */
  private readonly bmp: Int32Array | null;
  private readonly astral: Map<number, number>;

  constructor(vocab: Vocabulary) {
    this.vocab = vocab;
    this.size = vocabularySize(vocab);
    this.astral = new Map();
    if (vocab.kind === 'bytes') {
      this.bmp = null;
      this.unknownToken = -1;
      return;
    }
    if (vocab.symbols.length === 0) throw new InputError('vocabulary', 'TextCodec: the vocabulary is empty', 0);
    this.bmp = new Int32Array(0x10000).fill(-1);
    vocab.symbols.forEach((sym, index) => {
      const cp = sym.codePointAt(0);
      if (cp === undefined || sym.length !== (cp > 0xffff ? 2 : 1)) {
        throw new InputError('vocabulary', `TextCodec: vocabulary symbol ${index} (${JSON.stringify(sym)}) is not a single character`, index);
      }
      const prev = cp <= 0xffff ? this.bmp![cp]! : (this.astral.get(cp) ?? -1);
      if (prev >= 0) throw new InputError('vocabulary', `TextCodec: vocabulary symbols ${prev} and ${index} are both ${describeCharacter(cp)}`, index);
      if (cp <= 0xffff) this.bmp![cp] = index;
      else this.astral.set(cp, index);
    });
    this.unknownToken = this.bmp[UNKNOWN_CODE_POINT]!;
  }

  /**
   * Token ids of `text`. A character outside a `chars` vocabulary becomes U+FFFD if the vocabulary has
   * it (use encodeText to learn how many did), else it is an InputError ('vocabulary') naming it, its character
   * offset and line:column in `source`.
   */
  encode(text: string, source = 'text'): Int32Array {
    return this.encodeText(text, source).tokens;
  }

  /** encode, and what it found: how many characters were unknown (read as U+FFFD), and which. */
  encodeText(text: string, source = 'text'): EncodedText {
    if (this.vocab.kind === 'bytes') return { tokens: this.encodeBytes(new TextEncoder().encode(text)), ...NONE_UNKNOWN() };
    const bmp = this.bmp!;
    const unknownToken = this.unknownToken;
    const out = new Int32Array(text.length); // upper bound: one token per UTF-16 unit
    let n = 0;
    let unknown = 0;
    let firstUnknownOffset = -1;
    let seen: Set<number> | null = null; // distinct unknown code points, made on the first one
    for (let i = 0; i < text.length; ) {
      const cp = text.codePointAt(i)!;
      let id = cp <= 0xffff ? bmp[cp]! : (this.astral.get(cp) ?? -1);
      if (id < 0) {
        if (unknownToken < 0) throw this.unknownCharacter(text, i, n, cp, source);
        id = unknownToken;
        if (unknown++ === 0) firstUnknownOffset = n;
        (seen ??= new Set()).add(cp);
      }
      out[n++] = id;
      i += cp > 0xffff ? 2 : 1;
    }
    const tokens = n === out.length ? out : out.slice(0, n);
    const unknownCharacters = seen ? [...seen].map((c) => String.fromCodePoint(c)) : [];
    return { tokens, unknown, unknownCharacters, firstUnknownOffset };
  }

  /** Token ids of raw bytes (bytes vocabulary only). */
  encodeBytes(bytes: Uint8Array): Int32Array {
    if (this.vocab.kind !== 'bytes') throw new InputError('vocabulary', 'TextCodec.encodeBytes: needs the bytes vocabulary', 0);
    const out = new Int32Array(bytes.length);
    for (let i = 0; i < bytes.length; i++) out[i] = bytes[i]!;
    return out;
  }

  /** The text of token ids (a bytes model's output is decoded as UTF-8, malformed bytes becoming U+FFFD). */
  decode(tokens: ArrayLike<number>): string {
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i]!;
      if (!Number.isInteger(t) || t < 0 || t >= this.size) {
        throw new InputError('vocabulary', `TextCodec.decode: token ${t} at position ${i} is outside the vocabulary of ${this.size}`, i);
      }
    }
    if (this.vocab.kind === 'bytes') return new TextDecoder('utf-8').decode(Uint8Array.from(tokens));
    const symbols = this.vocab.symbols;
    let s = '';
    for (let i = 0; i < tokens.length; i++) s += symbols[tokens[i]!]!;
    return s;
  }

  private unknownCharacter(text: string, unitOffset: number, charOffset: number, cp: number, source: string): InputError {
    let line = 1;
    let lineStart = 0;
    for (let j = 0; j < unitOffset; j++) {
      if (text.charCodeAt(j) === 10) {
        line++;
        lineStart = j + 1;
      }
    }
    let column = 1;
    for (let j = lineStart; j < unitOffset; ) {
      const c = text.codePointAt(j)!;
      j += c > 0xffff ? 2 : 1;
      column++;
    }
    return new InputError(
      'vocabulary',
      `${source}: character ${describeCharacter(cp)} at offset ${charOffset} (line ${line}, column ${column}) is not in the model's vocabulary of ${this.size} characters`,
      charOffset,
    );
  }
}

const NONE_UNKNOWN = (): Omit<EncodedText, 'tokens'> => ({ unknown: 0, unknownCharacters: [], firstUnknownOffset: -1 });
