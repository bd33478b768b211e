/**
 * Feature files: what `mlstm features` writes and what a probe can read back.
 *
 * safetensors: one tensor `features` [N,H] F32; `__metadata__` holds `format` (`mlstm-features/1`),
 * `labels` (JSON array of the N label strings, in row order), `pool`, and optionally `checkpoint`.
 * Any safetensors reader (numpy, PyTorch) loads it.
 *
 * TSV: a header `label<TAB>u0<TAB>u1…`, then one row per text: the label and H numbers printed with
 * 9 significant digits, which round-trips a float32 exactly.
 */
import { decodeSafetensors, encodeSafetensors, SafetensorsError } from '../io/safetensors.js';
import { POOLS, type FeatureMatrix, type Pool } from './extract.js';

export const FEATURES_FORMAT = 'mlstm-features/1';

export interface LabelledFeatures {
  features: FeatureMatrix;
  labels: string[];
  pool: Pool;
  /** Where the features came from (a checkpoint path), informational. */
  checkpoint?: string;
}

function checkRows(op: string, f: LabelledFeatures): void {
  const { rows, cols, data } = f.features;
  if (data.length !== rows * cols) throw new RangeError(`${op}: features hold ${data.length} values, not [${rows},${cols}]`);
  if (f.labels.length !== rows) throw new RangeError(`${op}: ${f.labels.length} labels for ${rows} feature rows`);
}

export function encodeFeaturesSafetensors(f: LabelledFeatures): Uint8Array {
  checkRows('encodeFeaturesSafetensors', f);
  const metadata: Record<string, string> = { format: FEATURES_FORMAT, labels: JSON.stringify(f.labels), pool: f.pool };
  if (f.checkpoint !== undefined) metadata.checkpoint = f.checkpoint;
  return encodeSafetensors({ features: { dtype: 'F32', shape: [f.features.rows, f.features.cols], data: f.features.data } }, metadata);
}

export function decodeFeaturesSafetensors(bytes: Uint8Array, source = 'features'): LabelledFeatures {
  const file = decodeSafetensors(bytes, { source });
  const m = file.metadata;
  if (m.format !== FEATURES_FORMAT) {
    throw new SafetensorsError(
      `${source}: not a features file (metadata format is ${JSON.stringify(m.format ?? null)}, expected "${FEATURES_FORMAT}")`,
    );
  }
  const entry = file.tensors.get('features');
  if (!entry || entry.dtype !== 'F32' || entry.shape.length !== 2)
    throw new SafetensorsError(`${source}: expected a tensor 'features' [N,H] of dtype F32`);
  let labels: unknown;
  try {
    labels = JSON.parse(m.labels ?? 'null');
  } catch {
    labels = null;
  }
  if (!Array.isArray(labels) || labels.some((l) => typeof l !== 'string'))
    throw new SafetensorsError(`${source}: metadata 'labels' must be a JSON array of strings`);
  const [rows, cols] = entry.shape as [number, number];
  if (labels.length !== rows) throw new SafetensorsError(`${source}: ${labels.length} labels for ${rows} feature rows`);
  const pool = m.pool as Pool;
  if (!POOLS.includes(pool))
    throw new SafetensorsError(`${source}: metadata 'pool' must be one of ${POOLS.join(', ')}, got ${JSON.stringify(m.pool ?? null)}`);
  const out: LabelledFeatures = { features: { data: entry.data as Float32Array, rows, cols }, labels: labels as string[], pool };
  if (m.checkpoint !== undefined) out.checkpoint = m.checkpoint;
  return out;
}

export function formatFeaturesTsv(f: LabelledFeatures): string {
  checkRows('formatFeaturesTsv', f);
  const { rows, cols, data } = f.features;
  const header = ['label'];
  for (let j = 0; j < cols; j++) header.push(`u${j}`);
  const lines = [header.join('\t')];
  for (let i = 0; i < rows; i++) {
    const cells = [f.labels[i]!];
    for (let j = 0; j < cols; j++) cells.push(formatFloat32(data[i * cols + j]!));
    lines.push(cells.join('\t'));
  }
  return `${lines.join('\n')}\n`;
}

/** Shortest of 9 significant digits (enough to round-trip a float32), without a trailing-zero tail. */
export function formatFloat32(v: number): string {
  if (v === 0) return '0';
  return String(Number(v.toPrecision(9)));
}
