import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { jsBackendBase } from './support/counting-backend.js';
import { Tape } from '../src/autograd/tape.js';
import type { Backend, PreparedB } from '../src/tensor/backend.js';
import { blockedBackend } from '../src/tensor/kernels/index.js';
import type { Var } from '../src/autograd/var.js';
import { Rng } from '../src/tensor/rng.js';
import { ones, type Tensor } from '../src/tensor/tensor.js';
import { lstmSequence, lstmStep } from '../src/nn/functional/lstm.js';
import { mlstmSequence, mlstmStep } from '../src/nn/functional/mlstm.js';
import { mrnnSequence, mrnnStep } from '../src/nn/functional/mrnn.js';
import { cellSizesArb, pack, randn, type CellSizes } from './cells-support.js';

/*
 * The fused recurrent ops reuse forward storage in their backward (∂L/∂z is written over z), keep their
 * time loops' buffers in the tape's workspace, and hand out hs / cs / ms as copies of them. These tests pin
 * down that this is invisible: a backward run again on a retained graph (Tape.backward with retainGraph)
 * must not read anything the previous run left behind, and the outputs keep their values when the
 * workspace's buffers serve the next window.
 */

const RUNS = { numRuns: 40 };

/** One fused op applied to fresh float64 leaves: its leaves and its differentiable outputs. */
interface Applied {
  leaves: Var[];
  outputs: Var[];
}

type Build = (tape: Tape, s: CellSizes) => Applied;

function leavesOf(tape: Tape, rng: Rng, shapes: number[][]): Var[] {
  return shapes.map((shape) => tape.leaf(randn(rng, shape, 0.7)));
}

const OPS: Record<string, Build> = {
  mlstmSequence: (tape, { T, B, D, H, seed }) => {
    const l = leavesOf(tape, new Rng(seed), [[T, B, D], [B, H], [B, H], [H, D], [H, H], [4 * H, D], [4 * H, H], [4 * H]]);
    const r = mlstmSequence(tape, l[0]!, l[1]!, l[2]!, { wmx: l[3]!, wmh: l[4]!, whx: l[5]!, whm: l[6]!, bias: l[7]! });
    return { leaves: l, outputs: [r.hs, r.state.h, r.state.c!] };
  },
  mlstmStep: (tape, { B, D, H, seed }) => {
    const l = leavesOf(tape, new Rng(seed), [[B, D], [B, H], [B, H], [H, D], [H, H], [4 * H, D], [4 * H, H], [4 * H]]);
    const r = mlstmStep(tape, l[0]!, l[1]!, l[2]!, { wmx: l[3]!, wmh: l[4]!, whx: l[5]!, whm: l[6]!, bias: l[7]! });
    return { leaves: l, outputs: [r.h, r.c] };
  },
  lstmSequence: (tape, { T, B, D, H, seed }) => {
    const l = leavesOf(tape, new Rng(seed), [[T, B, D], [B, H], [B, H], [4 * H, D], [4 * H, H], [4 * H]]);
    const r = lstmSequence(tape, l[0]!, l[1]!, l[2]!, { wx: l[3]!, wh: l[4]!, bias: l[5]! });
    return { leaves: l, outputs: [r.hs, r.state.h, r.state.c!] };
  },
  lstmStep: (tape, { B, D, H, seed }) => {
    const l = leavesOf(tape, new Rng(seed), [[B, D], [B, H], [B, H], [4 * H, D], [4 * H, H], [4 * H]]);
    const r = lstmStep(tape, l[0]!, l[1]!, l[2]!, { wx: l[3]!, wh: l[4]!, bias: l[5]! });
    return { leaves: l, outputs: [r.h, r.c] };
  },
  mrnnSequence: (tape, { T, B, D, H, seed }) => {
    const l = leavesOf(tape, new Rng(seed), [[T, B, D], [B, H], [H, D], [H, H], [H, D], [H, H], [H]]);
    const r = mrnnSequence(tape, l[0]!, l[1]!, { wmx: l[2]!, wmh: l[3]!, whx: l[4]!, whm: l[5]!, bias: l[6]! });
    return { leaves: l, outputs: [r.hs, r.state.h] };
  },
  mrnnStep: (tape, { B, D, H, seed }) => {
    const l = leavesOf(tape, new Rng(seed), [[B, D], [B, H], [H, D], [H, H], [H, D], [H, H], [H]]);
    const r = mrnnStep(tape, l[0]!, l[1]!, { wmx: l[2]!, wmh: l[3]!, whx: l[4]!, whm: l[5]!, bias: l[6]! });
    return { leaves: l, outputs: [r.h] };
  },
};

const gradsOf = (leaves: readonly Var[]): number[][] => leaves.map((v) => Array.from(v.grad!.data));

describe('fused recurrent ops: a second backward over a retained graph reads nothing stale', () => {
  for (const [name, build] of Object.entries(OPS)) {
    it(`${name}: run 2 adds exactly what run 1 did, run 3 from zero reproduces run 1 bit for bit`, () => {
      fc.assert(
        fc.property(cellSizesArb, (sizes) => {
          const tape = new Tape();
          const { leaves, outputs } = build(tape, sizes);
          const out = pack(tape, ...outputs); // every output carries a gradient
          const upstream: Tensor = randn(new Rng(sizes.seed ^ 0x5eed), [out.size]);
          const nonLeaves = [out, ...outputs];
          tape.backward(out, upstream, { retainGraph: true });
          const once = gradsOf(leaves);

          // Run 2 from the same output gradients (the non-leaf grads reset, the leaves' kept):
          // by linearity every leaf gradient doubles.
          for (const v of nonLeaves) v.zeroGrad();
          tape.backward(out, upstream, { retainGraph: true });
          const twice = gradsOf(leaves);
          once.forEach((g, i) =>
            g.forEach((v, k) => expect(Math.abs(twice[i]![k]! - 2 * v)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(v)))),
          );

          // Run 3 from all-zero gradients: identical to run 1 unless a reused buffer was read before
          // being rewritten (run 1 found the forward's values there, run 3 finds run 2's).
          for (const v of [...nonLeaves, ...leaves]) v.zeroGrad();
          tape.backward(out, upstream, { retainGraph: true });
          expect(gradsOf(leaves)).toEqual(once);
        }),
        RUNS,
      );
    });
  }
});

describe('fused recurrent ops: output storage', () => {
  it('hs, cs and ms are copies that keep their values when the next window reuses the workspace buffers', () => {
    fc.assert(
      fc.property(cellSizesArb, (sizes) => {
        const { T, B, D, H, seed } = sizes;
        const tape = new Tape();
        const rng = new Rng(seed);
        const shapes = [[T, B, D], [B, H], [B, H], [H, D], [H, H], [4 * H, D], [4 * H, H], [4 * H]];
        const run = (l: Var[]) => mlstmSequence(tape, l[0]!, l[1]!, l[2]!, { wmx: l[3]!, wmh: l[4]!, whx: l[5]!, whm: l[6]!, bias: l[7]! });
        const r = run(leavesOf(tape, rng, shapes));
        const BH = B * H;
        const bytes = 8; // float64
        // Each output owns exactly its own elements.
        for (const t of [r.hs.value, r.cs, r.ms]) expect(t.data.buffer.byteLength).toBe(T * BH * bytes);
        expect(r.state.h.data.buffer.byteLength).toBe(BH * bytes);
        expect(r.state.c!.data.buffer.byteLength).toBe(BH * bytes);
        // The final state equals the last row of hs / cs.
        expect(Array.from(r.state.h.data)).toEqual(Array.from(r.hs.data.subarray((T - 1) * BH)));
        expect(Array.from(r.state.c!.data)).toEqual(Array.from(r.cs.data.subarray((T - 1) * BH)));
        const before = [r.hs.data, r.cs.data, r.ms.data].map((d) => Array.from(d));
        // Backward, release the graph (its buffers go back to the workspace), and run another window over them.
        tape.backward(r.hs, ones(r.hs.shape, 'float64'));
        const again = run(leavesOf(tape, new Rng(seed + 1), shapes));
        expect(again.hs.data).not.toBe(r.hs.data);
        expect([r.hs.data, r.cs.data, r.ms.data].map((d) => Array.from(d))).toEqual(before);
      }),
      { numRuns: 20 },
    );
  });

  it('the mRNN and LSTM hand out hs (and the LSTM cs) as copies of their own', () => {
    const [T, B, D, H] = [3, 2, 4, 5];
    const tape = new Tape();
    const rng = new Rng(9);
    const x = tape.leaf(randn(rng, [T, B, D]));
    const h0 = tape.leaf(randn(rng, [B, H]));
    const c0 = tape.leaf(randn(rng, [B, H]));
    const w = (rows: number, cols: number): Var => tape.leaf(randn(rng, [rows, cols], 0.4));
    const m = mrnnSequence(tape, x, h0, { wmx: w(H, D), wmh: w(H, H), whx: w(H, D), whm: w(H, H), bias: tape.leaf(randn(rng, [H])) });
    const l = lstmSequence(tape, x, h0, c0, { wx: w(4 * H, D), wh: w(4 * H, H), bias: tape.leaf(randn(rng, [4 * H])) });
    for (const t of [m.hs.value, l.hs.value, l.cs, m.ms]) {
      expect(t.data.byteOffset).toBe(0);
      expect(t.data.buffer.byteLength).toBe(T * B * H * 8);
    }
    expect(m.state.h.data.buffer.byteLength).toBe(B * H * 8);
    expect(l.state.h.data.buffer.byteLength).toBe(B * H * 8);
  });
});

describe('fused recurrent ops: workspace buffers (Tape.workspace) are reused only once their graph is gone', () => {
  const trainLike = (build: Build, sizes: CellSizes, tape: Tape): number[][] => {
    const { leaves, outputs } = build(tape, sizes);
    const out = pack(tape, ...outputs);
    tape.backward(out, randn(new Rng(sizes.seed ^ 0x5eed), [out.size]));
    return gradsOf(leaves);
  };
  for (const [name, build] of Object.entries(OPS)) {
    it(`${name}: windows on one tape give exactly the gradients of fresh tapes, even with two graphs pending at once`, () => {
      fc.assert(
        fc.property(cellSizesArb, (sizes) => {
          const other = { ...sizes, seed: sizes.seed + 1 };
          const fresh1 = trainLike(build, sizes, new Tape());
          const fresh2 = trainLike(build, other, new Tape());
          // One tape, window after window (the trainer's pattern): the second window reuses the first one's buffers.
          const tape = new Tape();
          expect(trainLike(build, sizes, tape)).toEqual(fresh1);
          expect(tape.workspace.idleStats.buffers).toBeGreaterThan(0); // given back when backward cleared the graph
          expect(trainLike(build, other, tape)).toEqual(fresh2);
          // Two graphs recorded before either runs backward: the second must not borrow the first one's buffers.
          const both = new Tape();
          const a = build(both, sizes);
          const b = build(both, other);
          const outA = pack(both, ...a.outputs),
            outB = pack(both, ...b.outputs);
          both.backward(outA, randn(new Rng(sizes.seed ^ 0x5eed), [outA.size]), { retainGraph: true });
          expect(gradsOf(a.leaves)).toEqual(fresh1);
          for (const v of [outA, ...a.outputs]) v.zeroGrad(); // so the second sweep does not run a's nodes again
          both.backward(outB, randn(new Rng(other.seed ^ 0x5eed), [outB.size]));
          expect(gradsOf(b.leaves)).toEqual(fresh2);
          // Without recording, the buffers go back at once: nothing stays on loan; and a window over the
          // previous one's buffers (handed out unzeroed where the op writes them in full) computes what a fresh tape does.
          const values = (r: Applied): number[][] => r.outputs.map((o) => Array.from(o.data));
          const quiet = new Tape();
          quiet.noGrad(() => build(quiet, sizes));
          const idle = quiet.workspace.idleStats.buffers;
          const reused = values(quiet.noGrad(() => build(quiet, other)));
          expect(quiet.workspace.idleStats.buffers).toBe(idle);
          const freshTape = new Tape();
          expect(reused).toEqual(values(freshTape.noGrad(() => build(freshTape, other))));
        }),
        { numRuns: 15 },
      );
    });
  }
});

describe('fused recurrent ops: loop weights are released (Backend.releaseB) when their loop is done', () => {
  for (const [name, build] of Object.entries(OPS).filter(([n]) => n.endsWith('Sequence'))) {
    it(`${name}: every prepareB is released exactly once, after the gemms that read it`, () => {
      fc.assert(
        fc.property(cellSizesArb, (sizes) => {
          const live = new Set<PreparedB>();
          let prepared = 0,
            released = 0;
          const counting: Backend = {
            name: 'counting',
            ...jsBackendBase,
            gemm: (args) => {
              if (args.packedB !== undefined) expect(live.has(args.packedB)).toBe(true); // never used after its release
              blockedBackend.gemm(args);
            },
            prepareB: (args) => {
              const p = blockedBackend.prepareB!(args);
              live.add(p);
              prepared++;
              return p;
            },
            releaseB: (p) => {
              expect(live.delete(p)).toBe(true); // once, and only what was prepared
              released++;
            },
          };
          const tape = new Tape({ backend: counting });
          const { outputs } = build(tape, sizes);
          const out = pack(tape, ...outputs);
          tape.backward(out, randn(new Rng(sizes.seed), [out.size]));
          tape.noGrad(() => build(tape, sizes));
          expect(released).toBe(prepared);
          expect(live.size).toBe(0);
          if (sizes.T >= 2) expect(prepared).toBeGreaterThan(0);
        }),
        { numRuns: 15 },
      );
    });
  }
});
