import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Tensor } from '../src/tensor/tensor.js';
import { isCellFixture, loadFixture, runCellParity, summarize } from './parity-lib.js';

/*
 * The float32 cells against PyTorch's float64 reference (docs/CONTRACT.md tolerances: 1e-5 forward and
 * loss, 1e-3 gradients). Setting MLSTM_EXTRA_FIXTURES to a directory (e.g. the output of
 * `make_fixtures.py DIR --set stress`) also runs every cell case found there.
 */

const CASES = ['mlstm_small', 'mlstm_medium', 'mlstm_wn', 'lstm_small', 'mrnn_small'];

describe('parity: cells against the PyTorch fixtures (float32 engine)', () => {
  for (const name of CASES) {
    it(name, () => {
      const report = runCellParity(loadFixture(name));
      console.log(summarize(report));
      expect(report.ok, summarize(report)).toBe(true);
    });
  }

  const extra = process.env['MLSTM_EXTRA_FIXTURES'];
  if (extra) {
    for (const file of readdirSync(extra)
      .filter((f) => f.endsWith('.safetensors'))
      .sort()) {
      const name = file.slice(0, -'.safetensors'.length);
      const fixture = loadFixture(name, extra);
      if (!isCellFixture(fixture)) continue; // charlm cases belong to the model/optimiser parity
      it(`extra: ${name}`, () => {
        const report = runCellParity(fixture);
        console.log(summarize(report));
        expect(report.ok, summarize(report)).toBe(true);
      });
    }
  }
});

describe('parity: the same cases in float64 agree to rounding (the equations, not just the tolerance)', () => {
  for (const name of CASES) {
    it(name, () => {
      const report = runCellParity(loadFixture(name), 'float64');
      const worst = Math.max(...report.checks.map((c) => c.relativeError));
      expect(report.ok, summarize(report)).toBe(true);
      expect(worst, summarize(report)).toBeLessThan(1e-10);
    });
  }
});

describe('parity harness: what it does not understand fails', () => {
  it('an extra key in a cell case is a failed check', () => {
    const fixture = loadFixture('mlstm_small');
    fixture.tensors.set('grad.surprise', new Tensor(new Float64Array(1), [1]));
    const report = runCellParity(fixture);
    expect(report.ok).toBe(false);
    expect(report.checks.find((c) => c.key === 'grad.surprise')?.ok).toBe(false);
  });
  it('an unknown kind is a failed case', () => {
    const fixture = loadFixture('lstm_small');
    fixture.kind = 'gru';
    expect(runCellParity(fixture).ok).toBe(false);
  });
  it('a wrong expected value is caught', () => {
    const fixture = loadFixture('mrnn_small');
    const ref = fixture.tensors.get('grad.whm')!;
    let norm = 0;
    for (const v of ref.data) norm += v * v;
    ref.data[0]! += 1e-2 * Math.sqrt(norm); // a 1% relative error, ten times the tolerance
    const report = runCellParity(fixture);
    expect(report.checks.find((c) => c.key === 'grad.whm')?.ok).toBe(false);
  });
});
