import { describe, expect, it } from 'vitest';
import { DenseMatrix } from '../src/probe/design.js';
import { accuracy, encodeLabels, fitProbe, nonZeroUnits, predict, topUnits } from '../src/probe/probe.js';
import { bestSingleUnit } from '../src/probe/single-unit.js';
import { ngramBucket, ngramMatrix } from '../src/probe/ngrams.js';
import { decodeProbeSafetensors, encodeProbeSafetensors, probeFromJSON, probeToJSON, ProbeFormatError } from '../src/probe/persist.js';
import { Rng } from '../src/tensor/rng.js';

/** n rows of d noise units; unit `planted` is label-dependent (+shift for class 1). */
function plantedFeatures(seed: number, n: number, d: number, planted: number, shift: number): { x: DenseMatrix; labels: string[] } {
  const rng = new Rng(seed);
  const data = new Float32Array(n * d);
  const labels: string[] = [];
  for (let i = 0; i < n; i++) {
    const cls = i % 2;
    labels.push(cls === 1 ? 'pos' : 'neg');
    for (let j = 0; j < d; j++) data[i * d + j] = rng.normal() * 2 + 5 + (j === planted && cls === 1 ? shift : 0);
  }
  return { x: new DenseMatrix(data, n, d), labels };
}

/** Random lowercase texts; label 'x' iff the text contains the letter x (planted in half of them). */
function xTexts(seed: number, n: number): { texts: string[]; labels: string[] } {
  const rng = new Rng(seed);
  const alphabet = 'abcdefghijklmnopqrstuvwyz  '; // no x
  const texts: string[] = [];
  const labels: string[] = [];
  for (let i = 0; i < n; i++) {
    const len = 20 + rng.int(40);
    let t = '';
    for (let k = 0; k < len; k++) t += alphabet[rng.int(alphabet.length)];
    if (i % 2 === 1) {
      const at = rng.int(len);
      t = `${t.slice(0, at)}x${t.slice(at + 1)}`;
    }
    texts.push(t);
    labels.push(i % 2 === 1 ? 'has x' : 'no x');
  }
  return { texts, labels };
}

describe('fitProbe: planted signals', () => {
  it('finds the one informative unit among noise units: accuracy, top unit, best single unit', () => {
    const train = plantedFeatures(1, 400, 30, 17, 6);
    const test = plantedFeatures(2, 200, 30, 17, 6);
    const fit = fitProbe(train.x, train.labels);
    expect(fit.crossValidation?.lambdas.length).toBe(8);
    const acc = accuracy(predict(fit.probe, test.x), test.labels);
    expect(acc).toBeGreaterThan(0.9);
    const top = topUnits(fit.probe, 3);
    expect(top[0]!.unit).toBe(17);
    expect(top[0]!.class).toBe('pos'); // shift is positive for 'pos'
    expect(top[0]!.weight).toBeGreaterThan(0);
    const { classes, targets } = encodeLabels(train.labels);
    const single = bestSingleUnit(train.x, targets, test.x, encodeLabels(test.labels, classes).targets, 2);
    expect(single.unit).toBe(17);
    expect(single.testAccuracy).toBeGreaterThan(0.9);
    // The threshold sits between the class means (5 and 11).
    expect(single.threshold!).toBeGreaterThan(6);
    expect(single.threshold!).toBeLessThan(10);
  });

  it('reads "contains x" from hashed character n-grams with perfect test accuracy; the top n-gram is the bucket of "x"', () => {
    const train = xTexts(3, 300);
    const test = xTexts(4, 100);
    const buckets = 4096;
    const fit = fitProbe(ngramMatrix(train.texts, { buckets }), train.labels);
    const predicted = predict(fit.probe, ngramMatrix(test.texts, { buckets }));
    expect(accuracy(predicted, test.labels)).toBe(1);
    const xBucket = ngramBucket(['x'.codePointAt(0)!], 0, 1, buckets);
    expect(topUnits(fit.probe, 1)[0]!.unit).toBe(xBucket);
    expect(topUnits(fit.probe, 1)[0]!.class).toBe('has x');
  });

  it('a fixed λ at or above λ_max gives an all-zero probe that predicts the majority class', () => {
    const train = plantedFeatures(5, 101, 5, 2, 4); // 51 'neg', 50 'pos'
    const fit = fitProbe(train.x, train.labels, { lambda: 10 });
    expect(nonZeroUnits(fit.probe)).toBe(0);
    expect(fit.crossValidation).toBeUndefined();
    expect(new Set(predict(fit.probe, train.x))).toEqual(new Set(['neg']));
    expect(topUnits(fit.probe, 5)).toEqual([]);
  });
});

describe('fitProbe: more than two classes (one-vs-rest)', () => {
  it('separates three Gaussian blobs with string labels, each class read from its own unit', () => {
    const make = (seed: number, n: number): { x: DenseMatrix; labels: string[] } => {
      const rng = new Rng(seed);
      const names = ['b c', 'α', 'spam'];
      const d = 6;
      const data = new Float32Array(n * d);
      const labels: string[] = [];
      for (let i = 0; i < n; i++) {
        const k = i % 3;
        labels.push(names[k]!);
        for (let j = 0; j < d; j++) data[i * d + j] = rng.normal() + (j === 2 * k ? 4 : 0);
      }
      return { x: new DenseMatrix(data, n, d), labels };
    };
    const train = make(6, 300);
    const test = make(7, 150);
    const fit = fitProbe(train.x, train.labels);
    expect(fit.probe.classes).toEqual(['b c', 'spam', 'α']); // sorted
    expect(fit.probe.weights.length).toBe(3);
    expect(accuracy(predict(fit.probe, test.x), test.labels)).toBeGreaterThan(0.95);
    // Each classifier's largest weight is on its own unit: 'b c' → 0, 'α' → 2, 'spam' → 4.
    const own: Record<string, number> = { 'b c': 0, α: 2, spam: 4 };
    fit.probe.classes.forEach((c, k) => {
      const w = fit.probe.weights[k]!;
      const arg = w.reduce((best, v, j) => (v > w[best]! ? j : best), 0);
      expect(arg).toBe(own[c]);
    });
    const { classes, targets } = encodeLabels(train.labels);
    const single = bestSingleUnit(train.x, targets, test.x, encodeLabels(test.labels, classes).targets, 3);
    // One unit can tell its own class from the rest, not all three apart: about 2/3.
    expect(single.testAccuracy).toBeGreaterThan(0.5);
    expect(single.testAccuracy).toBeLessThan(0.85);
    expect(single.threshold).toBeUndefined();
  });

  it('names a test label the probe has never seen', () => {
    const train = plantedFeatures(8, 40, 3, 0, 3);
    const fit = fitProbe(train.x, train.labels, { lambda: 0.01 });
    expect(() => encodeLabels(['neg', 'maybe'], fit.probe.classes)).toThrow(
      /label "maybe" of row 1 is not one of the probe's classes \["neg","pos"\]/,
    );
  });

  it('refuses a single class', () => {
    const x = new DenseMatrix(new Float32Array(8), 4, 2);
    expect(() => fitProbe(x, ['a', 'a', 'a', 'a'])).toThrow(/1 class \(\["a"\]\); a probe needs at least 2/);
  });
});

describe('probe persistence', () => {
  it('JSON and safetensors round trips predict identically', () => {
    const train = plantedFeatures(9, 120, 8, 3, 4);
    const fit = fitProbe(train.x, train.labels, { lambda: 0.005, info: { pool: 'last', checkpoint: 'm.safetensors' } });
    const fromJson = probeFromJSON(probeToJSON(fit.probe), 'p.json');
    expect(fromJson).toEqual(fit.probe);
    const fromSt = decodeProbeSafetensors(encodeProbeSafetensors(fit.probe), 'p.safetensors');
    expect(fromSt).toEqual(fit.probe);
    expect(predict(fromSt, train.x)).toEqual(predict(fit.probe, train.x));
  });

  it('loading names the source and the field at fault', () => {
    const train = plantedFeatures(10, 40, 3, 0, 3);
    const good = JSON.parse(probeToJSON(fitProbe(train.x, train.labels, { lambda: 0.01 }).probe));
    const bad = (patch: Record<string, unknown>): string => JSON.stringify({ ...good, ...patch });
    expect(() => probeFromJSON('{', 'p.json')).toThrow(/p.json: not valid JSON/);
    expect(() => probeFromJSON(bad({ format: 'x' }), 'p.json')).toThrow(/p.json: not a probe \(format is "x"/);
    expect(() => probeFromJSON(bad({ classes: ['a'] }), 'p.json')).toThrow(/'classes' must be an array of at least 2 strings/);
    expect(() => probeFromJSON(bad({ scale: [1, 0, 1] }), 'p.json')).toThrow(/'scale' must be 3 positive numbers/);
    expect(() => probeFromJSON(bad({ weights: [[1, 2]] }), 'p.json')).toThrow(/'weights' row 0 must be 3 finite numbers/);
    expect(() => probeFromJSON(bad({ bias: [] }), 'p.json')).toThrow(ProbeFormatError);
    expect(() => predict(good, new DenseMatrix(new Float32Array(4), 1, 4))).toThrow(/the probe reads 3 features, the matrix has 4 columns/);
  });
});

describe('ngramMatrix', () => {
  it('counts every n-gram of length 1..3 once per occurrence, as log(1 + count)', () => {
    const m = ngramMatrix(['abab'], { buckets: 1 << 20 });
    // 1-grams a×2 b×2, 2-grams ab×2 ba×1, 3-grams aba×1 bab×1: 6 distinct (barring collisions in 2^20 buckets).
    expect(m.nnz).toBe(6);
    const values = Array.from(m.values).sort();
    const l2 = Math.fround(Math.log(3));
    const l1 = Math.fround(Math.log(2));
    expect(values).toEqual([l1, l1, l1, l2, l2, l2].sort());
    // Astral characters are one code point, not two UTF-16 units.
    expect(ngramMatrix(['😀'], { maxN: 2 }).nnz).toBe(1);
  });
});
