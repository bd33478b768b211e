import { describe, expect, it } from 'vitest';
import type { ComparisonRun } from '../src/compare/experiment.js';
import { summarise } from '../src/compare/summary.js';
import { comparisonSvg } from '../src/cli/compare-svg.js';
import { comparisonTable, sizesLine } from '../src/cli/compare-table.js';

/** The table and the curves mlstm compare prints and writes. */

const sizes = [
  { cell: 'mlstm' as const, hidden: 128, params: 116275, difference: 0 },
  { cell: 'lstm' as const, hidden: 144, params: 116643, difference: 0.003164910771876972 },
  { cell: 'mrnn' as const, hidden: 204, params: 116163, difference: -0.0009632337131799673 },
];

function run(cell: string, seed: number, valid: number | null, status: ComparisonRun['status'] = 'completed'): ComparisonRun {
  return {
    cell,
    hidden: 1,
    params: 1,
    seed,
    status,
    valid_bpc: valid,
    dynamic_bpc: valid === null ? null : valid - 0.5,
    chars_per_s: 2000 + seed,
    train_seconds: 10 * seed,
    chars: 4096,
    curve: [
      { step: 0, chars: 0, seconds: 0, bpc: 6.4 },
      { step: 2, chars: 4096, seconds: 10 * seed, bpc: valid ?? 5 },
    ],
  };
}

describe('comparisonTable', () => {
  it('is an aligned Markdown table: mean ± sd over seeds, one value for one run, — for none, diverged runs noted', () => {
    const runs = [run('mlstm', 1, 3), run('mlstm', 2, 4), run('lstm', 1, 3.5), run('lstm', 2, null, 'diverged')];
    expect(comparisonTable(summarise(sizes, runs))).toBe(
      [
        '| cell  |   H | parameters | validation bpc  | dynamic-eval bpc | chars/s |            runs |',
        '|-------|----:|-----------:|-----------------|------------------|--------:|----------------:|',
        '| mlstm | 128 |    116,275 | 3.5000 ± 0.7071 | 3.0000 ± 0.7071  |    2.0k |               2 |',
        '| lstm  | 144 |    116,643 | 3.5000          | 3.0000           |    2.0k | 1 (+1 diverged) |',
        '| mrnn  | 204 |    116,163 | —               | —                |       — |               0 |',
      ].join('\n') + '\n',
    );
  });

  it('sizesLine names each H, its parameters and the difference from the first', () => {
    expect(sizesLine(sizes)).toBe(
      'mlstm H=128: 116,275 parameters; lstm H=144: 116,643 parameters (+0.32%); mrnn H=204: 116,163 parameters (−0.10%)',
    );
  });
});

describe('comparisonSvg', () => {
  it('draws two panels with one path per run in its cell colour, dashed when diverged, and a legend per cell', () => {
    const svg = comparisonSvg([run('mlstm', 1, 3), run('lstm', 1, 3.5), run('mrnn', 1, null, 'diverged')], {
      title: 'a <title> & more',
      labels: { mlstm: 'mlstm H=128', lstm: 'lstm H=144', mrnn: 'mrnn H=204' },
    });
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(svg).toContain('a &lt;title&gt; &amp; more');
    const paths = svg.match(/<path [^>]*>/g)!;
    expect(paths).toHaveLength(6); // 3 runs × 2 panels
    expect(paths.filter((p) => p.includes('#1f77b4'))).toHaveLength(2);
    expect(paths.filter((p) => p.includes('stroke-dasharray'))).toHaveLength(2);
    for (const label of ['mlstm H=128', 'lstm H=144', 'mrnn H=204']) expect(svg).toContain(`>${label}</text>`);
    expect(svg).toContain('training characters seen');
    expect(svg).toContain('training wall time (s)');
  });
});
