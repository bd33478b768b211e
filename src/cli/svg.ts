/**
 * The loss curves of a run as a self-contained SVG (hand-written: no plotting dependency). Training
 * bits/char per step are drawn faintly, with a centred moving average over them, and validation
 * bits/char as a line with dots.
 */
export interface LossCurves {
  /** Training bits/char of step 1, 2, …; NaN for a skipped (non-finite) step. */
  train: ArrayLike<number>;
  /** [step, bits/char] of each validation. */
  valid: readonly (readonly [number, number])[];
  title?: string;
}

const WIDTH = 720;
const HEIGHT = 400;
const MARGIN = { left: 64, right: 24, top: 40, bottom: 52 };
/** Curves longer than this are averaged into buckets so the file stays small for long runs. */
const MAX_POINTS = 1000;

/** Round "nice" tick positions (1, 2, 5 × 10^k) covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, target = 6): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

/** [step, value] pairs of the finite entries, averaged into at most MAX_POINTS buckets. */
function bucketed(values: ArrayLike<number>): [number, number][] {
  const n = values.length;
  const per = Math.max(1, Math.ceil(n / MAX_POINTS));
  const out: [number, number][] = [];
  for (let start = 0; start < n; start += per) {
    let sum = 0;
    let count = 0;
    for (let i = start; i < Math.min(n, start + per); i++) {
      const v = values[i]!;
      if (Number.isFinite(v)) {
        sum += v;
        count++;
      }
    }
    if (count > 0) out.push([start + Math.min(per, n - start) / 2 + 0.5, sum / count]);
  }
  return out;
}

/**
 * Centred moving average of the finite entries over ±halfWidth steps (NaN where the window has none).
 * Centred rather than exponential so the trend does not lag behind a falling curve.
 */
function smoothed(values: ArrayLike<number>, halfWidth: number): Float64Array {
  const n = values.length;
  const prefixSum = new Float64Array(n + 1);
  const prefixCount = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    const ok = Number.isFinite(v);
    prefixSum[i + 1] = prefixSum[i]! + (ok ? v : 0);
    prefixCount[i + 1] = prefixCount[i]! + (ok ? 1 : 0);
  }
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const lo = Math.max(0, i - halfWidth);
    const hi = Math.min(n, i + halfWidth + 1);
    const count = prefixCount[hi]! - prefixCount[lo]!;
    out[i] = count > 0 ? (prefixSum[hi]! - prefixSum[lo]!) / count : NaN;
  }
  return out;
}

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

const fmt = (v: number): string => (Math.round(v * 100) / 100).toString();

export function lossCurvesSvg(curves: LossCurves): string {
  const train = bucketed(curves.train);
  const trend = bucketed(smoothed(curves.train, Math.max(2, Math.floor(curves.train.length / 60))));
  const valid = curves.valid.filter(([s, v]) => Number.isFinite(s) && Number.isFinite(v));
  const steps = Math.max(1, curves.train.length, ...valid.map(([s]) => s));
  const ys = [...trend.map(([, v]) => v), ...valid.map(([, v]) => v), ...train.map(([, v]) => v)];
  let yLo = ys.length ? Math.min(...ys) : 0;
  let yHi = ys.length ? Math.max(...ys) : 1;
  if (yHi - yLo < 1e-6) {
    yLo -= 0.5;
    yHi += 0.5;
  }
  const pad = (yHi - yLo) * 0.05;
  yLo = Math.max(0, yLo - pad);
  yHi += pad;

  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const x = (step: number): number => MARGIN.left + (step / steps) * plotW;
  const y = (v: number): number => MARGIN.top + (1 - (v - yLo) / (yHi - yLo)) * plotH;
  const path = (pts: readonly (readonly [number, number])[]): string =>
    pts.map(([s, v], i) => `${i === 0 ? 'M' : 'L'}${fmt(x(s))},${fmt(y(v))}`).join(' ');

  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
  );
  parts.push(`<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`);
  parts.push(`<text x="${WIDTH / 2}" y="22" text-anchor="middle" font-size="14">${escapeXml(curves.title ?? 'Loss curves')}</text>`);
  for (const t of niceTicks(yLo, yHi)) {
    parts.push(`<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${fmt(y(t))}" y2="${fmt(y(t))}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${MARGIN.left - 6}" y="${fmt(y(t) + 4)}" text-anchor="end">${t}</text>`);
  }
  for (const t of niceTicks(0, steps)) {
    parts.push(
      `<line x1="${fmt(x(t))}" x2="${fmt(x(t))}" y1="${HEIGHT - MARGIN.bottom}" y2="${HEIGHT - MARGIN.bottom + 5}" stroke="#333"/>`,
    );
    parts.push(`<text x="${fmt(x(t))}" y="${HEIGHT - MARGIN.bottom + 18}" text-anchor="middle">${t}</text>`);
  }
  parts.push(`<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`);
  parts.push(`<text x="${MARGIN.left + plotW / 2}" y="${HEIGHT - 12}" text-anchor="middle">step</text>`);
  parts.push(`<text transform="translate(16 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">bits per character</text>`);
  if (train.length > 1) parts.push(`<path d="${path(train)}" fill="none" stroke="#9ecae1" stroke-width="1"/>`);
  if (trend.length > 1) parts.push(`<path d="${path(trend)}" fill="none" stroke="#1f77b4" stroke-width="2"/>`);
  if (valid.length > 1) parts.push(`<path d="${path(valid)}" fill="none" stroke="#d62728" stroke-width="2"/>`);
  for (const [s, v] of valid)
    parts.push(`<circle cx="${fmt(x(s))}" cy="${fmt(y(v))}" r="3" fill="#d62728"><title>step ${s}: ${v.toFixed(4)} bpc</title></circle>`);
  const legendX = WIDTH - MARGIN.right - 230;
  parts.push(`<g transform="translate(${legendX} ${MARGIN.top + 10})">`);
  parts.push(`<rect width="220" height="48" fill="white" stroke="#ccc"/>`);
  parts.push(
    `<line x1="8" x2="30" y1="14" y2="14" stroke="#1f77b4" stroke-width="2"/><text x="36" y="18">train bpc (moving average)</text>`,
  );
  parts.push(`<line x1="8" x2="30" y1="34" y2="34" stroke="#d62728" stroke-width="2"/><text x="36" y="38">validation bpc</text>`);
  parts.push('</g>');
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
