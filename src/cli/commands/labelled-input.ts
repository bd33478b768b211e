/**
 * What `mlstm features` and `mlstm probe` share: their --pool and --batch reading, reading a labelled
 * TSV file with one-line errors, turning its texts into features with a progress line, and writing an
 * output file atomically.
 */
import { decodeUtf8Strict } from '../../data/utf8.js';
import { TextCodec, type Vocabulary } from '../../data/vocabulary.js';
import { extractFeatures, POOLS, type FeatureMatrix, type Pool } from '../../features/extract.js';
import { encodeLabelledTexts, parseLabelledTsv, TsvError, type LabelledText } from '../../features/tsv.js';
import type { CharLM } from '../../nn/charlm.js';
import { ProbeFormatError } from '../../probe/persist.js';
import { writeFileAtomic } from '../../node/files.js';
import { valueFlag, type FlagReader } from '../args.js';
import { CliError } from '../errors.js';
import { ensureParentDirectory, readInputFile } from '../files.js';
import { terminalStatusLine } from '../progress.js';

const DEFAULT_TEXT_BATCH = 32;

/** --batch of both commands (spread into their flags): how many texts one forward pass runs. */
export const TEXT_BATCH_FLAG = { batch: valueFlag('N', `texts per forward pass (default ${DEFAULT_TEXT_BATCH})`) };

/** --batch and --pool as both commands read them (each describes --pool in its own words). */
export function readFeatureFlags(f: FlagReader): { pool: Pool; batch: number } {
  return { pool: f.choice<Pool>('pool', 'last', POOLS), batch: f.int('batch', DEFAULT_TEXT_BATCH, 1, 1 << 14) };
}

/** Errors of the features/probe layers that are the user's input, not our bug: one line, exit 1. */
export function asCliError(e: unknown): unknown {
  if (e instanceof TsvError || e instanceof ProbeFormatError) return new CliError(e.message);
  return e;
}

/** Parse `path` as labelled TSV; `what` names it for messages (e.g. "--train"). */
export function readLabelledFile(path: string, what: string): LabelledText[] {
  const bytes = readInputFile(path, `${what} '${path}'`);
  try {
    return parseLabelledTsv(decodeUtf8Strict(bytes, path), path);
  } catch (e) {
    throw asCliError(e);
  }
}

export interface TextFeatures {
  features: FeatureMatrix;
  seconds: number;
}

/** Features of the examples' texts under the model (errors for unencodable characters name the line). */
export function featuresOfExamples(
  model: CharLM,
  vocab: Vocabulary,
  examples: readonly LabelledText[],
  path: string,
  pool: Pool,
  batch: number,
): TextFeatures {
  let tokens: Int32Array[];
  try {
    tokens = encodeLabelledTexts(examples, new TextCodec(vocab), path);
  } catch (e) {
    throw asCliError(e);
  }
  const status = terminalStatusLine();
  const start = performance.now();
  try {
    const features = extractFeatures(model, tokens, {
      pool,
      batch,
      onProgress: (done, total) => status.show(`features of ${path}: ${done}/${total} texts`),
    });
    return { features, seconds: (performance.now() - start) / 1000 };
  } finally {
    status.end();
  }
}

export async function writeOutputFile(path: string, bytes: Uint8Array): Promise<void> {
  ensureParentDirectory(path);
  try {
    await writeFileAtomic(path, bytes);
  } catch (e) {
    throw new CliError((e as Error).message);
  }
}

export function countsLine(examples: readonly LabelledText[]): string {
  const counts = new Map<string, number>();
  for (const ex of examples) counts.set(ex.label, (counts.get(ex.label) ?? 0) + 1);
  const parts = [...counts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([label, n]) => `${label} ${n}`);
  return `${examples.length} texts (${parts.join(', ')})`;
}
