import { describe, expect, it } from 'vitest';
import { jsBackendBase } from './support/counting-backend.js';
import type { Backend, GemmArgs, PreparedB } from '../src/tensor/backend.js';
import { Rng } from '../src/tensor/rng.js';
import { Tensor } from '../src/tensor/tensor.js';
import { blockedBackend } from '../src/tensor/kernels/index.js';
import { Tape } from '../src/autograd/tape.js';
import type { Var } from '../src/autograd/var.js';
import { lstmSequence } from '../src/nn/functional/lstm.js';
import { mlstmSequence } from '../src/nn/functional/mlstm.js';
import { mrnnSequence } from '../src/nn/functional/mrnn.js';

/*
 * The recurrent ops pack each time loop's weight once (withLoopWeight → Backend.prepareB) and hand
 * it back after the loop (releaseLoopWeights → Backend.releaseB). A counting Backend wrapper checks
 * that every per-step product (the [B,·] ones inside the loops) carries its prepared weight, in the
 * forward and in the backward sweep, that every prepared weight is released exactly once, and that
 * none is used after its release. (Until issue 12, the backward loops released their weights
 * inside the loop, so only their first step used the packed operand: 2 of 19 products at T = 10.)
 */

class CountingBackend implements Backend {
  readonly name = 'counting';
  readonly describe = jsBackendBase.describe;
  readonly recurrent = jsBackendBase.recurrent;
  readonly close = jsBackendBase.close;
  perStep = 0;
  perStepPrepared = 0;
  prepared = 0;
  released = 0;
  private readonly dead = new Set<PreparedB>();
  usedAfterRelease = 0;

  constructor(private readonly B: number) {}

  gemm(args: GemmArgs): void {
    if (args.m === this.B) {
      this.perStep++;
      if (args.packedB !== undefined) this.perStepPrepared++;
    }
    if (args.packedB !== undefined && this.dead.has(args.packedB)) this.usedAfterRelease++;
    blockedBackend.gemm(args);
  }

  prepareB(args: Parameters<NonNullable<Backend['prepareB']>>[0]): PreparedB {
    this.prepared++;
    return blockedBackend.prepareB!(args);
  }

  releaseB(prepared: PreparedB): void {
    this.released++;
    this.dead.add(prepared);
  }
}

type Kind = 'mlstm' | 'lstm' | 'mrnn';

function run(kind: Kind, backend: Backend, T: number, B: number, needH0: boolean): void {
  const rng = new Rng(3);
  const D = 5,
    H = 6;
  const tape = new Tape({ backend });
  const t = (shape: number[], requiresGrad = true): Var => {
    const x = new Tensor(new Float32Array(shape.reduce((p, q) => p * q, 1)), shape);
    rng.fillNormal(x.data, 0, 0.4);
    return requiresGrad ? tape.leaf(x) : tape.constant(x);
  };
  const x = t([T, B, D]);
  const h0 = t([B, H], needH0);
  const c0 = t([B, H], needH0);
  let hs: Var;
  if (kind === 'lstm') hs = lstmSequence(tape, x, h0, c0, { wx: t([4 * H, D]), wh: t([4 * H, H]), bias: t([4 * H]) }).hs;
  else {
    const G = kind === 'mlstm' ? 4 * H : H;
    const w = { wmx: t([H, D]), wmh: t([H, H]), whx: t([G, D]), whm: t([G, H]), bias: t([G]) };
    hs = kind === 'mlstm' ? mlstmSequence(tape, x, h0, c0, w).hs : mrnnSequence(tape, x, h0, w).hs;
  }
  tape.backward(hs, new Tensor(new Float32Array(T * B * H).fill(1), [T, B, H]));
}

describe('time loops use their prepared weights at every step, and release them once', () => {
  // Per-step products: forward (mLSTM, mRNN: HM_t and z_t; LSTM: z_t), backward (dm_t and dh_{t−1}; LSTM: dh_{t−1}),
  // where dh_{−1} is computed only when h0 needs a gradient.
  const perStep = (kind: Kind, T: number, needH0: boolean): number => {
    const dh = needH0 ? T : T - 1;
    return kind === 'lstm' ? T + dh : 2 * T + T + dh;
  };

  for (const kind of ['mlstm', 'lstm', 'mrnn'] as const) {
    for (const needH0 of [false, true]) {
      it(`${kind}, T = 10${needH0 ? ', h0 needing a gradient' : ''}: every per-step product carries packedB`, () => {
        const T = 10;
        const backend = new CountingBackend(3);
        run(kind, backend, T, 3, needH0);
        expect(backend.perStep).toBe(perStep(kind, T, needH0));
        expect(backend.perStepPrepared).toBe(backend.perStep);
        expect(backend.prepared).toBe(kind === 'lstm' ? 2 : 4);
        expect(backend.released).toBe(backend.prepared);
        expect(backend.usedAfterRelease).toBe(0);
      });
    }
  }

  it('a single step prepares nothing (packing would only add a copy)', () => {
    const backend = new CountingBackend(3);
    run('mlstm', backend, 1, 3, true);
    expect(backend.prepared).toBe(0);
    expect(backend.perStepPrepared).toBe(0);
  });
});
