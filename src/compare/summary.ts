import type { ComparisonRun } from './experiment.js';
import type { MatchedSize } from './sizes.js';

/** Mean and sample standard deviation (n − 1; NaN for fewer than 2 values). */
export interface Spread {
  mean: number;
  sd: number;
  n: number;
}

export function meanAndSd(values: readonly number[]): Spread {
  const n = values.length;
  if (n === 0) return { mean: NaN, sd: NaN, n };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const sd = n < 2 ? NaN : Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1));
  return { mean, sd, n };
}

/** One row of the comparison table: a cell over its seeds. */
export interface CellSummary {
  cell: string;
  hidden: number;
  params: number;
  /** Runs that finished (scored) and that diverged. */
  completed: number;
  diverged: number;
  valid: Spread;
  dynamic: Spread;
  charsPerSecond: Spread;
}

/** The table's rows, in the order of `sizes`, over the runs done so far (a cell without runs has n = 0). */
export function summarise(sizes: readonly MatchedSize[], runs: readonly ComparisonRun[]): CellSummary[] {
  return sizes.map(({ cell, hidden, params }) => {
    const mine = runs.filter((r) => r.cell === cell);
    const done = mine.filter((r) => r.status === 'completed');
    const numbers = (pick: (r: ComparisonRun) => number | null): number[] =>
      done.map(pick).filter((v): v is number => v !== null && Number.isFinite(v));
    return {
      cell,
      hidden,
      params,
      completed: done.length,
      diverged: mine.length - done.length,
      valid: meanAndSd(numbers((r) => r.valid_bpc)),
      dynamic: meanAndSd(numbers((r) => r.dynamic_bpc)),
      charsPerSecond: meanAndSd(mine.map((r) => r.chars_per_s)),
    };
  });
}
