/**
 * The whole workflow on a planted signal: a tiny mLSTM whose unit 0 is wired by hand to count the letter
 * 'x' (its input gate opens only on 'x', its forget gate stays shut), the other units random. The label
 * is "does the text contain an x" — readable from the text, and from unit 0's final cell state only.
 * The probe must find it through the real feature extraction: accuracy 1, unit 0 on top, and unit 0 as
 * the best single unit.
 */
import { describe, expect, it } from 'vitest';
import { extractFeatures } from '../src/features/extract.js';
import { encodeLabelledTexts, parseLabelledTsv } from '../src/features/tsv.js';
import { DenseMatrix } from '../src/probe/design.js';
import { accuracy, encodeLabels, fitProbe, predict, topUnits } from '../src/probe/probe.js';
import { bestSingleUnit } from '../src/probe/single-unit.js';
import { xCounterModel, xTsv } from './probe-helpers.js';

describe('planted signal through a hand-wired mLSTM', () => {
  it('the probe reads "contains x" from unit 0 with test accuracy 1; unit 0 is the top and the best single unit', () => {
    const { model, codec } = xCounterModel(1);
    const train = parseLabelledTsv(xTsv(2, 200), 'train.tsv');
    const test = parseLabelledTsv(xTsv(3, 100), 'test.tsv');
    const features = (rows: typeof train): DenseMatrix => {
      // the planted signal is a count in unit 0's cell state: read the final cell state (pool last)
      const f = extractFeatures(model, encodeLabelledTexts(rows, codec).tokens, { batch: 16, pool: 'last' });
      return new DenseMatrix(f.data, f.rows, f.cols);
    };
    const xTrain = features(train);
    const xTest = features(test);
    const fit = fitProbe(
      xTrain,
      train.map((r) => r.label),
    );
    expect(
      accuracy(
        predict(fit.probe, xTest),
        test.map((r) => r.label),
      ),
    ).toBe(1);
    expect(topUnits(fit.probe, 1)[0]).toMatchObject({ unit: 0, class: 'with x' });
    const { classes, targets } = encodeLabels(train.map((r) => r.label));
    const single = bestSingleUnit(
      xTrain,
      targets,
      xTest,
      encodeLabels(
        test.map((r) => r.label),
        classes,
      ).targets,
      2,
    );
    expect(single.unit).toBe(0);
    expect(single.testAccuracy).toBe(1);
    // The threshold sits between "no x" (c ≈ 0) and "one x" (c ≈ 1).
    expect(single.threshold!).toBeGreaterThan(0.05);
    expect(single.threshold!).toBeLessThan(0.95);
  });
});
