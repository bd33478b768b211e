import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BYTES_VOCABULARY, buildCharVocabulary, TextCodec, VocabularyError } from '../src/data/vocabulary.js';
import { decodeUtf8Strict, firstInvalidUtf8Offset, Utf8Error } from '../src/data/utf8.js';
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
        expect(err).toBeInstanceOf(VocabularyError);
        const before = chars.slice(0, k);
        const line = before.filter((c) => c === '\n').length + 1;
        const lastNl = before.lastIndexOf('\n');
        const column = k - (lastNl + 1) + 1;
        expect((err as VocabularyError).offset).toBe(k);
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
    expect(() => decodeUtf8Strict(bytes, 'x.txt')).toThrow(Utf8Error);
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
