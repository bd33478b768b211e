/**
 * The cell's equations beside the numbers they produce, for one character t and one hidden unit j.
 * Every value comes from inspect.js (the cell recomputed step by step from its weights); each line of
 * the panel is one line of the forward pass in src/nn/functional/*.ts and docs/mlstm.md.
 */
import { QUANTITIES, gateColor, signedColor, visibleChar } from './heatmap.js';

const fmt = (v) => (Number.isFinite(v) ? (v < 0 ? `−${Math.abs(v).toFixed(3)}` : v.toFixed(3)) : '—');
/** A factor inside a product: negative numbers in parentheses. */
const par = (v) => (v < 0 ? `(${fmt(v)})` : fmt(v));
const esc = (s) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

function swatch(key, v, range) {
  const q = QUANTITIES[key];
  if (!q || !Number.isFinite(v)) return '';
  const color = q.scale === 'gate' ? gateColor(v) : signedColor(v, range);
  return `<span class="swatch" style="background:${color}"></span>`;
}

/** One row: what it is, the equation, the equation with numbers, the result. */
function row(name, equation, numbers, value, key, range) {
  return (
    `<tr data-q="${key ?? ''}"><td class="eq"><span class="eq-name">${name}</span>${equation}</td>` +
    `<td class="num">${numbers}</td><td class="val">${swatch(key, value, range)}${fmt(value)}</td></tr>`
  );
}

/**
 * @param result  inspect.js output
 * @param j       hidden unit
 * @param t       character index
 * @param ranges  colour ranges of the heatmap rows (so swatches match the strips)
 */
export function equationsHTML(result, j, t, ranges = {}) {
  const { H, kind, chars } = result;
  const at = (key, step = t) => (step < 0 ? 0 : result.series[key][step * H + j]);
  const ch = esc(visibleChar(chars[t]));
  const input =
    result.layer === 0
      ? `row of the embedding table for '${ch}' (${result.D} numbers)`
      : `h_t of layer ${result.layer - 1} (${result.D} numbers)`;
  const head = `<p class="eq-head">character <b class="ch">'${ch}'</b> at t = ${t}, hidden unit j = ${j}${result.layers > 1 ? `, layer ${result.layer}` : ''}</p>`;
  const rows = [row('input', 'x<sub>t</sub>', input, NaN)];
  let note = '';
  if (kind === 'mlstm' || kind === 'mrnn') {
    const xm = at('xm');
    const hm = at('hm');
    rows.push(row('input factor', '(W<sub>mx</sub> x<sub>t</sub>)<sub>j</sub>', 'depends on the character only', xm));
    rows.push(row('recurrent factor', '(W<sub>mh</sub> h<sub>t−1</sub>)<sub>j</sub>', 'depends on the past only', hm));
    rows.push(
      row(
        'multiplicative state',
        'm<sub>t,j</sub> = (W<sub>mx</sub>x<sub>t</sub>)<sub>j</sub> · (W<sub>mh</sub>h<sub>t−1</sub>)<sub>j</sub>',
        `${par(xm)} × ${par(hm)}`,
        at('m'),
        'm',
        ranges.m,
      ),
    );
    note =
      `<p class="eq-note">The character '${ch}' multiplies unit ${j}'s share of the recurrent signal by ${fmt(xm)}. ` +
      `Every character does this to every unit, so each input character applies its own recurrent transition ` +
      `W<sub>hm</sub>·diag(W<sub>mx</sub>x<sub>t</sub>)·W<sub>mh</sub> to h<sub>t−1</sub> — in an LSTM the transition W<sub>h</sub> is the same for all inputs.</p>`;
  }
  if (kind === 'mrnn') {
    rows.push(
      row('pre-activation', 'z<sub>t,j</sub> = (W<sub>hx</sub>x<sub>t</sub> + W<sub>hm</sub>m<sub>t</sub> + b)<sub>j</sub>', '', at('z')),
    );
    rows.push(row('hidden state', 'h<sub>t,j</sub> = tanh(z<sub>t,j</sub>)', `tanh(${fmt(at('z'))})`, at('h'), 'h', 1));
  } else {
    const zsum =
      kind === 'mlstm'
        ? 'W<sub>hx</sub>x<sub>t</sub> + W<sub>hm</sub>m<sub>t</sub> + b'
        : 'W<sub>x</sub>x<sub>t</sub> + W<sub>h</sub>h<sub>t−1</sub> + b';
    rows.push(
      row(
        'pre-activations',
        `z<sub>t</sub> = ${zsum}`,
        `z<sub>i</sub> ${fmt(at('zi'))}, z<sub>f</sub> ${fmt(at('zf'))}, z<sub>g</sub> ${fmt(at('zg'))}, z<sub>o</sub> ${fmt(at('zo'))}`,
        NaN,
      ),
    );
    rows.push(row('input gate', 'i = σ(z<sub>i</sub>)', `σ(${fmt(at('zi'))})`, at('i'), 'i'));
    rows.push(row('forget gate', 'f = σ(z<sub>f</sub>)', `σ(${fmt(at('zf'))})`, at('f'), 'f'));
    rows.push(row('candidate', 'g = tanh(z<sub>g</sub>)', `tanh(${fmt(at('zg'))})`, at('g'), 'g', 1));
    rows.push(row('output gate', 'o = σ(z<sub>o</sub>)', `σ(${fmt(at('zo'))})`, at('o'), 'o'));
    const cPrev = at('c', t - 1);
    rows.push(
      row(
        'cell state',
        'c<sub>t</sub> = f·c<sub>t−1</sub> + i·g',
        `${fmt(at('f'))} × ${par(cPrev)} + ${fmt(at('i'))} × ${par(at('g'))}`,
        at('c'),
        'c',
        ranges.c,
      ),
    );
    rows.push(row('hidden state', 'h<sub>t</sub> = o·tanh(c<sub>t</sub>)', `${fmt(at('o'))} × tanh(${fmt(at('c'))})`, at('h'), 'h', 1));
  }
  const shown = (c) => esc(c === ' ' ? '␣' : visibleChar(c));
  const guesses = result.top[t]
    .map(({ symbol, p }) => `<span class="guess"><b>${shown(symbol)}</b> ${(100 * p).toFixed(0)}%</span>`)
    .join(' ');
  const actual =
    t + 1 < result.T ? `actual next: <b>${shown(chars[t + 1])}</b>, ${result.surprisal[t].toFixed(2)} bits of surprise` : 'end of text';
  return (
    head +
    `<table class="eq-table"><thead><tr><th>equation</th><th>with the numbers</th><th>value</th></tr></thead><tbody>${rows.join('')}</tbody></table>` +
    note +
    `<p class="eq-next">The model's guesses for the next character: ${guesses}<br>${actual}</p>`
  );
}
