import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { encodeLabelledTexts, escapeTsvText, labelCounts, parseLabelledTsv, unescapeTsvText } from '../src/features/tsv.js';
import { InputError } from '../src/data/input-error.js';
import { BYTES_VOCABULARY, buildCharVocabulary, TextCodec } from '../src/data/vocabulary.js';

describe('parseLabelledTsv', () => {
  it('reads label<TAB>text lines, keeps further tabs in the text, accepts CRLF and skips empty lines', () => {
    const rows = parseLabelledTsv('pos\tgreat film\r\n\nneg\tdull\tand long\nspam\tbuy\\nnow \\\\ \\t ok \\q\n', 'a.tsv');
    expect(rows).toEqual([
      { label: 'pos', text: 'great film', line: 1 },
      { label: 'neg', text: 'dull\tand long', line: 3 },
      { label: 'spam', text: 'buy\nnow \\ \t ok \\q', line: 4 },
    ]);
    expect(labelCounts(rows)).toEqual(
      new Map([
        ['pos', 1],
        ['neg', 1],
        ['spam', 1],
      ]),
    );
  });

  it('names the file and line of a line with no tab', () => {
    expect(() => parseLabelledTsv('a\tok\nno tab here\n', 'train.tsv')).toThrow(
      /^train.tsv: line 2: no tab: expected 'label<TAB>text', got "no tab here"$/,
    );
    try {
      parseLabelledTsv('a\tok\n\nb\tok\nbroken', 'x.tsv');
    } catch (e) {
      expect(e).toBeInstanceOf(InputError);
      expect((e as InputError).kind).toBe('tsv');
      expect((e as InputError).position).toBe(4);
    }
  });

  it('names the line of an empty text or an empty label', () => {
    expect(() => parseLabelledTsv('a\tok\nb\t\n', 'f.tsv')).toThrow("f.tsv: line 2: empty text after the label 'b'");
    expect(() => parseLabelledTsv('\tsome text\n', 'f.tsv')).toThrow('f.tsv: line 1: empty label before the tab');
    expect(() => parseLabelledTsv('\n\r\n', 'f.tsv')).toThrow('f.tsv: no examples');
  });

  it('shortens a long bad line in the message', () => {
    expect(() => parseLabelledTsv('x'.repeat(100), 'f.tsv')).toThrow(/got "x{40}…"$/);
  });

  it('escapeTsvText and unescapeTsvText are inverse (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', '\\', '\n', '\t', '\r', 'n', 't', 'é') }), (s) => {
        const escaped = escapeTsvText(s);
        expect(escaped).not.toMatch(/[\n\t\r]/);
        expect(unescapeTsvText(escaped)).toBe(s);
      }),
    );
  });
});

describe('encodeLabelledTexts', () => {
  it('names the line, the character and its offset in the decoded text when the vocabulary cannot encode it', () => {
    const codec = new TextCodec(buildCharVocabulary('abc \n'));
    const rows = parseLabelledTsv('p\tabc\nq\tab\\nc é\n', 'test.tsv');
    // The text of line 2 is "ab\nc é": é is character 5.
    expect(() => encodeLabelledTexts(rows, codec, 'test.tsv')).toThrow(
      "test.tsv: line 2: character 'é' (U+00E9) at offset 5 of the text is not in the model's vocabulary of 5 characters",
    );
  });

  it('encodes any text under the bytes vocabulary (UTF-8)', () => {
    const rows = parseLabelledTsv('p\té\n', 't.tsv');
    expect(Array.from(encodeLabelledTexts(rows, new TextCodec(BYTES_VOCABULARY)).tokens[0]!)).toEqual([0xc3, 0xa9]);
  });
});
