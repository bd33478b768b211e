import type { CellTiming } from './budget.js';
import type { ComparisonRun } from './experiment.js';
import type { MatchedSize } from './sizes.js';

/**
 * The JSON file of a comparison: what defines it (settings, sizes, seeds), how its budget was planned,
 * and one row per finished run. It is rewritten after every run, so an interrupted comparison keeps what
 * it finished, and `--resume` continues from it.
 */

export const COMPARISON_REPORT_VERSION = 1;

/** Everything that defines the experiment; a resumed comparison must have the same. */
export interface ComparisonSettings {
  cells: string[];
  /** The hidden size of the first cell; the others' are matched to its parameter count. */
  hidden: number;
  vocab: number;
  embed: number;
  layers: number;
  batch: number;
  seq: number;
  steps: number;
  valid_every: number;
  optimizer: string;
  lr: number;
  schedule: string;
  warmup: number;
  clip: number;
  embed_dropout: number;
  hidden_dropout: number;
  dynamic_lr: number;
  dynamic_seq: number;
  /** Training characters and evaluation characters, and fingerprints of both (count:hash). */
  train_chars: number;
  eval_chars: number;
  train_fingerprint: string;
  eval_fingerprint: string;
}

export interface ComparisonBudget {
  /** The --budget in minutes, or null when --steps was given. */
  minutes: number | null;
  calibration: CellTiming[];
  calibration_seconds: number;
  estimated_seconds: number | null;
}

export interface ComparisonReport {
  version: number;
  /** The command line that produced it. */
  command: string;
  /** Where the texts came from and how the held-out text was chosen. */
  data: { train: string; valid: string | null; split: string };
  settings: ComparisonSettings;
  sizes: MatchedSize[];
  seeds: number[];
  budget: ComparisonBudget;
  /** Where it ran (threads, CPUs, load averages at the start), for reading chars/s. */
  machine: Record<string, unknown>;
  runs: ComparisonRun[];
}

/** Settings keys whose values differ between two comparisons (empty: the same experiment). */
export function differingSettings(a: ComparisonSettings, b: ComparisonSettings): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]) as Set<keyof ComparisonSettings>;
  return [...keys].filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
}

/** Parse a report written by `mlstm compare`; anything else is a RangeError naming `source`. */
export function parseComparisonReport(text: string, source: string): ComparisonReport {
  let r: ComparisonReport;
  try {
    r = JSON.parse(text) as ComparisonReport;
  } catch {
    throw new RangeError(`${source} is not JSON (not a report of mlstm compare)`);
  }
  const ok =
    r !== null &&
    typeof r === 'object' &&
    r.version === COMPARISON_REPORT_VERSION &&
    r.settings !== null &&
    typeof r.settings === 'object' &&
    Array.isArray(r.sizes) &&
    Array.isArray(r.seeds) &&
    Array.isArray(r.runs) &&
    r.runs.every((run) => run !== null && typeof run === 'object' && typeof run.cell === 'string' && Number.isSafeInteger(run.seed));
  if (!ok) throw new RangeError(`${source} is not a report of mlstm compare of version ${COMPARISON_REPORT_VERSION} (or it is damaged)`);
  return r;
}
