import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { jsBackendBase } from './support/counting-backend.js';
import { Rng } from '../src/tensor/rng.js';
import { Tensor, zeros } from '../src/tensor/tensor.js';
import { Tape } from '../src/autograd/tape.js';
import type { Backend, GemmArgs } from '../src/tensor/backend.js';
import { gemmNaive } from '../src/tensor/kernels/gemm-naive.js';
import { mlstmSequence, type MLSTMWeights } from '../src/nn/functional/mlstm.js';
import { lstmSequence } from '../src/nn/functional/lstm.js';
import { mrnnSequence } from '../src/nn/functional/mrnn.js';
import { weightNorm } from '../src/nn/functional/weight-norm.js';
import { createCell, LSTMCell, MLSTMCell, MRNNCell, type CellKind } from '../src/nn/cells/index.js';
import { initFanIn, initForgetBias, initOrthogonal } from '../src/nn/init.js';
import { cellSizesArb, maxRelDiff, pack, randn } from './cells-support.js';

/*
 * The cell modules' contract (names, order, shapes, init), the initialisers, the sequence ops'
 * edge paths (no recording, constant state, repeated forward before backward, T = 0, mixed dtypes)
 * and their error messages.
 */

describe('cell parameters: contract names, order and shapes', () => {
  const D = 3;
  const H = 5;
  const table: [string, () => { namedParameters(): [string, { shape: readonly number[] }][] }, [string, number[]][]][] = [
    [
      'mlstm',
      () => new MLSTMCell({ inputSize: D, hiddenSize: H, rng: new Rng(1) }),
      [
        ['wmx', [H, D]],
        ['wmh', [H, H]],
        ['whx', [4 * H, D]],
        ['whm', [4 * H, H]],
        ['bias', [4 * H]],
      ],
    ],
    [
      'mlstm_wn',
      () => new MLSTMCell({ inputSize: D, hiddenSize: H, rng: new Rng(1), weightNorm: true }),
      [
        ['wmx.v', [H, D]],
        ['wmx.g', [H]],
        ['wmh.v', [H, H]],
        ['wmh.g', [H]],
        ['whx.v', [4 * H, D]],
        ['whx.g', [4 * H]],
        ['whm.v', [4 * H, H]],
        ['whm.g', [4 * H]],
        ['bias', [4 * H]],
      ],
    ],
    [
      'lstm',
      () => new LSTMCell({ inputSize: D, hiddenSize: H, rng: new Rng(1) }),
      [
        ['wx', [4 * H, D]],
        ['wh', [4 * H, H]],
        ['bias', [4 * H]],
      ],
    ],
    [
      'mrnn',
      () => new MRNNCell({ inputSize: D, hiddenSize: H, rng: new Rng(1) }),
      [
        ['wmx', [H, D]],
        ['wmh', [H, H]],
        ['whx', [H, D]],
        ['whm', [H, H]],
        ['bias', [H]],
      ],
    ],
  ];
  for (const [kind, make, expected] of table) {
    it(kind, () => {
      expect(
        make()
          .namedParameters()
          .map(([n, p]) => [n, [...p.shape]]),
      ).toEqual(expected);
    });
  }
});

describe('cell initialisation', () => {
  it('is deterministic given the seed, and differs between seeds', () => {
    const values = (seed: number): number[] =>
      new MLSTMCell({ inputSize: 4, hiddenSize: 6, rng: new Rng(seed) }).parameters().flatMap((p) => [...p.data]);
    expect(values(3)).toEqual(values(3));
    expect(values(3)).not.toEqual(values(4));
  });

  it('defaults to Uniform(±1/√H) with the forget-gate bias block at 1 (mLSTM, LSTM), none for the mRNN', () => {
    const H = 16;
    for (const kind of ['mlstm', 'lstm', 'mrnn'] as CellKind[]) {
      const cell = createCell(kind, { inputSize: 9, hiddenSize: H, rng: new Rng(5) });
      const bound = 1 / Math.sqrt(H);
      for (const [name, p] of cell.namedParameters()) {
        const data = [...p.data];
        if (name === 'bias' && kind !== 'mrnn') {
          expect(data.slice(H, 2 * H)).toEqual(new Array(H).fill(1));
          data.splice(H, H);
        }
        expect(Math.max(...data.map(Math.abs)), `${kind}.${name}`).toBeLessThanOrEqual(bound);
        // Not degenerate: a uniform sample of this size spans most of the interval.
        expect(Math.max(...data) - Math.min(...data), `${kind}.${name}`).toBeGreaterThan(bound);
      }
    }
  });

  it('weight norm starts with g = ‖v_row‖, so the effective weights equal v', () => {
    const cell = new MLSTMCell({ inputSize: 4, hiddenSize: 3, rng: new Rng(2), weightNorm: true });
    const w = cell.weights(new Tape());
    const params = new Map(cell.namedParameters());
    for (const name of ['wmx', 'wmh', 'whx', 'whm'] as const)
      expect(maxRelDiff(w[name].data, params.get(`${name}.v`)!.data)).toBeLessThan(1e-6);
  });

  it('init options: forgetBias null keeps the drawn block, zero biases, custom and orthogonal matrices', () => {
    const cell = new LSTMCell({
      inputSize: 2,
      hiddenSize: 3,
      rng: new Rng(0),
      init: { bias: 'zeros', forgetBias: null, input: (t) => t.data.fill(0.25), recurrent: 'orthogonal' },
    });
    const p = new Map(cell.namedParameters());
    expect([...p.get('bias')!.data]).toEqual(new Array(12).fill(0));
    expect([...p.get('wx')!.data]).toEqual(new Array(24).fill(0.25));
    expectOrthonormal(p.get('wh')!.value, 1e-6); // float32 storage rounds at ~1e-7
  });
});

function expectOrthonormal(t: Tensor, tol: number): void {
  const [rows, cols] = t.shape as [number, number];
  const tall = rows >= cols;
  const k = tall ? cols : rows;
  for (let a = 0; a < k; a++) {
    for (let b = 0; b < k; b++) {
      let dot = 0;
      for (let i = 0; i < (tall ? rows : cols); i++) dot += tall ? t.get(i, a) * t.get(i, b) : t.get(a, i) * t.get(b, i);
      expect(Math.abs(dot - (a === b ? 1 : 0)), `${a},${b} of ${rows}x${cols}`).toBeLessThan(tol);
    }
  }
}

describe('initialisers', () => {
  it('initOrthogonal: orthonormal columns (tall) or rows (wide), times gain', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 0, max: 1000 }),
        (rows, cols, seed) => {
          const t = initOrthogonal(zeros([rows, cols], 'float64'), new Rng(seed));
          expectOrthonormal(t, 1e-12);
          const g = initOrthogonal(zeros([rows, cols], 'float64'), new Rng(seed), 2);
          expect(
            maxRelDiff(
              g.data,
              t.data.map((v) => 2 * v),
            ),
          ).toBe(0);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('initFanIn: sample std ≈ gain/√fan_in (fan_in = columns)', () => {
    const t = initFanIn(zeros([300, 400], 'float64'), new Rng(9), 2);
    let ss = 0;
    for (const v of t.data) ss += v * v;
    expect(Math.sqrt(ss / t.size) / (2 / Math.sqrt(400))).toBeCloseTo(1, 1);
  });

  it('initForgetBias sets exactly the f block and checks the size', () => {
    const b = initForgetBias(zeros([8]), 2, 3);
    expect([...b.data]).toEqual([0, 0, 3, 3, 0, 0, 0, 0]);
    expect(() => initForgetBias(zeros([7]), 2)).toThrow(/initForgetBias.*\[8\].*\[7\]/);
  });
});

function smallMLSTM(tape: Tape, seed: number, T = 3, B = 2, D = 3, H = 4) {
  const rng = new Rng(seed);
  const w: MLSTMWeights = {
    wmx: tape.leaf(randn(rng, [H, D], 0.6)),
    wmh: tape.leaf(randn(rng, [H, H], 0.6)),
    whx: tape.leaf(randn(rng, [4 * H, D], 0.6)),
    whm: tape.leaf(randn(rng, [4 * H, H], 0.6)),
    bias: tape.leaf(randn(rng, [4 * H], 0.5)),
  };
  return { w, x: randn(rng, [T, B, D]), h0: randn(rng, [B, H], 0.5), c0: randn(rng, [B, H], 0.5), up: randn(rng, [T, B, H]) };
}

const grads = (w: MLSTMWeights): number[] => Object.values(w).flatMap((v) => [...v.grad!.data]);

describe('sequence ops: recording paths and edge cases', () => {
  it('a forward under noGrad (one-row workspaces) computes the same values as a recorded one', () => {
    const tape = new Tape();
    const { w, x, h0, c0 } = smallMLSTM(tape, 1);
    const rec = mlstmSequence(tape, tape.leaf(x), tape.leaf(h0), tape.leaf(c0), w);
    const free = tape.noGrad(() => mlstmSequence(tape, tape.constant(x), tape.constant(h0), tape.constant(c0), w));
    expect(free.hs.requiresGrad).toBe(false);
    expect([...free.hs.data]).toEqual([...rec.hs.data]);
    expect([...free.ms.data]).toEqual([...rec.ms.data]);
    expect([...free.state.c!.data]).toEqual([...rec.state.c!.data]);
  });

  it('two forwards before one backward each keep their own buffers (grads add up)', () => {
    const one = (seedX: number): number[] => {
      const tape = new Tape();
      const { w, h0, c0, up } = smallMLSTM(tape, 2);
      const x = randn(new Rng(seedX), [3, 2, 3]);
      tape.backward(mlstmSequence(tape, tape.constant(x), tape.constant(h0), tape.constant(c0), w).hs, up);
      return grads(w);
    };
    const tape = new Tape();
    const { w, h0, c0, up } = smallMLSTM(tape, 2);
    const a = mlstmSequence(tape, tape.constant(randn(new Rng(10), [3, 2, 3])), tape.constant(h0), tape.constant(c0), w);
    const b = mlstmSequence(tape, tape.constant(randn(new Rng(11), [3, 2, 3])), tape.constant(h0), tape.constant(c0), w);
    tape.backward(pack(tape, a.hs, b.hs), new Tensor(Float64Array.from([...up.data, ...up.data]), [2 * up.size]));
    const [g10, g11] = [one(10), one(11)];
    const sum = g10.map((v, i) => v + g11[i]!);
    expect(maxRelDiff(grads(w), sum)).toBeLessThan(1e-12);
  });

  it('a constant initial state gives the same weight gradients as a differentiated one', () => {
    const run = (stateIsLeaf: boolean): number[] => {
      const tape = new Tape();
      const { w, x, h0, c0, up } = smallMLSTM(tape, 3);
      const mk = (t: Tensor) => (stateIsLeaf ? tape.leaf(t) : tape.constant(t));
      tape.backward(mlstmSequence(tape, tape.constant(x), mk(h0), mk(c0), w).hs, up);
      return grads(w);
    };
    expect(run(false)).toEqual(run(true));
  });

  it('T = 0: no steps, the final state is the initial one and its gradient passes straight through', () => {
    const tape = new Tape();
    const { w, h0, c0 } = smallMLSTM(tape, 4);
    const h = tape.leaf(h0);
    const c = tape.leaf(c0);
    const r = mlstmSequence(tape, tape.constant(zeros([0, 2, 3], 'float64')), h, c, w);
    expect(r.hs.shape).toEqual([0, 2, 4]);
    expect([...r.state.h.data]).toEqual([...h0.data]);
    const up = randn(new Rng(0), [2 * 4 + 2 * 4]);
    tape.backward(pack(tape, r.state.h, r.state.c!), up);
    expect([...h.grad!.data, ...c.grad!.data]).toEqual([...up.data]);
  });

  it('float32 x with float64 weights computes in float64', () => {
    const tape = new Tape();
    const { w, x, h0, c0 } = smallMLSTM(tape, 5);
    const r = mlstmSequence(tape, tape.constant(x.astype('float32')), tape.constant(h0), tape.constant(c0), w);
    expect(r.hs.value.dtype).toBe('float64');
    expect(r.ms.dtype).toBe('float64');
  });
});

/** A backend that refuses any gemm reaching outside its buffers or writing C over A or B (a fast kernel may assume both). */
function checkingBackend(calls: GemmArgs[]): Backend {
  const extent = (off: number, rows: number, cols: number, ld: number): [number, number] => [
    off,
    rows === 0 || cols === 0 ? off : off + (rows - 1) * ld + cols,
  ];
  return {
    name: 'checking',
    ...jsBackendBase,
    gemm(p: GemmArgs): void {
      const { m, n, k } = p;
      const ta = p.transA ?? false;
      const tb = p.transB ?? false;
      const [aRows, aCols] = ta ? [k, m] : [m, k];
      const [bRows, bCols] = tb ? [n, k] : [k, n];
      const spans: [string, Float32Array | Float64Array, [number, number]][] = [
        ['A', p.a, extent(p.aOffset ?? 0, aRows, aCols, p.lda ?? aCols)],
        ['B', p.b, extent(p.bOffset ?? 0, bRows, bCols, p.ldb ?? bCols)],
        ['C', p.c, extent(p.cOffset ?? 0, m, n, p.ldc ?? n)],
      ];
      for (const [name, buf, [lo, hi]] of spans)
        if (lo < 0 || hi > buf.length) throw new Error(`gemm ${name} [${lo},${hi}) outside a buffer of ${buf.length}`);
      if (p.bias && (p.biasOffset ?? 0) + n > p.bias.length) throw new Error('gemm bias out of range');
      for (const [name, buf] of [
        ['A', p.a],
        ['B', p.b],
      ] as const)
        if (buf.buffer === p.c.buffer) throw new Error(`gemm C shares storage with ${name}`);
      calls.push(p);
      gemmNaive(p);
    },
  };
}

describe('sequence ops issue only in-bounds, non-aliasing gemms', () => {
  it('forward and backward of every cell, random sizes', () => {
    fc.assert(
      fc.property(cellSizesArb, ({ T, B, D, H, seed }) => {
        const calls: GemmArgs[] = [];
        const tape = new Tape({ backend: checkingBackend(calls) });
        const rng = new Rng(seed);
        const leaf = (shape: number[]) => tape.leaf(randn(rng, shape, 0.5));
        const [x, h0, c0] = [leaf([T, B, D]), leaf([B, H]), leaf([B, H])];
        const m = mlstmSequence(tape, x, h0, c0, {
          wmx: leaf([H, D]),
          wmh: leaf([H, H]),
          whx: leaf([4 * H, D]),
          whm: leaf([4 * H, H]),
          bias: leaf([4 * H]),
        });
        const l = lstmSequence(tape, x, h0, c0, { wx: leaf([4 * H, D]), wh: leaf([4 * H, H]), bias: leaf([4 * H]) });
        const r = mrnnSequence(tape, x, h0, {
          wmx: leaf([H, D]),
          wmh: leaf([H, H]),
          whx: leaf([H, D]),
          whm: leaf([H, H]),
          bias: leaf([H]),
        });
        const out = pack(tape, m.hs, m.state.c!, l.hs, l.state.c!, r.hs);
        tape.backward(out, randn(rng, [out.size]));
        expect(calls.length).toBeGreaterThan(0);
      }),
      { numRuns: 40 },
    );
  });
});

describe('errors name the op, the argument and the shapes', () => {
  const tape = new Tape();
  const { w, x, h0, c0 } = smallMLSTM(tape, 6);
  const v = (t: Tensor) => tape.constant(t);
  it('x of the wrong rank or batch', () => {
    expect(() => mlstmSequence(tape, v(zeros([2, 3])), v(h0), v(c0), w)).toThrow(/mlstmSequence: x must be \[T,B,D\].*\[2,3\]/);
    expect(() => mlstmSequence(tape, v(x), v(zeros([3, 4])), v(c0), w)).toThrow(/mlstmSequence: h0 must be \[B,H\] with B=2.*\[3,4\]/);
    expect(() => mlstmSequence(tape, v(x), v(h0), v(zeros([2, 5])), w)).toThrow(
      /mlstmSequence: c0 must have the shape of h0 \[2,4\], got \[2,5\]/,
    );
  });
  it('a weight of the wrong shape', () => {
    expect(() => mlstmSequence(tape, v(x), v(h0), v(c0), { ...w, whm: v(zeros([4, 4])) })).toThrow(
      /mlstmSequence: weight 'whm' has shape \[4,4\] but \[4H,H\] with H=4, D=3 = \[16,4\]/,
    );
    expect(() => lstmSequence(tape, v(x), v(h0), v(c0), { wx: v(zeros([16, 2])), wh: v(zeros([16, 4])), bias: v(zeros([16])) })).toThrow(
      /lstmSequence: weight 'wx'.*\[16,2\].*\[16,3\]/,
    );
  });
  it('cells: wrong input size, missing c, foreign weights, bad sizes and kinds', () => {
    const cell = new MLSTMCell({ inputSize: 3, hiddenSize: 4, rng: new Rng(0) });
    const s = cell.zeroState(2);
    expect(s.h.shape).toEqual([2, 4]);
    expect(s.h.requiresGrad).toBe(false);
    expect(() => cell.forward(tape, v(zeros([5, 2, 7])), s)).toThrow(/MLSTMCell.forward: x must be \[T,B,3\].*\[5,2,7\]/);
    expect(() => cell.forward(tape, v(zeros([5, 2, 3])), { h: s.h, c: null })).toThrow(/MLSTMCell.forward: .*cell state c/);
    const lstm = new LSTMCell({ inputSize: 3, hiddenSize: 4, rng: new Rng(0) });
    expect(() => cell.step(tape, v(zeros([2, 3])), s, lstm.weights(tape))).toThrow(/MLSTMCell.step: weights of another cell kind/);
    expect(new MRNNCell({ inputSize: 3, hiddenSize: 4, rng: new Rng(0) }).zeroState(2).c).toBeNull();
    expect(() => new MLSTMCell({ inputSize: 0, hiddenSize: 4, rng: new Rng(0) })).toThrow(/MLSTMCell: inputSize and hiddenSize/);
    expect(() => cell.zeroState(0)).toThrow(/zeroState: batch/);
    expect(() => createCell('lstm', { inputSize: 1, hiddenSize: 1, rng: new Rng(0), weightNorm: true })).toThrow(
      /createCell: weight norm is only defined for the mlstm/,
    );
    expect(() => createCell('gru' as CellKind, { inputSize: 1, hiddenSize: 1, rng: new Rng(0) })).toThrow(
      /createCell: unknown cell kind 'gru'/,
    );
  });
  it('weightNorm: zero row and mismatched g', () => {
    expect(() => weightNorm(tape, v(zeros([2, 3])), v(zeros([2])), 'wmx')).toThrow(/weightNorm: row 0 of 'wmx.v' \[2,3\] has norm 0/);
    expect(() => weightNorm(tape, v(zeros([2, 3])), v(zeros([3])), 'whm')).toThrow(/weightNorm: 'whm.g' must be \[rows\] = \[2\].*\[3\]/);
  });
});
