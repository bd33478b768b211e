/**
 * Labelled texts in TSV: one example per line, `label<TAB>text`.
 *
 * - The label is everything before the first tab (any non-empty string); the text is everything
 *   after it, further tabs included.
 * - So that a text can hold line breaks (an e-mail, a review with paragraphs), the text decodes the
 *   escapes of "linear TSV": `\n` newline, `\t` tab, `\r` carriage return, `\\` backslash. A backslash
 *   before any other character is kept as it is, so Windows paths and regexes survive unescaped.
 * - Lines end in LF or CRLF; completely empty lines (e.g. a trailing newline) are skipped.
 *
 * Every problem is an InputError ('tsv') naming the source, the 1-based line number and what is wrong.
 */
import { describeCharacter, TextCodec } from '../data/vocabulary.js';
import { InputError, isInputError } from '../data/input-error.js';

export interface LabelledText {
  label: string;
  /** The text after escape decoding. */
  text: string;
  /** 1-based line number in the source, for messages. */
  line: number;
}

/** Decode `\n`, `\t`, `\r`, `\\`; any other backslash sequence is kept literally. */
export function unescapeTsvText(field: string): string {
  if (!field.includes('\\')) return field;
  let out = '';
  for (let i = 0; i < field.length; i++) {
    const ch = field[i]!;
    if (ch !== '\\' || i + 1 === field.length) {
      out += ch;
      continue;
    }
    const next = field[i + 1]!;
    const decoded = next === 'n' ? '\n' : next === 't' ? '\t' : next === 'r' ? '\r' : next === '\\' ? '\\' : null;
    if (decoded === null) {
      out += ch;
    } else {
      out += decoded;
      i++;
    }
  }
  return out;
}

/** The inverse of `unescapeTsvText` for texts written by our tools (every backslash doubled). */
export function escapeTsvText(text: string): string {
  return text.replace(/[\\\n\t\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\n' ? '\\n' : c === '\t' ? '\\t' : '\\r'));
}

/** Parse a whole TSV document; `source` names it in errors (e.g. the file path). */
export function parseLabelledTsv(content: string, source = 'tsv'): LabelledText[] {
  const out: LabelledText[] = [];
  let lineNo = 0;
  let start = 0;
  while (start <= content.length) {
    let end = content.indexOf('\n', start);
    if (end < 0) end = content.length;
    lineNo++;
    let line = content.slice(start, end);
    start = end + 1;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (line.length === 0) {
      if (end === content.length) break;
      continue;
    }
    const tab = line.indexOf('\t');
    if (tab < 0) {
      throw new InputError('tsv', `${source}: line ${lineNo}: no tab: expected 'label<TAB>text', got ${preview(line)}`, lineNo);
    }
    const label = line.slice(0, tab);
    if (label.trim().length === 0) throw new InputError('tsv', `${source}: line ${lineNo}: empty label before the tab`, lineNo);
    const text = unescapeTsvText(line.slice(tab + 1));
    if (text.length === 0) throw new InputError('tsv', `${source}: line ${lineNo}: empty text after the label '${label}'`, lineNo);
    out.push({ label, text, line: lineNo });
  }
  if (out.length === 0) throw new InputError('tsv', `${source}: no examples (expected lines of 'label<TAB>text')`, 0);
  return out;
}

function preview(line: string): string {
  return JSON.stringify(line.length > 40 ? `${line.slice(0, 40)}…` : line);
}

/** The token ids of labelled texts, and what encoding them found (TextCodec.encodeText, summed over the texts). */
export interface LabelledTokens {
  tokens: Int32Array[];
  /** Characters outside the vocabulary, read as U+FFFD, over all texts. */
  unknown: number;
  /** The distinct unknown characters, in order of first appearance. */
  unknownCharacters: string[];
}

/**
 * Token ids of every example under the model's vocabulary; characters outside it become U+FFFD when the
 * vocabulary has it (counted), else an InputError ('tsv') names the line, the character and its offset in the
 * (decoded) text.
 */
export function encodeLabelledTexts(examples: readonly LabelledText[], codec: TextCodec, source = 'tsv'): LabelledTokens {
  let unknown = 0;
  const distinct = new Set<string>();
  const tokens = examples.map((ex) => {
    try {
      const e = codec.encodeText(ex.text);
      unknown += e.unknown;
      for (const c of e.unknownCharacters) distinct.add(c);
      return e.tokens;
    } catch (e) {
      if (!isInputError(e, 'vocabulary')) throw e;
      const cp = nthCodePoint(ex.text, e.position);
      const what = cp === undefined ? 'a character' : `character ${describeCharacter(cp)}`;
      throw new InputError(
        'tsv',
        `${source}: line ${ex.line}: ${what} at offset ${e.position} of the text is not in the model's vocabulary of ${codec.size} characters`,
        ex.line,
      );
    }
  });
  return { tokens, unknown, unknownCharacters: [...distinct] };
}

/** The code point at character (not UTF-16 unit) offset `n`. */
function nthCodePoint(text: string, n: number): number | undefined {
  let k = 0;
  for (const ch of text) {
    if (k++ === n) return ch.codePointAt(0);
  }
  return undefined;
}

/** The distinct labels in first-appearance order, for reports; the probe sorts them itself. */
export function labelCounts(examples: readonly { label: string }[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const ex of examples) counts.set(ex.label, (counts.get(ex.label) ?? 0) + 1);
  return counts;
}
