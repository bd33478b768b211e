import type { ComparisonRun } from '../compare/experiment.js';
import { escapeXml, niceTicks } from './svg.js';

/**
 * The validation curves of a comparison as one SVG: bits/char against training characters seen (left)
 * and against training wall time (right), one line per run, one colour per cell, on a shared bpc axis.
 */

const PANEL = { width: 460, plotHeight: 260 };
const MARGIN = { left: 58, right: 16, top: 40 };
const WIDTH = 2 * PANEL.width + 20;
/** Below the plots: the axis labels, then one legend row. */
const LEGEND_Y = MARGIN.top + PANEL.plotHeight + 62;
const HEIGHT = LEGEND_Y + 20;
/** Colour of each cell (other cells cycle through the rest). */
const COLOURS: Record<string, string> = { mlstm: '#1f77b4', lstm: '#d62728', mrnn: '#2ca02c' };
const SPARE = ['#9467bd', '#ff7f0e', '#8c564b'];

const fmt = (v: number): string => (Math.round(v * 100) / 100).toString();

/** 950, 12k, 1.5M. */
function short(v: number): string {
  if (v >= 1e6) return `${Number((v / 1e6).toPrecision(3))}M`;
  if (v >= 1e3) return `${Number((v / 1e3).toPrecision(3))}k`;
  return String(v);
}

export interface ComparisonSvgOptions {
  title: string;
  /** Legend text per cell, e.g. "mlstm H=128, 116,436 parameters". */
  labels: Record<string, string>;
}

export function comparisonSvg(runs: readonly ComparisonRun[], options: ComparisonSvgOptions): string {
  const cells = [...new Set(runs.map((r) => r.cell))];
  const colour = (cell: string): string => COLOURS[cell] ?? SPARE[cells.indexOf(cell) % SPARE.length]!;
  const points = runs.flatMap((r) => r.curve.filter((p) => Number.isFinite(p.bpc)));
  let yLo = points.length ? Math.min(...points.map((p) => p.bpc)) : 0;
  let yHi = points.length ? Math.max(...points.map((p) => p.bpc)) : 1;
  if (yHi - yLo < 1e-6) [yLo, yHi] = [yLo - 0.5, yHi + 0.5];
  const pad = (yHi - yLo) * 0.05;
  [yLo, yHi] = [Math.max(0, yLo - pad), yHi + pad];

  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${WIDTH / 2}" y="20" text-anchor="middle" font-size="14">${escapeXml(options.title)}</text>`,
  ];
  const panels = [
    { x0: 0, xLabel: 'training characters seen', value: (p: { chars: number }) => p.chars, tick: short },
    {
      x0: PANEL.width + 20,
      xLabel: 'training wall time (s)',
      value: (p: { seconds: number }) => p.seconds,
      tick: (v: number) => String(v),
    },
  ];
  for (const panel of panels) {
    const xHi = Math.max(1e-9, ...points.map(panel.value));
    const plotW = PANEL.width - MARGIN.left - MARGIN.right;
    const plotH = PANEL.plotHeight;
    const left = panel.x0 + MARGIN.left;
    const x = (v: number): number => left + (v / xHi) * plotW;
    const y = (v: number): number => MARGIN.top + (1 - (v - yLo) / (yHi - yLo)) * plotH;
    for (const t of niceTicks(yLo, yHi)) {
      parts.push(`<line x1="${left}" x2="${left + plotW}" y1="${fmt(y(t))}" y2="${fmt(y(t))}" stroke="#e5e5e5"/>`);
      parts.push(`<text x="${left - 6}" y="${fmt(y(t) + 4)}" text-anchor="end">${t}</text>`);
    }
    const bottom = MARGIN.top + plotH;
    for (const t of niceTicks(0, xHi, 5)) {
      parts.push(`<line x1="${fmt(x(t))}" x2="${fmt(x(t))}" y1="${bottom}" y2="${bottom + 5}" stroke="#333"/>`);
      parts.push(`<text x="${fmt(x(t))}" y="${bottom + 18}" text-anchor="middle">${panel.tick(t)}</text>`);
    }
    parts.push(`<rect x="${left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`);
    parts.push(`<text x="${left + plotW / 2}" y="${bottom + 36}" text-anchor="middle">${panel.xLabel}</text>`);
    parts.push(
      `<text transform="translate(${panel.x0 + 16} ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">validation bits per character</text>`,
    );
    for (const r of runs) {
      const pts = r.curve.filter((p) => Number.isFinite(p.bpc));
      if (pts.length === 0) continue;
      const d = pts.map((p, i) => `${i === 0 ? 'M' : 'L'}${fmt(x(panel.value(p)))},${fmt(y(p.bpc))}`).join(' ');
      const dash = r.status === 'diverged' ? ' stroke-dasharray="4 3"' : '';
      parts.push(
        `<path d="${d}" fill="none" stroke="${colour(r.cell)}" stroke-width="1.6" stroke-opacity="0.8"${dash}><title>${escapeXml(`${r.cell} seed ${r.seed}`)}</title></path>`,
      );
    }
  }
  // The legend: one row under both plots, an entry per cell.
  const entry = 300;
  parts.push(`<g transform="translate(${(WIDTH - entry * cells.length) / 2} ${LEGEND_Y})">`);
  cells.forEach((cell, i) => {
    parts.push(
      `<line x1="${entry * i}" x2="${entry * i + 22}" y1="-4" y2="-4" stroke="${colour(cell)}" stroke-width="2"/><text x="${entry * i + 28}" y="0">${escapeXml(options.labels[cell] ?? cell)}</text>`,
    );
  });
  parts.push('</g>', '</svg>');
  return parts.join('\n') + '\n';
}
