/**
 * What `mlstm features` and `mlstm probe` share: their --pool and --batch reading, reading a labelled
 * TSV file, and turning its texts into features with a progress line. A malformed file is an InputError ('tsv'),
 * which main() prints as one line naming the file and line (describeError).
 */
import { decodeUtf8Strict } from '../data/utf8.js';
import { describeUnknown, TextCodec, type Vocabulary } from '../data/vocabulary.js';
import { DEFAULT_POOL, extractFeatures, POOLS, type FeatureMatrix, type Pool } from '../features/extract.js';
import { encodeLabelledTexts, parseLabelledTsv, type LabelledText } from '../features/tsv.js';
import type { CharLM } from '../nn/charlm.js';
import { valueFlag, type FlagReader } from './args.js';
import { readInputFile } from './files.js';
import { terminalStatusLine } from './progress.js';

const DEFAULT_TEXT_BATCH = 32;

/** --batch of both commands (spread into their flags): how many texts one forward pass runs. */
export const TEXT_BATCH_FLAG = { batch: valueFlag('N', `texts per forward pass (default ${DEFAULT_TEXT_BATCH})`) };

/** --pool of both commands (spread into their flags). */
export const POOL_FLAG = {
  pool: valueFlag(
    'KIND',
    `mean: the top layer's hidden state h averaged over the text (default); last: its final cell state c; mean+last: both side by side`,
  ),
};

/** --batch and --pool as both commands read them. */
export function readFeatureFlags(f: FlagReader): { pool: Pool; batch: number } {
  return { pool: f.choice<Pool>('pool', DEFAULT_POOL, POOLS), batch: f.int('batch', DEFAULT_TEXT_BATCH, 1, 1 << 14) };
}

/** Parse `path` as labelled TSV; `what` names it for messages (e.g. "--train"). */
export function readLabelledFile(path: string, what: string): LabelledText[] {
  const bytes = readInputFile(path, `${what} '${path}'`);
  return parseLabelledTsv(decodeUtf8Strict(bytes, path), path);
}

export interface TextFeatures {
  features: FeatureMatrix;
  seconds: number;
  /** '' or the sentence saying how many characters were outside the vocabulary (read as U+FFFD). */
  unknown: string;
}

/**
 * Features of the examples' texts under the model: characters outside the vocabulary are read as U+FFFD
 * when it has it (and counted in `unknown`), else an InputError ('tsv') names the line.
 */
export function featuresOfExamples(
  model: CharLM,
  vocab: Vocabulary,
  examples: readonly LabelledText[],
  path: string,
  pool: Pool,
  batch: number,
): TextFeatures {
  const encoded = encodeLabelledTexts(examples, new TextCodec(vocab), path);
  const status = terminalStatusLine();
  const start = performance.now();
  try {
    const features = extractFeatures(model, encoded.tokens, {
      pool,
      batch,
      onProgress: (done, total) => status.show(`features of ${path}: ${done}/${total} texts`),
    });
    return { features, seconds: (performance.now() - start) / 1000, unknown: describeUnknown(encoded) };
  } finally {
    status.end();
  }
}

export function countsLine(examples: readonly LabelledText[]): string {
  const counts = new Map<string, number>();
  for (const ex of examples) counts.set(ex.label, (counts.get(ex.label) ?? 0) + 1);
  const parts = [...counts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([label, n]) => `${label} ${n}`);
  return `${examples.length} texts (${parts.join(', ')})`;
}
