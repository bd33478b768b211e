import { describe, it } from 'vitest';
import fc from 'fast-check';
import { gradcheck } from '../src/autograd/gradcheck.js';
import type { Tape } from '../src/autograd/tape.js';
import type { Var } from '../src/autograd/var.js';
import { Rng } from '../src/tensor/rng.js';
import { Tensor } from '../src/tensor/tensor.js';
import { lstmSequence, lstmStep } from '../src/nn/functional/lstm.js';
import { mlstmSequence, mlstmStep } from '../src/nn/functional/mlstm.js';
import { mrnnSequence, mrnnStep } from '../src/nn/functional/mrnn.js';
import type { LayerState } from '../src/nn/state.js';
import { weightNorm } from '../src/nn/functional/weight-norm.js';
import { cellSizesArb, pack, randn, type CellSizes } from './cells-support.js';

/*
 * Every fused recurrent op against central differences (float64, tolerance 1e-6) w.r.t. x, the
 * initial state and every weight, for random T, B, D, H (incl. 1), with random subsets of the outputs
 * carrying a gradient (a missing output gradient must count as zero).
 */

const TOL = { atol: 1e-6, rtol: 1e-6 };
const RUNS = { numRuns: 25 };

type Output = 'hs' | 'hT' | 'cT';
const outputsArb = fc.subarray<Output>(['hs', 'hT', 'cT'], { minLength: 1 });
/** An op's output by name: every h_t, or the final state's h or c. */
const output = (r: { hs: Var; state: LayerState }, o: Output): Var => (o === 'hs' ? r.hs : o === 'hT' ? r.state.h : r.state.c!);
const mrnnOutputsArb = fc.subarray<'hs' | 'hT'>(['hs', 'hT'], { minLength: 1 });

/** Matrix [rows,cols] scaled like the fixtures (std gain/√cols), a little hotter to reach the nonlinearity. */
function mat(rng: Rng, rows: number, cols: number, gain = 1.5): Tensor {
  return randn(rng, [rows, cols], gain / Math.sqrt(cols));
}

function mlstmTensors({ T, B, D, H, seed }: CellSizes): Tensor[] {
  const rng = new Rng(seed);
  return [
    randn(rng, [T, B, D]), // x
    randn(rng, [B, H], 0.5), // h0
    randn(rng, [B, H], 0.5), // c0
    mat(rng, H, D), // wmx
    mat(rng, H, H), // wmh
    mat(rng, 4 * H, D), // whx
    mat(rng, 4 * H, H), // whm
    randn(rng, [4 * H], 0.5), // bias
  ];
}

describe('gradcheck: mlstmSequence', () => {
  it('w.r.t. x, h0, c0, wmx, wmh, whx, whm, bias', () => {
    fc.assert(
      fc.property(cellSizesArb, outputsArb, (sizes, outs) => {
        gradcheck(
          (tape, x, h0, c0, wmx, wmh, whx, whm, bias) => {
            const r = mlstmSequence(tape, x!, h0!, c0!, { wmx: wmx!, wmh: wmh!, whx: whx!, whm: whm!, bias: bias! });
            return pack(tape, ...outs.map((o) => output(r, o)));
          },
          mlstmTensors(sizes),
          TOL,
        );
      }),
      RUNS,
    );
  });

  it('with weight-normalised matrices: w.r.t. every v and g', () => {
    fc.assert(
      fc.property(cellSizesArb, ({ T, B, D, H, seed }) => {
        const rng = new Rng(seed);
        const gain = (n: number): Tensor => {
          const g = randn(rng, [n], 0.3);
          for (let i = 0; i < n; i++) g.data[i]! += 1;
          return g;
        };
        const inputs = [
          randn(rng, [T, B, D]),
          randn(rng, [B, H], 0.5),
          randn(rng, [B, H], 0.5),
          mat(rng, H, D),
          gain(H),
          mat(rng, H, H),
          gain(H),
          mat(rng, 4 * H, D),
          gain(4 * H),
          mat(rng, 4 * H, H),
          gain(4 * H),
          randn(rng, [4 * H], 0.5),
        ];
        gradcheck(
          (tape, x, h0, c0, mxv, mxg, mhv, mhg, hxv, hxg, hmv, hmg, bias) => {
            const w = {
              wmx: weightNorm(tape, mxv!, mxg!),
              wmh: weightNorm(tape, mhv!, mhg!),
              whx: weightNorm(tape, hxv!, hxg!),
              whm: weightNorm(tape, hmv!, hmg!),
              bias: bias!,
            };
            const r = mlstmSequence(tape, x!, h0!, c0!, w);
            return pack(tape, r.hs, r.state.c!);
          },
          inputs,
          TOL,
        );
      }),
      { numRuns: 15 },
    );
  });
});

describe('gradcheck: mlstmStep', () => {
  it('two chained steps, w.r.t. both inputs, the initial state and every weight', () => {
    fc.assert(
      fc.property(cellSizesArb, (sizes) => {
        const [x, h0, c0, ...w] = mlstmTensors({ ...sizes, T: 2 });
        const BD = sizes.B * sizes.D;
        const xA0 = new Tensor(x!.data.slice(0, BD), [sizes.B, sizes.D]);
        const xB0 = new Tensor(x!.data.slice(BD), [sizes.B, sizes.D]);
        gradcheck(
          (tape, xA, xB, h, c, wmx, wmh, whx, whm, bias) => {
            const ws = { wmx: wmx!, wmh: wmh!, whx: whx!, whm: whm!, bias: bias! };
            const s1 = mlstmStep(tape, xA!, h!, c!, ws);
            const s2 = mlstmStep(tape, xB!, s1.h, s1.c, ws);
            return pack(tape, s1.h, s2.h, s2.c);
          },
          [xA0, xB0, h0!, c0!, ...w],
          TOL,
        );
      }),
      RUNS,
    );
  });
});

function lstmTensors({ T, B, D, H, seed }: CellSizes): Tensor[] {
  const rng = new Rng(seed);
  return [
    randn(rng, [T, B, D]),
    randn(rng, [B, H], 0.5),
    randn(rng, [B, H], 0.5),
    mat(rng, 4 * H, D),
    mat(rng, 4 * H, H),
    randn(rng, [4 * H], 0.5),
  ];
}

describe('gradcheck: lstmSequence / lstmStep', () => {
  it('sequence w.r.t. x, h0, c0, wx, wh, bias', () => {
    fc.assert(
      fc.property(cellSizesArb, outputsArb, (sizes, outs) => {
        gradcheck(
          (tape, x, h0, c0, wx, wh, bias) => {
            const r = lstmSequence(tape, x!, h0!, c0!, { wx: wx!, wh: wh!, bias: bias! });
            return pack(tape, ...outs.map((o) => output(r, o)));
          },
          lstmTensors(sizes),
          TOL,
        );
      }),
      RUNS,
    );
  });

  it('step w.r.t. x, h, c, wx, wh, bias', () => {
    fc.assert(
      fc.property(cellSizesArb, (sizes) => {
        const [x, ...rest] = lstmTensors({ ...sizes, T: 1 });
        gradcheck(
          (tape, xs, h, c, wx, wh, bias) => {
            const r = lstmStep(tape, xs!, h!, c!, { wx: wx!, wh: wh!, bias: bias! });
            return pack(tape, r.h, r.c);
          },
          [x!.reshape([sizes.B, sizes.D]), ...rest],
          TOL,
        );
      }),
      RUNS,
    );
  });
});

function mrnnTensors({ T, B, D, H, seed }: CellSizes): Tensor[] {
  const rng = new Rng(seed);
  return [
    randn(rng, [T, B, D]),
    randn(rng, [B, H], 0.5),
    mat(rng, H, D),
    mat(rng, H, H),
    mat(rng, H, D),
    mat(rng, H, H),
    randn(rng, [H], 0.5),
  ];
}

describe('gradcheck: mrnnSequence / mrnnStep', () => {
  it('sequence w.r.t. x, h0, wmx, wmh, whx, whm, bias', () => {
    fc.assert(
      fc.property(cellSizesArb, mrnnOutputsArb, (sizes, outs) => {
        gradcheck(
          (tape, x, h0, wmx, wmh, whx, whm, bias) => {
            const r = mrnnSequence(tape, x!, h0!, { wmx: wmx!, wmh: wmh!, whx: whx!, whm: whm!, bias: bias! });
            return pack(tape, ...outs.map((o) => output(r, o)));
          },
          mrnnTensors(sizes),
          TOL,
        );
      }),
      RUNS,
    );
  });

  it('step w.r.t. x, h and every weight', () => {
    fc.assert(
      fc.property(cellSizesArb, (sizes) => {
        const [x, ...rest] = mrnnTensors({ ...sizes, T: 1 });
        gradcheck(
          (tape, xs, h, wmx, wmh, whx, whm, bias) => mrnnStep(tape, xs!, h!, { wmx: wmx!, wmh: wmh!, whx: whx!, whm: whm!, bias: bias! }).h,
          [x!.reshape([sizes.B, sizes.D]), ...rest],
          TOL,
        );
      }),
      RUNS,
    );
  });
});

describe('gradcheck: weightNorm', () => {
  it('w.r.t. v and g, random [rows,cols] incl. 1', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 7 }),
        fc.integer({ min: 1, max: 7 }),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        (rows, cols, seed) => {
          const rng = new Rng(seed);
          gradcheck((tape: Tape, v: Var, g: Var) => weightNorm(tape, v, g), [randn(rng, [rows, cols]), randn(rng, [rows])], TOL);
        },
      ),
      { numRuns: 100 },
    );
  });
});
