import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  BYTES_VOCABULARY,
  buildCharVocabulary,
  describeUnknown,
  TextCodec,
  trainingVocabulary,
  UNKNOWN_SHOWN,
  UNKNOWN_SYMBOL,
} from '../src/data/vocabulary.js';
import { decodeCheckpoint, encodeCheckpoint } from '../src/io/checkpoint.js';
import { CharLM } from '../src/nn/charlm.js';
import { Rng } from '../src/tensor/rng.js';
import { decodeUtf8Strict, firstInvalidUtf8Offset } from '../src/data/utf8.js';
import { InputError } from '../src/data/input-error.js';
import { splitTrainValid, tokensFingerprint } from '../src/data/split.js';

const codePoints = (s: string): string[] => Array.from(s);

describe('character vocabulary', () => {
  it('is the distinct code points of the text in code-point order', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (text) => {
        const vocab = buildCharVocabulary(text);
        if (vocab.kind !== 'chars') throw new Error('kind');
        const expected = [...new Set(codePoints(text))].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
        expect(vocab.symbols).toEqual(expected);
      }),
    );
  });

  it('does not depend on the order characters first appear in', () => {
    expect(buildCharVocabulary('cab')).toEqual(buildCharVocabulary('abcabc'));
  });

  it('encodes one token per character and decodes back to the same text (astral characters included)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', minLength: 1, maxLength: 200 }), (text) => {
        const codec = new TextCodec(buildCharVocabulary(text));
        const tokens = codec.encode(text);
        expect(tokens.length).toBe(codePoints(text).length);
        expect(codec.decode(tokens)).toBe(text);
      }),
    );
  });

  it('names the first character it cannot encode, with its character offset, line and column', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', 'b', '\n', 'é', '😀'), minLength: 1, maxLength: 60 }), fc.nat(), (base, pos) => {
        const chars = codePoints(base);
        const k = pos % (chars.length + 1);
        const text = [...chars.slice(0, k), 'Z', ...chars.slice(k), 'Z'].join('');
        const codec = new TextCodec(buildCharVocabulary(base));
        let err: unknown;
        try {
          codec.encode(text, 'valid.txt');
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(InputError);
        expect((err as InputError).kind).toBe('vocabulary');
        const before = chars.slice(0, k);
        const line = before.filter((c) => c === '\n').length + 1;
        const lastNl = before.lastIndexOf('\n');
        const column = k - (lastNl + 1) + 1;
        expect((err as InputError).position).toBe(k);
        expect((err as Error).message).toBe(
          `valid.txt: character 'Z' (U+005A) at offset ${k} (line ${line}, column ${column}) is not in the model's vocabulary of ${codec.size} characters`,
        );
      }),
    );
  });

  it('shows control characters escaped in the error', () => {
    const codec = new TextCodec(buildCharVocabulary('ab'));
    expect(() => codec.encode('a\tb')).toThrow(/character "\\t" \(U\+0009\) at offset 1 \(line 1, column 2\)/);
  });

  it('rejects a vocabulary with duplicate or multi-character symbols', () => {
    expect(() => new TextCodec({ kind: 'chars', symbols: ['a', 'b', 'a'] })).toThrow(/symbols 0 and 2 are both 'a'/);
    expect(() => new TextCodec({ kind: 'chars', symbols: ['a', 'bc'] })).toThrow(/symbol 1 \("bc"\) is not a single character/);
    expect(() => new TextCodec({ kind: 'chars', symbols: [] })).toThrow(/empty/);
  });

  it('rejects token ids outside the vocabulary when decoding', () => {
    const codec = new TextCodec(buildCharVocabulary('ab'));
    expect(() => codec.decode([0, 2])).toThrow(/token 2 at position 1 is outside the vocabulary of 2/);
  });
});

describe('the unknown symbol U+FFFD', () => {
  const byCodePoint = (a: string, b: string): number => a.codePointAt(0)! - b.codePointAt(0)!;

  it('trainingVocabulary is the distinct characters of the training and validation texts, plus U+FFFD, in code-point order', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 100 }), fc.string({ unit: 'binary', maxLength: 100 }), (train, valid) => {
        const vocab = trainingVocabulary(train, valid);
        if (vocab.kind !== 'chars') throw new Error('kind');
        const expected = [...new Set([...codePoints(train), ...codePoints(valid), UNKNOWN_SYMBOL])].sort(byCodePoint);
        expect(vocab.symbols).toEqual(expected);
      }),
    );
  });

  it('a validation character the training text lacks is a symbol of its own (the issue-13 case)', () => {
    const vocab = trainingVocabulary('call me ishmael', 'tom & jerry');
    const codec = new TextCodec(vocab);
    const { tokens, unknown } = codec.encodeText('tom & jerry');
    expect(unknown).toBe(0);
    expect(codec.decode(tokens)).toBe('tom & jerry');
    expect(codec.unknownToken).toBe(vocab.kind === 'chars' ? vocab.symbols.indexOf(UNKNOWN_SYMBOL) : -2);
  });

  it('a U+FFFD in the training text is the same symbol, not a second one', () => {
    const vocab = trainingVocabulary(`a${UNKNOWN_SYMBOL}b`, UNKNOWN_SYMBOL);
    expect(vocab).toEqual({ kind: 'chars', symbols: ['a', 'b', UNKNOWN_SYMBOL] });
  });

  it('stands for every character outside the vocabulary, and encodeText counts them (property against a naive count)', () => {
    const alphabet = fc.constantFrom('a', 'b', '\n', 'é', '😀', 'Z', '&', '\u{1F600}', UNKNOWN_SYMBOL);
    fc.assert(
      fc.property(fc.string({ unit: alphabet, maxLength: 40 }), fc.string({ unit: alphabet, maxLength: 60 }), (train, text) => {
        const vocab = trainingVocabulary(train);
        if (vocab.kind !== 'chars') throw new Error('kind');
        const known = new Set(vocab.symbols);
        const codec = new TextCodec(vocab);
        const got = codec.encodeText(text, 'x');
        const chars = codePoints(text);
        const unknownAt = chars.map((c, i) => (known.has(c) ? -1 : i)).filter((i) => i >= 0);
        expect(got.tokens.length).toBe(chars.length);
        expect(got.unknown).toBe(unknownAt.length);
        expect(got.firstUnknownOffset).toBe(unknownAt.length > 0 ? unknownAt[0] : -1);
        expect(got.unknownCharacters).toEqual([...new Set(unknownAt.map((i) => chars[i]!))]);
        expect(codec.decode(got.tokens)).toBe(chars.map((c) => (known.has(c) ? c : UNKNOWN_SYMBOL)).join(''));
        expect(Array.from(codec.encode(text))).toEqual(Array.from(got.tokens));
      }),
    );
  });

  it('a report names at most UNKNOWN_SHOWN distinct unknown characters and says how many more there were', () => {
    const codec = new TextCodec(trainingVocabulary('ab'));
    const text = 'cdefghijklmnopc';
    const got = codec.encodeText(text);
    expect([got.unknown, got.unknownCharacters.length, UNKNOWN_SHOWN]).toEqual([15, 14, 10]);
    expect(describeUnknown(got)).toBe(
      "15 characters outside the vocabulary were read as U+FFFD: 'c' (U+0063), 'd' (U+0064), 'e' (U+0065), 'f' (U+0066), 'g' (U+0067), 'h' (U+0068), 'i' (U+0069), 'j' (U+006A), 'k' (U+006B), 'l' (U+006C) and 4 more",
    );
    expect(describeUnknown(codec.encodeText('a\tb'))).toBe('1 character outside the vocabulary was read as U+FFFD: "\\t" (U+0009)');
    expect(describeUnknown(codec.encodeText('abba'))).toBe('');
  });

  it('a vocabulary without U+FFFD still refuses such a text, naming the character and its offset', () => {
    const codec = new TextCodec(buildCharVocabulary('ab'));
    expect(codec.unknownToken).toBe(-1);
    expect(() => codec.encodeText('ab&', 'valid.txt')).toThrow(
      "valid.txt: character '&' (U+0026) at offset 2 (line 1, column 3) is not in the model's vocabulary of 2 characters",
    );
  });

  it('a bytes vocabulary has no unknowns', () => {
    const got = new TextCodec(BYTES_VOCABULARY).encodeText('é&😀');
    expect([got.unknown, got.unknownCharacters.length, got.firstUnknownOffset, got.tokens.length]).toEqual([0, 0, -1, 7]);
  });

  it('a checkpoint keeps U+FFFD in its vocabulary; an old one without it loads and refuses foreign text as before', () => {
    for (const vocab of [trainingVocabulary('hello', 'world'), buildCharVocabulary('helloworld')]) {
      if (vocab.kind !== 'chars') throw new Error('kind');
      const model = new CharLM(
        { cell: 'mlstm', weightNorm: false, vocab: vocab.symbols.length, embed: 3, hidden: 4, layers: 1 },
        { rng: new Rng(1) },
      );
      const back = decodeCheckpoint(encodeCheckpoint(model, vocab));
      expect(back.vocab).toEqual(vocab);
      const codec = new TextCodec(back.vocab);
      if (vocab.symbols.includes(UNKNOWN_SYMBOL)) expect(codec.encodeText('hello, world').unknown).toBe(2);
      else expect(() => codec.encode('hello, world', 'f.txt')).toThrow(/f\.txt: character ',' \(U\+002C\) at offset 5/);
    }
  });
});

describe('bytes vocabulary', () => {
  it('has 256 symbols, encodes UTF-8 bytes and decodes back', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 100 }), (text) => {
        const codec = new TextCodec(BYTES_VOCABULARY);
        expect(codec.size).toBe(256);
        const tokens = codec.encode(text);
        expect(Array.from(tokens)).toEqual(Array.from(new TextEncoder().encode(text)));
        expect(codec.decode(tokens)).toBe(text);
      }),
    );
  });

  it('takes arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        expect(Array.from(new TextCodec(BYTES_VOCABULARY).encodeBytes(bytes))).toEqual(Array.from(bytes));
      }),
    );
  });
});

describe('strict UTF-8', () => {
  const fatal = new TextDecoder('utf-8', { fatal: true });
  const validByTextDecoder = (bytes: Uint8Array): boolean => {
    try {
      fatal.decode(bytes);
      return true;
    } catch {
      return false;
    }
  };
  // Bytes biased towards multi-byte lead and continuation bytes so malformed and valid sequences both occur.
  const utf8ish = fc
    .array(fc.oneof(fc.integer({ min: 0, max: 0x7f }), fc.integer({ min: 0x80, max: 0xbf }), fc.integer({ min: 0xc0, max: 0xff })), {
      maxLength: 24,
    })
    .map((a) => Uint8Array.from(a));

  it('agrees with TextDecoder (fatal) on validity, and the prefix before the reported offset is valid', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          utf8ish,
          fc.string({ unit: 'binary' }).map((s) => new TextEncoder().encode(s)),
        ),
        (bytes) => {
          const bad = firstInvalidUtf8Offset(bytes);
          expect(bad === -1).toBe(validByTextDecoder(bytes));
          if (bad >= 0) {
            expect(validByTextDecoder(bytes.subarray(0, bad))).toBe(true);
            expect(bad).toBeLessThan(bytes.length);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('reports the file and byte offset of malformed input', () => {
    const bytes = Uint8Array.from([0x61, 0x62, 0xe2, 0x82, 0x61]);
    expect(() => decodeUtf8Strict(bytes, 'x.txt')).toThrow(InputError);
    expect(() => decodeUtf8Strict(bytes, 'x.txt')).toThrow(
      'x.txt: not valid UTF-8 at byte offset 2 (byte 0xe2); train with --bytes for arbitrary input',
    );
  });
});

describe('train/validation split', () => {
  it('keeps the last ⌊5%⌋ for validation and the rest, in order, for training', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 5000 }), (n) => {
        const tokens = Int32Array.from({ length: n }, (_, i) => i);
        const { train, valid } = splitTrainValid(tokens);
        expect(valid.length).toBe(Math.floor(n * 0.05));
        expect([...train, ...valid]).toEqual([...tokens]);
      }),
      { numRuns: 50 },
    );
  });

  it('fingerprints differ when one token changes', () => {
    const a = Int32Array.from([1, 2, 3, 4]);
    const b = Int32Array.from([1, 2, 3, 5]);
    expect(tokensFingerprint(a)).not.toBe(tokensFingerprint(b));
    expect(tokensFingerprint(a)).toBe(tokensFingerprint(Int32Array.from(a)));
  });
});
