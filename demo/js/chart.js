/**
 * The live learning curve: bits per character against training step, on a canvas.
 * Raw per-step values (faint), their exponential moving average (bold), held-out points, and the
 * unigram line — what a model that ignores all context would score — as the bar to get under.
 */
const EMA_ALPHA = 0.05;
const COLORS = { raw: 'rgba(70, 110, 170, 0.28)', ema: '#1f4e8c', valid: '#c0392b', unigram: '#888', axis: '#444', grid: '#e6e6e6' };

export class LossChart {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d');
    this.reset();
    this.pending = false;
    new ResizeObserver(() => this.requestDraw()).observe(canvas);
  }

  reset() {
    this.steps = [];
    this.raw = [];
    this.ema = [];
    this.emaAcc = 0;
    this.emaWeight = 0;
    this.valid = [];
    this.unigram = NaN;
    this.requestDraw();
  }

  /** points: [[step, loss, bpc], …] in order. */
  add(points) {
    for (const [step, , bpc] of points) {
      if (!Number.isFinite(bpc)) continue;
      // Debiased as in Adam (running mean started at 0, divided by 1 − (1−α)ⁿ), so the early curve
      // follows the fast initial drop instead of lagging behind the first value.
      this.emaAcc = (1 - EMA_ALPHA) * this.emaAcc + EMA_ALPHA * bpc;
      this.emaWeight = (1 - EMA_ALPHA) * this.emaWeight + EMA_ALPHA;
      this.steps.push(step);
      this.raw.push(bpc);
      this.ema.push(this.emaAcc / this.emaWeight);
    }
    this.requestDraw();
  }

  get smoothed() {
    return this.ema.length ? this.ema[this.ema.length - 1] : NaN;
  }

  addValidation(step, bpc) {
    this.valid.push([step, bpc]);
    this.requestDraw();
  }

  setUnigram(bpc) {
    this.unigram = bpc;
    this.requestDraw();
  }

  requestDraw() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.draw();
    });
  }

  draw() {
    const { canvas, ctx } = this;
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth;
    const h = canvas.clientHeight;
    if (w === 0 || h === 0) return;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    const pad = { left: 44, right: 12, top: 10, bottom: 30 };
    const pw = w - pad.left - pad.right;
    const ph = h - pad.top - pad.bottom;
    const lastStep = this.steps.length ? this.steps[this.steps.length - 1] : 0;
    const xMax = Math.max(50, niceCeil(lastStep));
    const highest = Math.max(this.raw.length ? Math.max(...this.raw.slice(0, 20)) : 0, this.unigram || 0, ...this.valid.map((v) => v[1]));
    const yMax = Math.max(2, Math.ceil(highest + 0.25));
    const X = (s) => pad.left + (s / xMax) * pw;
    const Y = (b) => pad.top + ph - (Math.min(b, yMax) / yMax) * ph;

    ctx.font = '11px system-ui, sans-serif';
    ctx.lineWidth = 1;
    for (let b = 0; b <= yMax; b++) {
      ctx.strokeStyle = COLORS.grid;
      line(ctx, pad.left, Y(b), pad.left + pw, Y(b));
      ctx.fillStyle = COLORS.axis;
      ctx.textAlign = 'right';
      ctx.textBaseline = 'middle';
      ctx.fillText(String(b), pad.left - 6, Y(b));
    }
    const xTick = niceCeil(xMax / 5);
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    for (let s = 0; s <= xMax; s += xTick) ctx.fillText(String(s), X(s), pad.top + ph + 6);
    ctx.fillText('training step', pad.left + pw / 2, pad.top + ph + 18);
    ctx.save();
    ctx.translate(11, pad.top + ph / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textBaseline = 'middle';
    ctx.fillText('bits / char', 0, 0);
    ctx.restore();

    if (Number.isFinite(this.unigram)) {
      ctx.strokeStyle = COLORS.unigram;
      ctx.setLineDash([5, 4]);
      line(ctx, pad.left, Y(this.unigram), pad.left + pw, Y(this.unigram));
      ctx.setLineDash([]);
      ctx.fillStyle = COLORS.unigram;
      ctx.textAlign = 'right';
      ctx.textBaseline = 'bottom';
      ctx.fillText(`letter frequencies alone: ${this.unigram.toFixed(2)}`, pad.left + pw, Y(this.unigram) - 2);
    }
    // Thin the raw series to about one point per pixel column so long runs stay cheap to draw.
    const every = Math.max(1, Math.floor(this.steps.length / pw));
    ctx.fillStyle = COLORS.raw;
    for (let k = 0; k < this.steps.length; k += every) ctx.fillRect(X(this.steps[k]) - 1, Y(this.raw[k]) - 1, 2, 2);
    ctx.strokeStyle = COLORS.ema;
    ctx.lineWidth = 2;
    ctx.beginPath();
    for (let k = 0; k < this.steps.length; k += every) {
      if (k === 0) ctx.moveTo(X(this.steps[k]), Y(this.ema[k]));
      else ctx.lineTo(X(this.steps[k]), Y(this.ema[k]));
    }
    ctx.stroke();
    ctx.fillStyle = COLORS.valid;
    for (const [s, b] of this.valid) {
      ctx.beginPath();
      ctx.arc(X(s), Y(b), 3.5, 0, 2 * Math.PI);
      ctx.fill();
    }
  }
}

function line(ctx, x0, y0, x1, y1) {
  ctx.beginPath();
  ctx.moveTo(x0, y0);
  ctx.lineTo(x1, y1);
  ctx.stroke();
}

/** The smallest of 1, 2, 5 × 10^k that is ≥ x. */
function niceCeil(x) {
  if (x <= 1) return 1;
  const p = 10 ** Math.floor(Math.log10(x));
  for (const m of [1, 2, 5, 10]) if (m * p >= x) return m * p;
  return 10 * p;
}
