import { describe, expect, it } from 'vitest';
import { divergingColour, renderUnitSvg, valuesPerCharacter } from '../src/probe/svg.js';

describe('valuesPerCharacter', () => {
  it('gives a bytes-model character the value after its last UTF-8 byte', () => {
    // 'a' 1 byte, 'é' 2 bytes, '€' 3 bytes, '😀' 4 bytes.
    const perToken = [10, 20, 21, 30, 31, 32, 40, 41, 42, 43];
    expect(Array.from(valuesPerCharacter('aé€😀', perToken, 'bytes'))).toEqual([10, 21, 32, 43]);
    expect(new TextEncoder().encode('aé€😀').length).toBe(perToken.length);
  });

  it('maps one token per character (code point) for a chars model', () => {
    expect(Array.from(valuesPerCharacter('a😀b', [1, 2, 3], 'chars'))).toEqual([1, 2, 3]);
  });

  it('refuses token values that do not cover the text exactly', () => {
    expect(() => valuesPerCharacter('abc', [1, 2], 'chars')).toThrow(/2 token values do not cover the text \(character 2\)/);
    expect(() => valuesPerCharacter('ab', [1, 2, 3], 'chars')).toThrow(/3 token values for a text of 2 tokens/);
  });
});

describe('renderUnitSvg', () => {
  it('draws one coloured cell per character, breaks rows at newlines and escapes XML', () => {
    const text = 'a<b>\n&c"d';
    const values = [0, 1, -1, 0.5, 0, 2, -2, 0, 1];
    const svg = renderUnitSvg([{ text, values, caption: 'spam & <eggs>' }], { title: 'unit 3' });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('spam &amp; &lt;eggs&gt;');
    expect(svg).toContain('>a&lt;b&gt;↵</text>'); // first row ends with the newline glyph
    expect(svg).toContain('>&amp;c&quot;d</text>'); // second row
    // background + 20 legend steps + one cell per character
    expect(svg.match(/<rect /g)).toHaveLength(1 + 20 + text.length);
    // One scale for all cells, ending at the 98th percentile of |value| (here 2): full red / full blue.
    expect(svg).toContain(`fill="${divergingColour(1)}"`);
    expect(svg).toContain(`fill="${divergingColour(-1)}"`);
    expect(svg).toContain('>≤ -2.00</text>');
    expect(svg).toContain('>≥ 2.00</text>');
    expect(svg).not.toMatch(/NaN|undefined/);
  });

  it('saturates the rare extreme values instead of washing out the rest', () => {
    const values = Array.from({ length: 100 }, (_, i) => (i === 50 ? 1000 : (i % 10) / 10));
    const svg = renderUnitSvg([{ text: 'y'.repeat(100), values, caption: 'c' }], { title: 't' });
    expect(svg).toContain('>≥ 0.900</text>');
    expect(svg).toContain(`fill="${divergingColour(0.5 / 0.9)}"`);
  });

  it('wraps long rows, cuts long texts with an ellipsis, and checks the value count', () => {
    const text = 'x'.repeat(25);
    const svg = renderUnitSvg([{ text, values: new Array<number>(25).fill(1), caption: 'c' }], { title: 't', columns: 10, maxChars: 22 });
    expect(svg.match(/>x{10}</g)).toHaveLength(2);
    expect(svg).toContain('>xx…</text>');
    expect(() => renderUnitSvg([{ text: 'ab', values: [1], caption: 'c' }], { title: 't' })).toThrow(/1 values for a text of 2 characters/);
  });

  it('diverging colours: white at 0, clamped beyond ±1, white for non-finite values', () => {
    expect(divergingColour(0)).toBe('rgb(255,255,255)');
    expect(divergingColour(5)).toBe(divergingColour(1));
    expect(divergingColour(-5)).toBe(divergingColour(-1));
    expect(divergingColour(NaN)).toBe('rgb(255,255,255)');
    expect(divergingColour(1)).not.toBe(divergingColour(-1));
  });
});
