import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Rng } from '../src/tensor/rng.js';
import { LogitSampler } from '../src/train/sampling.js';

/** softmax(l / temperature) restricted to the top k (ties: lower index), in float64: the reference. */
function referenceProbabilities(logits: number[], temperature: number, k: number): number[] {
  const ranked = logits.map((l, i) => [l, i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  const keep = new Set(ranked.slice(0, k).map(([, i]) => i));
  const max = Math.max(...logits);
  const w = logits.map((l, i) => (keep.has(i) ? Math.exp((l - max) / temperature) : 0));
  const total = w.reduce((a, b) => a + b, 0);
  return w.map((x) => x / total);
}

const logitRows = fc.array(fc.double({ min: -4, max: 4, noNaN: true }), { minLength: 1, maxLength: 12 });

describe('LogitSampler', () => {
  it('draws with the frequencies of softmax(logits / temperature) over the top K', () => {
    fc.assert(
      fc.property(logitRows, fc.double({ min: 0.3, max: 2, noNaN: true }), fc.nat(), fc.nat(), (raw, temperature, k0, seed) => {
        const logits = raw.map(Math.fround); // the sampler sees float32 logits; so does the reference
        const k = k0 % (logits.length + 1); // 0 means all
        const sampler = new LogitSampler(logits.length, { temperature, topK: k });
        const p = referenceProbabilities(logits, temperature, k === 0 ? logits.length : k);
        const rng = new Rng(seed);
        const n = 4000;
        const counts = new Array<number>(logits.length).fill(0);
        const row = Float32Array.from([9, ...logits]); // offset 1: the row need not start at 0
        for (let i = 0; i < n; i++) counts[sampler.draw(row, 1, rng)]!++;
        // The band is 5 standard deviations of the observed frequency.
        for (let i = 0; i < logits.length; i++) {
          const sd = Math.sqrt((p[i]! * (1 - p[i]!)) / n);
          expect(Math.abs(counts[i]! / n - p[i]!)).toBeLessThanOrEqual(5 * sd + 1e-3);
          if (p[i] === 0) expect(counts[i]).toBe(0);
        }
      }),
      { numRuns: 40 },
    );
  });

  it('picks the most likely token at temperature 0 and with topK 1 (ties: lowest index)', () => {
    fc.assert(
      fc.property(logitRows, fc.nat(), (logits, seed) => {
        const row = Float32Array.from(logits);
        let best = 0;
        for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
        expect(new LogitSampler(row.length, { temperature: 0 }).draw(row, 0, new Rng(seed))).toBe(best);
        expect(new LogitSampler(row.length, { topK: 1 }).draw(row, 0, new Rng(seed))).toBe(best);
      }),
    );
  });

  it('gives the same draws for the same seed', () => {
    const row = Float32Array.from([0.1, 0.5, -0.3, 1.2, 0.0]);
    const s = new LogitSampler(5, { temperature: 0.8, topK: 3 });
    const draws = (seed: number): number[] => {
      const rng = new Rng(seed);
      return Array.from({ length: 50 }, () => s.draw(row, 0, rng));
    };
    expect(draws(7)).toEqual(draws(7));
    expect(draws(7)).not.toEqual(draws(8));
  });

  it('rejects bad options and non-finite logits', () => {
    expect(() => new LogitSampler(3, { temperature: -1 })).toThrow(/temperature/);
    expect(() => new LogitSampler(3, { topK: 1.5 })).toThrow(/topK/);
    expect(() => new LogitSampler(3).draw(Float32Array.from([0, NaN, Infinity]), 0, new Rng(1))).toThrow(/non-finite/);
    expect(() => new LogitSampler(3).draw(Float32Array.from([0, 1]), 0, new Rng(1))).toThrow(/outside logits of length 2/);
  });
});
