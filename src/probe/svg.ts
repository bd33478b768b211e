/**
 * The picture people expect from this work: a few texts, each character on a background coloured by
 * one unit's value right after the model read it (blue negative, white zero, red positive). A
 * self-contained SVG written by hand — no plotting dependency.
 */

export interface UnitTraceText {
  /** The text as shown. */
  text: string;
  /** One value per character (code point) of `text`. */
  values: ArrayLike<number>;
  /** A caption above the text, e.g. "spam (probe: spam)". */
  caption: string;
}

export interface UnitSvgOptions {
  title: string;
  /** Characters shown per text (default 320); longer texts are cut with an ellipsis. */
  maxChars?: number;
  /** Characters per row (default 80). */
  columns?: number;
}

const CELL_W = 8;
const ROW_H = 17;
const FONT = 13;
const MARGIN = 16;
const NEG: readonly [number, number, number] = [33, 102, 172]; // blue
const POS: readonly [number, number, number] = [178, 24, 43]; // red

/**
 * Per-character values from per-token values: for a bytes model a character spans 1–4 tokens (its UTF-8
 * bytes) and gets the value after its last byte; for a chars model tokens are characters.
 */
export function valuesPerCharacter(text: string, perToken: ArrayLike<number>, tokenizer: 'bytes' | 'chars'): Float64Array {
  const chars = Array.from(text);
  const out = new Float64Array(chars.length);
  let t = -1;
  chars.forEach((ch, i) => {
    const cp = ch.codePointAt(0)!;
    t += tokenizer === 'chars' ? 1 : cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (t >= perToken.length)
      throw new RangeError(`valuesPerCharacter: ${perToken.length} token values do not cover the text (character ${i})`);
    out[i] = perToken[t]!;
  });
  if (t !== perToken.length - 1) throw new RangeError(`valuesPerCharacter: ${perToken.length} token values for a text of ${t + 1} tokens`);
  return out;
}

function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Background colour of a value scaled to [-1, 1]. */
export function divergingColour(t: number): string {
  const u = Math.max(-1, Math.min(1, Number.isFinite(t) ? t : 0));
  const end = u < 0 ? NEG : POS;
  const a = Math.abs(u);
  const mix = (k: number): number => Math.round(255 + (end[k]! - 255) * a);
  return `rgb(${mix(0)},${mix(1)},${mix(2)})`;
}

/** How a character is drawn: newline as ↵ (then a row break), tab as →, other controls as ·. */
function glyph(ch: string): string {
  if (ch === '\n') return '↵';
  if (ch === '\t') return '→';
  const cp = ch.codePointAt(0)!;
  return cp < 0x20 || cp === 0x7f ? '·' : ch;
}

interface Cell {
  glyph: string;
  value: number;
}

/** Cut a text into rows of at most `columns` cells, breaking after each newline. */
function layoutRows(text: string, values: ArrayLike<number>, maxChars: number, columns: number): Cell[][] {
  const chars = Array.from(text);
  if (values.length !== chars.length)
    throw new RangeError(`renderUnitSvg: ${values.length} values for a text of ${chars.length} characters`);
  const rows: Cell[][] = [[]];
  const shown = Math.min(chars.length, maxChars);
  for (let i = 0; i < shown; i++) {
    let row = rows[rows.length - 1]!;
    if (row.length === columns) rows.push((row = []));
    row.push({ glyph: glyph(chars[i]!), value: values[i]! });
    if (chars[i] === '\n' && i + 1 < shown) rows.push([]);
  }
  if (shown < chars.length) rows[rows.length - 1]!.push({ glyph: '…', value: NaN });
  return rows;
}

export function renderUnitSvg(texts: readonly UnitTraceText[], options: UnitSvgOptions): string {
  const maxChars = options.maxChars ?? 320;
  const columns = options.columns ?? 80;
  const blocks = texts.map((t) => ({ caption: t.caption, rows: layoutRows(t.text, t.values, maxChars, columns) }));
  // One colour scale for all texts, so the same colour means the same value everywhere. It ends at the
  // 98th percentile of |value|, not the maximum: one extreme character would otherwise wash out the rest.
  const magnitudes: number[] = [];
  for (const b of blocks) for (const row of b.rows) for (const c of row) if (Number.isFinite(c.value)) magnitudes.push(Math.abs(c.value));
  magnitudes.sort((x, y) => x - y);
  let scale = magnitudes.length > 0 ? magnitudes[Math.floor(0.98 * (magnitudes.length - 1))]! : 0;
  if (!(scale > 0)) scale = 1;
  const width = MARGIN * 2 + (columns + 1) * CELL_W;
  const parts: string[] = [];
  let y = MARGIN + FONT + 2;
  parts.push(`<text x="${MARGIN}" y="${y}" font-size="${FONT + 2}" font-weight="bold">${escapeXml(options.title)}</text>`);
  y += 10;
  // Legend: −scale … 0 … +scale.
  const legendW = 200;
  const steps = 20;
  for (let s = 0; s < steps; s++) {
    const t = -1 + (2 * (s + 0.5)) / steps;
    parts.push(
      `<rect x="${MARGIN + (s * legendW) / steps}" y="${y}" width="${legendW / steps + 0.5}" height="10" fill="${divergingColour(t)}"/>`,
    );
  }
  y += 22;
  parts.push(`<text x="${MARGIN}" y="${y}" font-size="11">≤ ${(-scale).toPrecision(3)}</text>`);
  parts.push(`<text x="${MARGIN + legendW / 2}" y="${y}" font-size="11" text-anchor="middle">0</text>`);
  parts.push(`<text x="${MARGIN + legendW}" y="${y}" font-size="11" text-anchor="end">≥ ${scale.toPrecision(3)}</text>`);
  y += 14;
  for (const block of blocks) {
    y += 14;
    parts.push(`<text x="${MARGIN}" y="${y}" font-size="12" font-weight="bold">${escapeXml(block.caption)}</text>`);
    y += 6;
    for (const row of block.rows) {
      const top = y;
      row.forEach((c, i) => {
        if (Number.isFinite(c.value))
          parts.push(
            `<rect x="${MARGIN + i * CELL_W}" y="${top}" width="${CELL_W}" height="${ROW_H}" fill="${divergingColour(c.value / scale)}"/>`,
          );
      });
      const line = row.map((c) => c.glyph).join('');
      if (line.length > 0) {
        parts.push(
          `<text x="${MARGIN}" y="${top + ROW_H - 4}" font-size="${FONT}" textLength="${row.length * CELL_W}" lengthAdjust="spacingAndGlyphs" xml:space="preserve">${escapeXml(line)}</text>`,
        );
      }
      y += ROW_H;
    }
    y += 6;
  }
  const height = y + MARGIN;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Menlo, Consolas, 'DejaVu Sans Mono', monospace">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}
