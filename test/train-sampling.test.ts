import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Rng } from '../src/tensor/rng.js';
import { LogitSampler } from '../src/train/sampling.js';

/**
 * softmax(l / temperature) restricted to the top k (ties: lower index), then to the smallest most-likely
 * prefix of those whose renormalised mass reaches p, in float64: the reference, written with a sort.
 */
function referenceProbabilities(logits: number[], temperature: number, k: number, p = 1): number[] {
  const ranked = logits.map((l, i) => [l, i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  const max = Math.max(...logits);
  const weight = (l: number): number => Math.exp((l - max) / temperature);
  const topK = ranked.slice(0, k);
  const massK = topK.reduce((a, [l]) => a + weight(l), 0);
  const keep = new Set<number>();
  let acc = 0;
  for (const [l, i] of topK) {
    if (acc >= p * massK) break;
    keep.add(i);
    acc += weight(l);
  }
  const w = logits.map((l, i) => (keep.has(i) ? weight(l) : 0));
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

  it('draws with the frequencies of the top-P nucleus (after temperature and top-K)', () => {
    fc.assert(
      fc.property(
        logitRows,
        fc.double({ min: 0.3, max: 2, noNaN: true }),
        fc.nat(),
        fc.double({ min: 0.05, max: 1, noNaN: true }),
        fc.nat(),
        (raw, temperature, k0, topP, seed) => {
          const logits = raw.map(Math.fround);
          const k = k0 % (logits.length + 1);
          const sampler = new LogitSampler(logits.length, { temperature, topK: k, topP });
          const p = referenceProbabilities(logits, temperature, k === 0 ? logits.length : k, topP);
          const rng = new Rng(seed);
          const n = 4000;
          const counts = new Array<number>(logits.length).fill(0);
          const row = Float32Array.from(logits);
          for (let i = 0; i < n; i++) counts[sampler.draw(row, 0, rng)]!++;
          for (let i = 0; i < logits.length; i++) {
            const sd = Math.sqrt((p[i]! * (1 - p[i]!)) / n);
            expect(Math.abs(counts[i]! / n - p[i]!)).toBeLessThanOrEqual(5 * sd + 1e-3);
            if (p[i] === 0) expect(counts[i]).toBe(0);
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it('the nucleus is the smallest most-likely set reaching P, at least one token', () => {
    const row = Float32Array.from([Math.log(0.5), Math.log(0.3), Math.log(0.15), Math.log(0.05)]);
    const kept = (topP: number, topK = 0): number[] => {
      const s = new LogitSampler(4, { topP, topK });
      const seen = new Set<number>();
      const rng = new Rng(1);
      for (let i = 0; i < 2000; i++) seen.add(s.draw(row, 0, rng));
      return [...seen].sort();
    };
    expect(kept(0.01)).toEqual([0]);
    expect(kept(0.5)).toEqual([0]);
    expect(kept(0.51)).toEqual([0, 1]);
    expect(kept(0.8)).toEqual([0, 1]);
    expect(kept(0.81)).toEqual([0, 1, 2]);
    expect(kept(1)).toEqual([0, 1, 2, 3]);
    expect(kept(0.7, 2)).toEqual([0, 1]); // of the top 2 (mass 0.8), 0.5/0.8 < 0.7
    expect(kept(0.6, 2)).toEqual([0]); // 0.5/0.8 ≥ 0.6
  });

  it('drawWith(u) is draw with an rng whose next() is u, and its categorical step is Rng.categorical', () => {
    fc.assert(
      fc.property(logitRows, fc.nat(), fc.nat(), fc.double({ min: 0.2, max: 1, noNaN: true }), (raw, k0, seed, topP) => {
        const row = Float32Array.from(raw);
        const s = new LogitSampler(row.length, { topK: k0 % (row.length + 1), topP, temperature: 0.9 });
        const a = new Rng(seed);
        const b = new Rng(seed);
        const u = new Float64Array(1);
        for (let i = 0; i < 20; i++) {
          u[0] = b.next();
          expect(s.drawWith(row, 0, u, 0)).toBe(s.draw(row, 0, a));
        }
        // no filtering: the same token as Rng.categorical over exp((l − max)/T) from the same generator
        const plain = new LogitSampler(row.length, { temperature: 0.9 });
        const max = Math.max(...row);
        const w = Float64Array.from(row, (l) => Math.exp((l - max) / 0.9));
        const c = new Rng(seed + 1);
        const d = new Rng(seed + 1);
        for (let i = 0; i < 20; i++) expect(plain.draw(row, 0, c)).toBe(d.categorical(w));
      }),
      { numRuns: 50 },
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
    expect(() => new LogitSampler(3, { topP: 0 })).toThrow(/topP must be in \(0, 1\], got 0/);
    expect(() => new LogitSampler(3, { topP: 1.5 })).toThrow(/topP/);
    expect(() => new LogitSampler(3).draw(Float32Array.from([0, NaN, Infinity]), 0, new Rng(1))).toThrow(/non-finite/);
    expect(() => new LogitSampler(3).draw(Float32Array.from([0, 1]), 0, new Rng(1))).toThrow(/outside logits of length 2/);
  });
});
