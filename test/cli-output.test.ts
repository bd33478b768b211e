import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { lossCurvesSvg, niceTicks } from '../src/cli/svg.js';
import { formatDuration, formatProgress, formatRate, ProgressMeter, ProgressReporter } from '../src/cli/progress.js';

describe('loss-curve SVG', () => {
  it('is one well-formed svg element with both curves, the validation points and axis labels', () => {
    const train = Float32Array.from({ length: 300 }, (_, i) => 4 - 2 * (1 - Math.exp(-i / 60)) + 0.1 * Math.sin(i));
    train[17] = NaN; // a skipped step leaves a gap, not a NaN in the path
    const svg = lossCurvesSvg({
      train,
      valid: [
        [100, 2.9],
        [200, 2.4],
        [300, 2.2],
      ],
      title: 'mlstm <1×128> & co',
    });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).not.toMatch(/NaN|Infinity|undefined/);
    expect(svg).toContain('mlstm &lt;1×128&gt; &amp; co');
    expect(svg.match(/<path /g)).toHaveLength(3);
    expect(svg.match(/<circle /g)).toHaveLength(3);
    expect(svg).toContain('bits per character');
    // every path coordinate lies inside the 720×400 canvas
    for (const [, x, y] of svg.matchAll(/[ML](-?[\d.]+),(-?[\d.]+)/g)) {
      expect(Number(x)).toBeGreaterThanOrEqual(0);
      expect(Number(x)).toBeLessThanOrEqual(720);
      expect(Number(y)).toBeGreaterThanOrEqual(0);
      expect(Number(y)).toBeLessThanOrEqual(400);
    }
  });

  it('copes with no data, one step and very long runs (at most 1000 points per curve)', () => {
    expect(lossCurvesSvg({ train: [], valid: [] })).toContain('</svg>');
    expect(lossCurvesSvg({ train: [3], valid: [[1, 3]] })).not.toMatch(/NaN/);
    const long = lossCurvesSvg({ train: new Float32Array(100000).fill(2), valid: [] });
    const points = long.match(/<path d="([^"]*)"/)![1]!.split(' ').length;
    expect(points).toBeLessThanOrEqual(1000);
  });

  it('puts nice ticks inside the range, evenly spaced', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1e4, noNaN: true }), fc.double({ min: 1e-3, max: 1e4, noNaN: true }), (lo, width) => {
        const ticks = niceTicks(lo, lo + width);
        expect(ticks.length).toBeGreaterThanOrEqual(1);
        for (const t of ticks) {
          expect(t).toBeGreaterThanOrEqual(lo - width * 1e-9);
          expect(t).toBeLessThanOrEqual(lo + width + width * 1e-9);
        }
        const mant = (ticks[1] ?? ticks[0]! + 1) - ticks[0]!;
        const lead = mant / 10 ** Math.floor(Math.log10(mant));
        if (ticks.length > 1) expect([1, 2, 5, 10].some((m) => Math.abs(lead - m) < 1e-6)).toBe(true);
      }),
    );
  });
});

describe('progress', () => {
  it('formats durations and rates', () => {
    expect(formatDuration(42.4)).toBe('42s');
    expect(formatDuration(185)).toBe('3m05s');
    expect(formatDuration(3720)).toBe('1h02m');
    expect(formatDuration(NaN)).toBe('?');
    expect(formatRate(950)).toBe('950');
    expect(formatRate(12345)).toBe('12.3k');
    expect(formatRate(1.25e6)).toBe('1.25M');
  });

  it('shows step/steps, train bpc, chars/s and ETA', () => {
    expect(formatProgress({ step: 12, steps: 600, bpc: 2.34567, charsPerSecond: 12345, etaSeconds: 185 })).toBe(
      'step  12/600  train bpc 2.346  12.3k chars/s  ETA 3m05s',
    );
  });

  it('measures chars/s and ETA from the clock', () => {
    let now = 0;
    const meter = new ProgressMeter(2048, () => now);
    now = 500;
    const p = meter.record(1, 11, 3);
    expect(p.charsPerSecond).toBeCloseTo(4096, 6);
    expect(p.etaSeconds).toBeCloseTo(5, 6);
    expect(p.bpc).toBeCloseTo(3, 12);
  });

  it('rewrites one line on a TTY and prints periodic lines otherwise', () => {
    let now = 0;
    const tty: string[] = [];
    const live = new ProgressReporter({ write: (s) => tty.push(s), isTTY: true }, 5, () => now, 100);
    const snap = (step: number) => ({ step, steps: 10, bpc: 2, charsPerSecond: 1000, etaSeconds: 1 });
    live.update(snap(1));
    now = 50;
    live.update(snap(2)); // too soon: not drawn
    live.message('validation bpc 2.0');
    now = 200;
    live.update(snap(3));
    live.finish();
    expect(tty[0]).toMatch(/^\rstep  1\/10 .*\x1b\[K$/);
    expect(tty[1]).toMatch(/^\r\x1b\[Kvalidation bpc 2.0\nstep  2\/10/);
    expect(tty[2]).toMatch(/^\rstep  3\/10/);
    expect(tty[3]).toBe('\n');

    const plain: string[] = [];
    const log = new ProgressReporter({ write: (s) => plain.push(s), isTTY: false }, 5, () => 0);
    for (let s = 1; s <= 10; s++) log.update(snap(s));
    expect(plain).toEqual([
      `${'step  5/10  train bpc 2.000  1.0k chars/s  ETA 1s'}\n`,
      'step 10/10  train bpc 2.000  1.0k chars/s  ETA 1s\n',
    ]);
    expect(plain.join('')).not.toContain('\r');
  });
});
