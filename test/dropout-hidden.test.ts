import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { gradcheck } from '../src/autograd/gradcheck.js';
import { Tape } from '../src/autograd/tape.js';
import { Var } from '../src/autograd/var.js';
import { Rng } from '../src/tensor/rng.js';
import { ShapeError } from '../src/tensor/shape.js';
import { Tensor, zeros } from '../src/tensor/tensor.js';
import { lstmSequence, lstmStep } from '../src/nn/functional/lstm.js';
import { mlstmSequence, mlstmStep } from '../src/nn/functional/mlstm.js';
import { mrnnSequence, mrnnStep } from '../src/nn/functional/mrnn.js';
import { weightNorm } from '../src/nn/functional/weight-norm.js';
import { cellSizesArb, pack, randn, type CellSizes } from './cells-support.js';
import { lstmReference, mlstmReference, mrnnReference, randomMask, type ReferenceResult } from './dropout-reference.js';

/*
 * Variational hidden dropout inside the fused recurrent ops (docs/training.md): gradient-checked
 * against central differences (float64) for every cell, with and without weight norm, sequence and step
 * forms; equal in values and gradients to a composition of plain ops with the same explicit mask
 * (dropout-reference.ts); and a mask of ones is exactly no mask.
 */

const TOL = { atol: 1e-6, rtol: 1e-6 };
const RUNS = { numRuns: 25 };
/** The fused ops and the reference sum in different orders: equal to rounding. */
const SAME = 1e-10;

type Kind = 'mlstm' | 'lstm' | 'mrnn';
const KINDS: readonly Kind[] = ['mlstm', 'lstm', 'mrnn'];
const pArb = fc.double({ min: 0.05, max: 0.7, noNaN: true });

function mat(rng: Rng, rows: number, cols: number): Tensor {
  return randn(rng, [rows, cols], 1.5 / Math.sqrt(cols));
}

/** x, h0, (c0), then the weights in the op's order, all float64. */
function inputsOf(kind: Kind, { T, B, D, H, seed }: CellSizes): Tensor[] {
  const rng = new Rng(seed);
  const x = randn(rng, [T, B, D]);
  const h0 = randn(rng, [B, H], 0.5);
  if (kind === 'mlstm') {
    return [
      x,
      h0,
      randn(rng, [B, H], 0.5),
      mat(rng, H, D),
      mat(rng, H, H),
      mat(rng, 4 * H, D),
      mat(rng, 4 * H, H),
      randn(rng, [4 * H], 0.5),
    ];
  }
  if (kind === 'lstm') return [x, h0, randn(rng, [B, H], 0.5), mat(rng, 4 * H, D), mat(rng, 4 * H, H), randn(rng, [4 * H], 0.5)];
  return [x, h0, mat(rng, H, D), mat(rng, H, H), mat(rng, H, D), mat(rng, H, H), randn(rng, [H], 0.5)];
}

/** The fused sequence op of `kind` on Vars in inputsOf's order. */
function fused(kind: Kind, tape: Tape, v: Var[], mask: Tensor | null): ReferenceResult {
  if (kind === 'mlstm') {
    const [x, h0, c0, wmx, wmh, whx, whm, bias] = v as [Var, Var, Var, Var, Var, Var, Var, Var];
    const r = mlstmSequence(tape, x, h0, c0, { wmx, wmh, whx, whm, bias }, mask);
    return { hs: r.hs, hT: r.state.h, cT: r.state.c! };
  }
  if (kind === 'lstm') {
    const [x, h0, c0, wx, wh, bias] = v as [Var, Var, Var, Var, Var, Var];
    const r = lstmSequence(tape, x, h0, c0, { wx, wh, bias }, mask);
    return { hs: r.hs, hT: r.state.h, cT: r.state.c! };
  }
  const [x, h0, wmx, wmh, whx, whm, bias] = v as [Var, Var, Var, Var, Var, Var, Var];
  const r = mrnnSequence(tape, x, h0, { wmx, wmh, whx, whm, bias }, mask);
  return { hs: r.hs, hT: r.state.h, cT: null };
}

function reference(kind: Kind, tape: Tape, v: Var[], M: Var): ReferenceResult {
  if (kind === 'mlstm') {
    const [x, h0, c0, wmx, wmh, whx, whm, bias] = v as [Var, Var, Var, Var, Var, Var, Var, Var];
    return mlstmReference(tape, x, h0, c0, { wmx, wmh, whx, whm, bias }, M);
  }
  if (kind === 'lstm') {
    const [x, h0, c0, wx, wh, bias] = v as [Var, Var, Var, Var, Var, Var];
    return lstmReference(tape, x, h0, c0, { wx, wh, bias }, M);
  }
  const [x, h0, wmx, wmh, whx, whm, bias] = v as [Var, Var, Var, Var, Var, Var, Var];
  return mrnnReference(tape, x, h0, { wmx, wmh, whx, whm, bias }, M);
}

const outputs = (r: ReferenceResult): Var[] => (r.cT ? [r.hs, r.hT, r.cT] : [r.hs, r.hT]);

describe('hidden dropout in the fused sequence ops: gradcheck', () => {
  for (const kind of KINDS) {
    it(`${kind}: w.r.t. x, the initial state and every weight, random masks and output subsets`, () => {
      fc.assert(
        fc.property(cellSizesArb, pArb, fc.integer({ min: 1, max: 7 }), (sizes, p, outMask) => {
          const mask = randomMask(new Rng(sizes.seed + 1), sizes.B, sizes.H, p);
          gradcheck(
            (tape, ...v) => {
              const outs = outputs(fused(kind, tape, v, mask)).filter((_, i) => (outMask >> i) & 1);
              return pack(tape, ...(outs.length > 0 ? outs : [fused(kind, tape, v, mask).hs]));
            },
            inputsOf(kind, sizes),
            TOL,
          );
        }),
        RUNS,
      );
    });
  }

  it('mlstm with weight-normalised matrices: w.r.t. every v and g', () => {
    fc.assert(
      fc.property(cellSizesArb, pArb, (sizes, p) => {
        const { B, D, H, seed } = sizes;
        const rng = new Rng(seed ^ 0x5bd1e995);
        const gain = (n: number): Tensor => {
          const g = randn(rng, [n], 0.3);
          for (let i = 0; i < n; i++) g.data[i]! += 1;
          return g;
        };
        const [x, h0, c0] = inputsOf('mlstm', sizes);
        const mask = randomMask(rng, B, H, p);
        const vg = [mat(rng, H, D), gain(H), mat(rng, H, H), gain(H), mat(rng, 4 * H, D), gain(4 * H), mat(rng, 4 * H, H), gain(4 * H)];
        gradcheck(
          (tape, xv, h, c, mxv, mxg, mhv, mhg, hxv, hxg, hmv, hmg, bias) => {
            const w = {
              wmx: weightNorm(tape, mxv!, mxg!),
              wmh: weightNorm(tape, mhv!, mhg!),
              whx: weightNorm(tape, hxv!, hxg!),
              whm: weightNorm(tape, hmv!, hmg!),
              bias: bias!,
            };
            const r = mlstmSequence(tape, xv!, h!, c!, w, mask);
            return pack(tape, r.hs, r.state.h, r.state.c!);
          },
          [x!, h0!, c0!, ...vg, randn(rng, [4 * H], 0.5)],
          TOL,
        );
      }),
      { numRuns: 15 },
    );
  });
});

describe('hidden dropout in the step ops: two chained steps with one mask, gradcheck', () => {
  const twoSteps = (sizes: CellSizes, kind: Kind): Tensor[] => {
    const [x, ...rest] = inputsOf(kind, { ...sizes, T: 2 });
    const BD = sizes.B * sizes.D;
    return [new Tensor(x!.data.slice(0, BD), [sizes.B, sizes.D]), new Tensor(x!.data.slice(BD), [sizes.B, sizes.D]), ...rest];
  };
  it('mlstmStep: outputs out (masked) and the unmasked state', () => {
    fc.assert(
      fc.property(cellSizesArb, pArb, (sizes, p) => {
        const mask = randomMask(new Rng(sizes.seed + 2), sizes.B, sizes.H, p);
        gradcheck(
          (tape, xA, xB, h, c, wmx, wmh, whx, whm, bias) => {
            const w = { wmx: wmx!, wmh: wmh!, whx: whx!, whm: whm!, bias: bias! };
            const s1 = mlstmStep(tape, xA!, h!, c!, w, mask);
            const s2 = mlstmStep(tape, xB!, s1.h, s1.c, w, mask);
            return pack(tape, s1.out, s2.out, s2.h, s2.c);
          },
          twoSteps(sizes, 'mlstm'),
          TOL,
        );
      }),
      RUNS,
    );
  });
  it('lstmStep', () => {
    fc.assert(
      fc.property(cellSizesArb, pArb, (sizes, p) => {
        const mask = randomMask(new Rng(sizes.seed + 3), sizes.B, sizes.H, p);
        gradcheck(
          (tape, xA, xB, h, c, wx, wh, bias) => {
            const w = { wx: wx!, wh: wh!, bias: bias! };
            const s1 = lstmStep(tape, xA!, h!, c!, w, mask);
            const s2 = lstmStep(tape, xB!, s1.h, s1.c, w, mask);
            return pack(tape, s1.out, s2.out, s2.h, s2.c);
          },
          twoSteps(sizes, 'lstm'),
          TOL,
        );
      }),
      RUNS,
    );
  });
  it('mrnnStep', () => {
    fc.assert(
      fc.property(cellSizesArb, pArb, (sizes, p) => {
        const mask = randomMask(new Rng(sizes.seed + 4), sizes.B, sizes.H, p);
        gradcheck(
          (tape, xA, xB, h, wmx, wmh, whx, whm, bias) => {
            const w = { wmx: wmx!, wmh: wmh!, whx: whx!, whm: whm!, bias: bias! };
            const s1 = mrnnStep(tape, xA!, h!, w, mask);
            const s2 = mrnnStep(tape, xB!, s1.h, w, mask);
            return pack(tape, s1.out, s2.out, s2.h);
          },
          twoSteps(sizes, 'mrnn'),
          TOL,
        );
      }),
      RUNS,
    );
  });
});

/** Values and gradients of every input for one upstream gradient through `outs`. */
function valuesAndGrads(inputs: Tensor[], run: (tape: Tape, v: Var[]) => Var[], seed: number): { values: number[]; grads: number[][] } {
  const tape = new Tape();
  const v = inputs.map((t) => new Var(t.clone(), { requiresGrad: true }));
  const outs = run(tape, v);
  const root = pack(tape, ...outs);
  const upstream = randn(new Rng(seed), root.shape);
  tape.backward(root, upstream);
  return { values: Array.from(root.data), grads: v.map((x) => Array.from(x.grad!.data)) };
}

function expectClose(a: readonly number[], b: readonly number[], what: string): void {
  expect(a.length, what).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / (1 + Math.abs(b[i]!)));
  expect(worst, what).toBeLessThan(SAME);
}

describe('hidden dropout: the fused ops equal plain ops with the same explicit mask', () => {
  for (const kind of KINDS) {
    it(`${kind}: outputs and every input gradient`, () => {
      fc.assert(
        fc.property(cellSizesArb, pArb, (sizes, p) => {
          const inputs = inputsOf(kind, sizes);
          const mask = randomMask(new Rng(sizes.seed + 5), sizes.B, sizes.H, p);
          const a = valuesAndGrads(inputs, (tape, v) => outputs(fused(kind, tape, v, mask)), sizes.seed);
          const b = valuesAndGrads(inputs, (tape, v) => outputs(reference(kind, tape, v, tape.constant(mask))), sizes.seed);
          expectClose(a.values, b.values, 'values');
          a.grads.forEach((g, i) => expectClose(g, b.grads[i]!, `gradient of input ${i}`));
        }),
        RUNS,
      );
    });

    it(`${kind}: a mask of ones is no mask, bit for bit`, () => {
      const sizes = { T: 4, B: 3, D: 5, H: 6, seed: 11 };
      const inputs = inputsOf(kind, sizes);
      const ones = zeros([3, 6], 'float64');
      ones.data.fill(1);
      const a = valuesAndGrads(inputs, (tape, v) => outputs(fused(kind, tape, v, ones)), 3);
      const b = valuesAndGrads(inputs, (tape, v) => outputs(fused(kind, tape, v, null)), 3);
      expect(a.values).toEqual(b.values);
      expect(a.grads).toEqual(b.grads);
    });
  }

  it('hs are M ⊙ h_t (a dropped unit is 0 at every step), while hT and cT are the unmasked state', () => {
    const [T, B, H] = [3, 2, 4];
    const inputs = inputsOf('mlstm', { T, B, D: 3, H, seed: 5 });
    const mask = randomMask(new Rng(1), B, H, 0.5);
    mask.data[1] = 0; // one dropped unit for certain
    mask.data[2] = 2;
    const tape = new Tape();
    const [x, h0, c0, wmx, wmh, whx, whm, bias] = inputs.map((t) => tape.constant(t)) as Var[];
    const r = mlstmSequence(tape, x!, h0!, c0!, { wmx: wmx!, wmh: wmh!, whx: whx!, whm: whm!, bias: bias! }, mask);
    for (let t = 0; t < T; t++) expect(Math.abs(r.hs.data[t * B * H + 1]!)).toBe(0);
    const last = r.hs.data.subarray((T - 1) * B * H);
    for (let k = 0; k < B * H; k++) expect(last[k]).toBe(mask.data[k]! * r.state.h.data[k]!);
    expect(Array.from(r.state.c!.data)).toEqual(Array.from(r.cs.data.subarray((T - 1) * B * H)));
    expect(r.state.h.data[1]).not.toBe(0);
  });

  it('a mask of the wrong shape is one clear error naming the op', () => {
    const [x, h0, c0, wmx, wmh, whx, whm, bias] = inputsOf('mlstm', { T: 2, B: 2, D: 3, H: 4, seed: 1 }).map((t) => new Var(t));
    expect(() =>
      mlstmSequence(new Tape(), x!, h0!, c0!, { wmx: wmx!, wmh: wmh!, whx: whx!, whm: whm!, bias: bias! }, zeros([2, 3])),
    ).toThrow(new ShapeError('mlstmSequence: hiddenMask must be [B,H] = [2,4] like the state, got [2,3]'));
  });
});
