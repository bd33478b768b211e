/**
 * The "look inside" heatmap: the inspected text, one character per column, and under it one coloured
 * strip per quantity of the chosen hidden unit (h, c, m, the gates i, f, o and the candidate g), plus
 * the whole model's surprise at the next character. Columns are selectable (hover, click, arrow keys).
 */

/** Which quantities each cell kind has, how to colour them, and what they are. */
export const ROWS = {
  mlstm: ['h', 'c', 'm', 'i', 'f', 'o', 'g', 'bits'],
  lstm: ['h', 'c', 'i', 'f', 'o', 'g', 'bits'],
  mrnn: ['h', 'm', 'bits'],
};

export const QUANTITIES = {
  h: { scale: 'signed', range: 1, title: 'hidden state h_t (what the unit outputs), in [−1, 1]' },
  c: { scale: 'signed', range: 'auto', title: 'cell state c_t (the memory)' },
  m: { scale: 'signed', range: 'auto', title: 'multiplicative state m_t = (W_mx x_t) ⊙ (W_mh h_{t−1})' },
  i: { scale: 'gate', title: 'input gate i = σ(z_i): how much of the candidate is written' },
  f: { scale: 'gate', title: 'forget gate f = σ(z_f): how much of c_{t−1} is kept' },
  o: { scale: 'gate', title: 'output gate o = σ(z_o): how much of tanh(c_t) is shown' },
  g: { scale: 'signed', range: 1, title: 'candidate g = tanh(z_g): the value offered to the memory' },
  bits: { scale: 'heat', range: 8, title: 'surprise of the whole model at the next character, −log₂ p (bits)' },
};

const COLUMNS = 64;

/** Blue (negative) – white – red (positive), v clipped to [−range, range]. */
export function signedColor(v, range) {
  const a = Math.max(-1, Math.min(1, v / (range || 1)));
  const [r, g, b] = a >= 0 ? [178, 24, 43] : [33, 102, 172];
  const k = Math.abs(a);
  return `rgb(${Math.round(255 + (r - 255) * k)}, ${Math.round(255 + (g - 255) * k)}, ${Math.round(255 + (b - 255) * k)})`;
}

/** White – dark green for values in [0, 1] (gates). */
export function gateColor(v) {
  const k = Math.max(0, Math.min(1, v));
  return `rgb(${Math.round(255 - 255 * k)}, ${Math.round(255 - 146 * k)}, ${Math.round(255 - 211 * k)})`;
}

/** White – orange – dark red for a non-negative amount (surprise in bits). */
export function heatColor(v, range) {
  const k = Math.max(0, Math.min(1, v / range));
  return `rgb(${Math.round(255 - 90 * k)}, ${Math.round(255 - 215 * k)}, ${Math.round(255 - 230 * k)})`;
}

/** The values of quantity `key` for unit j over the text: Float32Array [T] (bits are per character, not per unit). */
export function unitSeries(result, key, j) {
  if (key === 'bits') return result.surprisal;
  const src = result.series[key];
  const out = new Float32Array(result.T);
  for (let t = 0; t < result.T; t++) out[t] = src[t * result.H + j];
  return out;
}

function colorFor(key, v, range) {
  const q = QUANTITIES[key];
  if (!Number.isFinite(v)) return 'transparent';
  if (q.scale === 'gate') return gateColor(v);
  if (q.scale === 'heat') return heatColor(v, q.range);
  return signedColor(v, range);
}

function rangeOf(key, values) {
  const q = QUANTITIES[key];
  if (q.range !== 'auto') return q.range;
  let m = 0;
  for (const v of values) if (Number.isFinite(v)) m = Math.max(m, Math.abs(v));
  return m || 1;
}

/** Display form of a character in a one-character cell. */
export function visibleChar(ch) {
  if (ch === '\n') return '↵';
  if (ch === '\t') return '⇥';
  return ch;
}

/**
 * Lines of the text as [start, end) index pairs: a newline ends a line (and is shown at its end), and
 * a line longer than COLUMNS wraps, preferably after a space.
 */
function layoutLines(chars) {
  const lines = [];
  let start = 0;
  while (start < chars.length) {
    let end = start;
    while (end < chars.length && end - start < COLUMNS && chars[end] !== '\n') end++;
    if (end < chars.length && chars[end] === '\n') end++;
    else if (end < chars.length && end - start === COLUMNS) {
      const space = chars.lastIndexOf(' ', end - 1);
      if (space > start + COLUMNS / 2) end = space + 1;
    }
    lines.push([start, end]);
    start = end;
  }
  return lines;
}

export class Heatmap {
  /**
   * @param container  the element (data-testid="heatmap") to draw into
   * @param onSelect   called with the selected character index t
   */
  constructor(container, onSelect) {
    this.container = container;
    this.onSelect = onSelect;
    this.cellsByT = [];
    this.selected = -1;
    this.pinned = false;
    container.tabIndex = 0;
    container.addEventListener('mouseover', (e) => {
      const t = indexOf(e.target);
      if (t >= 0 && !this.pinned) this.select(t);
    });
    container.addEventListener('click', (e) => {
      const t = indexOf(e.target);
      if (t < 0) return;
      this.pinned = !(this.pinned && this.selected === t);
      this.select(t);
    });
    container.addEventListener('keydown', (e) => {
      if (!this.result || (e.key !== 'ArrowLeft' && e.key !== 'ArrowRight')) return;
      e.preventDefault();
      this.pinned = true;
      this.select(Math.max(0, Math.min(this.result.T - 1, this.selected + (e.key === 'ArrowLeft' ? -1 : 1))));
    });
  }

  render(result, unit) {
    this.result = result;
    this.unit = unit;
    const rows = ROWS[result.kind];
    const series = Object.fromEntries(rows.map((k) => [k, unitSeries(result, k, unit)]));
    const ranges = Object.fromEntries(rows.map((k) => [k, rangeOf(k, series[k])]));
    this.ranges = ranges;
    const frag = document.createDocumentFragment();
    this.cellsByT = Array.from({ length: result.T }, () => []);
    for (const [start, end] of layoutLines(result.chars)) {
      const block = document.createElement('div');
      block.className = 'hm-block';
      block.style.gridTemplateColumns = `2.6em repeat(${end - start}, 1.05em)`;
      // The first row is the text itself, coloured by h; then one strip per quantity.
      for (const [rowName, valueKey] of [['text', 'h'], ...rows.map((k) => [k, k])]) {
        const label = document.createElement('span');
        label.className = 'hm-label';
        label.textContent = rowName === 'text' ? '' : rowName;
        label.title = rowName === 'text' ? '' : QUANTITIES[rowName].title;
        block.appendChild(label);
        for (let t = start; t < end; t++) {
          const cell = document.createElement('span');
          const v = series[valueKey][t];
          cell.dataset.t = String(t);
          cell.style.background = colorFor(valueKey, v, ranges[valueKey]);
          if (rowName === 'text') {
            cell.className = 'hm-char';
            cell.textContent = visibleChar(result.chars[t]);
            if (Math.abs(v) > 0.6) cell.classList.add('on-dark'); // keep the glyph readable on a saturated background
          } else {
            cell.className = `hm-cell hm-${rowName}`;
          }
          cell.title = `'${visibleChar(result.chars[t])}' t=${t}  ${rowName === 'text' ? 'h' : rowName} = ${Number.isFinite(v) ? v.toFixed(3) : '—'}`;
          this.cellsByT[t].push(cell);
          block.appendChild(cell);
        }
      }
      frag.appendChild(block);
    }
    this.container.replaceChildren(frag);
    this.container.dataset.unit = String(unit);
    this.container.dataset.chars = String(result.T);
    const t = this.selected >= 0 && this.selected < result.T ? this.selected : Math.min(result.T - 1, firstLetterAfterStart(result.chars));
    this.selected = -1;
    this.select(t);
  }

  select(t) {
    if (t === this.selected) return;
    for (const el of this.cellsByT[this.selected] ?? []) el.classList.remove('sel');
    this.selected = t;
    for (const el of this.cellsByT[t] ?? []) el.classList.add('sel');
    this.onSelect(t);
  }
}

function indexOf(el) {
  const s = el && el.dataset ? el.dataset.t : undefined;
  return s === undefined ? -1 : Number(s);
}

function firstLetterAfterStart(chars) {
  for (let t = Math.min(5, chars.length - 1); t < chars.length; t++) if (/\p{L}/u.test(chars[t])) return t;
  return 0;
}
