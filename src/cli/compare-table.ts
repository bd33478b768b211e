import type { CellSummary, Spread } from '../compare/summary.js';
import type { MatchedSize } from '../compare/sizes.js';
import { countFormat } from './banner.js';
import { formatRate } from './progress.js';

/** "2.3412 ± 0.0123"; "2.3412" for one run; "—" for none. */
function meanSd(s: Spread): string {
  if (s.n === 0) return '—';
  return s.n < 2 ? s.mean.toFixed(4) : `${s.mean.toFixed(4)} ± ${s.sd.toFixed(4)}`;
}

/**
 * The comparison as a Markdown table (so the README can hold exactly what the command printed): per cell
 * its hidden size, parameters, validation and dynamic-evaluation bpc as mean ± sample sd over seeds,
 * training chars/s, and the runs it is over.
 */
export function comparisonTable(rows: readonly CellSummary[]): string {
  const header = ['cell', 'H', 'parameters', 'validation bpc', 'dynamic-eval bpc', 'chars/s', 'runs'];
  const body = rows.map((r) => [
    r.cell,
    String(r.hidden),
    countFormat.format(r.params),
    meanSd(r.valid),
    meanSd(r.dynamic),
    r.charsPerSecond.n > 0 ? formatRate(r.charsPerSecond.mean) : '—',
    `${r.completed}${r.diverged > 0 ? ` (+${r.diverged} diverged)` : ''}`,
  ]);
  const right = [false, true, true, false, false, true, true];
  const widths = header.map((h, j) => Math.max(h.length, ...body.map((row) => row[j]!.length)));
  const line = (cells: string[]): string =>
    `| ${cells.map((c, j) => (right[j] ? c.padStart(widths[j]!) : c.padEnd(widths[j]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, j) => (right[j] ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [line(header), rule, ...body.map(line)].join('\n') + '\n';
}

/** "mlstm H=128: 116,436 parameters; lstm H=144: 116,820 (+0.33%); …". */
export function sizesLine(sizes: readonly MatchedSize[]): string {
  return sizes
    .map((s, i) => {
      const diff = i === 0 ? '' : ` (${s.difference >= 0 ? '+' : '−'}${Math.abs(100 * s.difference).toFixed(2)}%)`;
      return `${s.cell} H=${s.hidden}: ${countFormat.format(s.params)} parameters${diff}`;
    })
    .join('; ');
}
