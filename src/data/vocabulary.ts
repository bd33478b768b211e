/**
 * Vocabularies and the text ↔ token mapping.
 *
 * - `chars`: the distinct Unicode code points of the training text, sorted by code point, so the same text
 *   always gives the same indices whatever order its characters first appear in.
 * - `bytes`: V = 256, a token is one byte of the UTF-8 encoding; any input is representable.
 *
 * The shape of `Vocabulary` is the one the checkpoint module stores (CONTRACT.md `vocab` / `tokenizer`).
 */
export type Vocabulary = { kind: 'chars'; symbols: string[] } | { kind: 'bytes' };

export const BYTES_VOCABULARY: Vocabulary = Object.freeze({ kind: 'bytes' }) as Vocabulary;

/** A text that the vocabulary cannot represent (names the character, its offset, line and column). */
export class VocabularyError extends Error {
  readonly offset: number;
  constructor(message: string, offset: number) {
    super(message);
    this.name = 'VocabularyError';
    this.offset = offset;
  }
}

export function vocabularySize(vocab: Vocabulary): number {
  return vocab.kind === 'bytes' ? 256 : vocab.symbols.length;
}

/** The distinct characters (code points) of `text`, in code-point order. */
export function buildCharVocabulary(text: string): Vocabulary {
  const seen = new Set<number>();
  for (let i = 0; i < text.length; ) {
    const cp = text.codePointAt(i)!;
    seen.add(cp);
    i += cp > 0xffff ? 2 : 1;
  }
  const codes = [...seen].sort((a, b) => a - b);
  return { kind: 'chars', symbols: codes.map((c) => String.fromCodePoint(c)) };
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
  /** Code point → index for the Basic Multilingual Plane (-1 = absent); astral code points use `astral`. */
  private readonly bmp: Int32Array | null;
  private readonly astral: Map<number, number>;

  constructor(vocab: Vocabulary) {
    this.vocab = vocab;
    this.size = vocabularySize(vocab);
    this.astral = new Map();
    if (vocab.kind === 'bytes') {
      this.bmp = null;
      return;
    }
    if (vocab.symbols.length === 0) throw new VocabularyError('TextCodec: the vocabulary is empty', 0);
    this.bmp = new Int32Array(0x10000).fill(-1);
    vocab.symbols.forEach((sym, index) => {
      const cp = sym.codePointAt(0);
      if (cp === undefined || sym.length !== (cp > 0xffff ? 2 : 1)) {
        throw new VocabularyError(`TextCodec: vocabulary symbol ${index} (${JSON.stringify(sym)}) is not a single character`, index);
      }
      const prev = cp <= 0xffff ? this.bmp![cp]! : (this.astral.get(cp) ?? -1);
      if (prev >= 0) throw new VocabularyError(`TextCodec: vocabulary symbols ${prev} and ${index} are both ${describeCharacter(cp)}`, index);
      if (cp <= 0xffff) this.bmp![cp] = index;
      else this.astral.set(cp, index);
    });
  }

  /**
   * Token ids of `text`. A character outside a `chars` vocabulary is a VocabularyError naming it, its
   * character offset and line:column in `source`.
   */
  encode(text: string, source = 'text'): Int32Array {
    if (this.vocab.kind === 'bytes') return this.encodeBytes(new TextEncoder().encode(text));
    const bmp = this.bmp!;
    const out = new Int32Array(text.length); // upper bound: one token per UTF-16 unit
    let n = 0;
    for (let i = 0; i < text.length; ) {
      const cp = text.codePointAt(i)!;
      const id = cp <= 0xffff ? bmp[cp]! : (this.astral.get(cp) ?? -1);
      if (id < 0) throw this.unknownCharacter(text, i, n, cp, source);
      out[n++] = id;
      i += cp > 0xffff ? 2 : 1;
    }
    return n === out.length ? out : out.slice(0, n);
  }

  /** Token ids of raw bytes (bytes vocabulary only). */
  encodeBytes(bytes: Uint8Array): Int32Array {
    if (this.vocab.kind !== 'bytes') throw new VocabularyError('TextCodec.encodeBytes: needs the bytes vocabulary', 0);
    const out = new Int32Array(bytes.length);
    for (let i = 0; i < bytes.length; i++) out[i] = bytes[i]!;
    return out;
  }

  /** The text of token ids (a bytes model's output is decoded as UTF-8, malformed bytes becoming U+FFFD). */
  decode(tokens: ArrayLike<number>): string {
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i]!;
      if (!Number.isInteger(t) || t < 0 || t >= this.size) {
        throw new VocabularyError(`TextCodec.decode: token ${t} at position ${i} is outside the vocabulary of ${this.size}`, i);
      }
    }
    if (this.vocab.kind === 'bytes') return new TextDecoder('utf-8').decode(Uint8Array.from(tokens));
    const symbols = this.vocab.symbols;
    let s = '';
    for (let i = 0; i < tokens.length; i++) s += symbols[tokens[i]!]!;
    return s;
  }

  private unknownCharacter(text: string, unitOffset: number, charOffset: number, cp: number, source: string): VocabularyError {
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
    return new VocabularyError(
      `${source}: character ${describeCharacter(cp)} at offset ${charOffset} (line ${line}, column ${column}) is not in the model's vocabulary of ${this.size} characters`,
      charOffset,
    );
  }
}
