import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Tape as TapeClass } from '../src/autograd/tape.js';
import type { Var as VarClass } from '../src/autograd/var.js';
import type { lstmSequence as LstmSequence } from '../src/nn/functional/lstm.js';
import type { mlstmSequence as MlstmSequence } from '../src/nn/functional/mlstm.js';
import type { mrnnSequence as MrnnSequence } from '../src/nn/functional/mrnn.js';
import type { Backend, MLSTMForwardWindow } from '../src/tensor/backend.js';
import type { Rng as RngClass } from '../src/tensor/rng.js';
import type { Tensor as TensorClass } from '../src/tensor/tensor.js';
import { ensureBuilt, ROOT } from './cli-helpers.js';

/*
 * The cells' whole-window time loops (Backend.recurrentWindows; src/wasm/recurrent-window.ts) against the
 * per-step loops of nn/functional/mlstm.ts, lstm.ts and mrnn.ts on the same kernels and the same memory: the
 * outputs (hs, the final state, cs, ms) and every gradient (x, h0, c0, the weights) bit for bit, on random
 * sizes (B and H not multiples of the 4-row and 8-column tiles, size 1), with and without a hidden mask,
 * gradients into the final state or not, h0 needing one or not, and a forward that records nothing.
 * Then the threaded backend, whose parts each take some batch rows for the whole window, against the
 * single thread, on 2 and 3 threads. The compiled package (dist): worker threads run JavaScript.
 */

type Threaded = Backend & {
  close(): void;
  ready(): Promise<void>;
  drill(d: { kind: 'throw' | 'terminate' | 'stall'; worker?: number; ms?: number }): void;
};
type Wasm = Backend & { close(): void };
interface Built {
  createParallelBackend: (o: { threads: number; kernel: 'wasm' }) => Threaded;
  GemmWorkerFault: new (reason: string, threads: number) => Error & { reason: string };
  createWasmBackendSync: () => Wasm;
  Tape: typeof TapeClass;
  Var: typeof VarClass;
  Tensor: typeof TensorClass;
  Rng: typeof RngClass;
  mlstmSequence: typeof MlstmSequence;
  lstmSequence: typeof LstmSequence;
  mrnnSequence: typeof MrnnSequence;
}
let lib: Built;
const open: Wasm[] = [];

beforeAll(async () => {
  ensureBuilt();
  const load = async <T>(path: string): Promise<T> => (await import(`${ROOT}dist/${path}`)) as T;
  lib = {
    ...(await load<Pick<Built, 'createParallelBackend' | 'createWasmBackendSync' | 'GemmWorkerFault'>>('node/index.js')),
    ...(await load<Pick<Built, 'Tape'>>('autograd/tape.js')),
    ...(await load<Pick<Built, 'Var'>>('autograd/var.js')),
    ...(await load<Pick<Built, 'Tensor'>>('tensor/tensor.js')),
    ...(await load<Pick<Built, 'Rng'>>('tensor/rng.js')),
    ...(await load<Pick<Built, 'mlstmSequence'>>('nn/functional/mlstm.js')),
    ...(await load<Pick<Built, 'lstmSequence'>>('nn/functional/lstm.js')),
    ...(await load<Pick<Built, 'mrnnSequence'>>('nn/functional/mrnn.js')),
  };
}, 180_000);

afterAll(() => {
  for (const backend of open.splice(0)) backend.close();
});

/** `backend` without its whole-window loops: the nn op then runs its own per-step loop on the same kernels and memory. */
function perStep(backend: Backend): Backend {
  return {
    name: backend.name,
    describe: () => backend.describe(),
    gemm: (a) => backend.gemm(a),
    prepareB: (a) => backend.prepareB!(a),
    releaseB: (p) => backend.releaseB!(p),
    allocate: (n) => backend.allocate!(n),
    free: (x) => backend.free!(x),
    recurrent: backend.recurrent,
    close: () => {},
  };
}

/** `backend`, counting the whole-window calls it took (returned true). */
function counted(backend: Backend): { backend: Backend; taken: { forward: number; backward: number } } {
  const taken = { forward: 0, backward: 0 };
  const windows = backend.recurrentWindows!;
  return {
    taken,
    backend: {
      ...perStep(backend),
      recurrentWindows: {
        mlstmForward: (w) => (windows.mlstmForward(w) ? (taken.forward++, true) : false),
        mlstmBackward: (w) => (windows.mlstmBackward(w) ? (taken.backward++, true) : false),
        lstmForward: (w) => (windows.lstmForward(w) ? (taken.forward++, true) : false),
        lstmBackward: (w) => (windows.lstmBackward(w) ? (taken.backward++, true) : false),
        mrnnForward: (w) => (windows.mrnnForward(w) ? (taken.forward++, true) : false),
        mrnnBackward: (w) => (windows.mrnnBackward(w) ? (taken.backward++, true) : false),
      },
    },
  };
}

interface Case {
  cell: 'mlstm' | 'lstm' | 'mrnn';
  T: number;
  B: number;
  D: number;
  H: number;
  seed: number;
  mask: boolean;
  stateGrads: boolean; // gradients flow into hT and cT as well as hs
  needH0: boolean;
  record: boolean;
}

/** Everything one window computes on `backend`: its outputs, then the gradients of its leaves (empty when not recording). */
function runWindow(backend: Backend, c: Case): Float32Array[] {
  const { Tape, Tensor, Rng, mlstmSequence, lstmSequence, mrnnSequence } = lib;
  const { T, B, D, H } = c;
  const rng = new Rng(c.seed);
  const tensor = (shape: number[], std: number): TensorClass => {
    const t = new Tensor(new Float32Array(shape.reduce((p, q) => p * q, 1)), shape);
    rng.fillNormal(t.data, 0, std);
    return t;
  };
  const tape = new Tape({ backend });
  const v = (shape: number[], std: number, grad = c.record): VarClass =>
    grad ? tape.leaf(tensor(shape, std)) : tape.constant(tensor(shape, std));
  const x = v([T, B, D], 1);
  const h0 = v([B, H], 0.5, c.record && c.needH0);
  const c0 = c.cell === 'mrnn' ? null : v([B, H], 0.5); // the mRNN has no cell state
  const w =
    c.cell === 'mlstm'
      ? { wmx: v([H, D], 0.4), wmh: v([H, H], 0.4), whx: v([4 * H, D], 0.4), whm: v([4 * H, H], 0.4), bias: v([4 * H], 0.2) }
      : c.cell === 'lstm'
        ? { wx: v([4 * H, D], 0.4), wh: v([4 * H, H], 0.4), bias: v([4 * H], 0.2) }
        : { wmx: v([H, D], 0.4), wmh: v([H, H], 0.4), whx: v([H, D], 0.4), whm: v([H, H], 0.4), bias: v([H], 0.2) };
  let mask: TensorClass | null = null;
  if (c.mask) {
    mask = new Tensor(new Float32Array(B * H), [B, H]);
    for (let i = 0; i < B * H; i++) mask.data[i] = rng.uniform() < 0.3 ? 0 : 1 / 0.7;
  }
  // hs, the final state (h, and c where the cell has one), then what the op hands out for inspection
  let hs: VarClass, hT: VarClass, cT: VarClass | null;
  let inspected: ArrayLike<number>[];
  if (c.cell === 'mlstm') {
    const r = mlstmSequence(tape, x, h0, c0!, w as Parameters<typeof MlstmSequence>[4], mask);
    [hs, hT, cT, inspected] = [r.hs, r.state.h, r.state.c!, [r.cs.data, r.ms.data]];
  } else if (c.cell === 'lstm') {
    const r = lstmSequence(tape, x, h0, c0!, w as Parameters<typeof LstmSequence>[4], mask);
    [hs, hT, cT, inspected] = [r.hs, r.state.h, r.state.c!, [r.cs.data]];
  } else {
    const r = mrnnSequence(tape, x, h0, w as Parameters<typeof MrnnSequence>[3], mask);
    [hs, hT, cT, inspected] = [r.hs, r.state.h, null, [r.ms.data]];
  }
  const out = [hs.data, hT.data, ...(cT ? [cT.data] : []), ...inspected].map((d) => Float32Array.from(d));
  if (!c.record) return out;
  if (c.stateGrads) {
    hT.grad = tensor([B, H], 1);
    if (cT) cT.grad = tensor([B, H], 1);
  }
  tape.backward(hs, tensor([T, B, H], 1));
  const leaves = [x, h0, ...(c0 ? [c0] : []), ...Object.values(w)];
  return [...out, ...leaves.filter((l) => l.requiresGrad).map((l) => Float32Array.from(l.grad!.data))];
}

/** The index of the first element whose bits differ (−1: none), so a failure says where. */
function firstDifference(x: Float32Array[], y: Float32Array[]): string | null {
  if (x.length !== y.length) return `${x.length} arrays against ${y.length}`;
  for (let a = 0; a < x.length; a++) {
    if (x[a]!.length !== y[a]!.length) return `array ${a}: ${x[a]!.length} elements against ${y[a]!.length}`;
    for (let i = 0; i < x[a]!.length; i++)
      if (!Object.is(x[a]![i], y[a]![i])) return `array ${a}, element ${i}: ${x[a]![i]} against ${y[a]![i]}`;
  }
  return null;
}

const caseArb = (sizes: { T: fc.Arbitrary<number>; B: fc.Arbitrary<number>; H: fc.Arbitrary<number> }): fc.Arbitrary<Case> =>
  fc.record({
    cell: fc.constantFrom('mlstm' as const, 'lstm' as const, 'mrnn' as const),
    T: sizes.T,
    B: sizes.B,
    D: fc.integer({ min: 1, max: 6 }),
    H: sizes.H,
    seed: fc.integer({ min: 1, max: 1 << 20 }),
    mask: fc.boolean(),
    stateGrads: fc.boolean(),
    needH0: fc.boolean(),
    record: fc.oneof({ arbitrary: fc.constant(true), weight: 4 }, { arbitrary: fc.constant(false), weight: 1 }),
  });

describe("the cells' windows in one call (wasm)", () => {
  it('computes the bits of the per-step loop, outputs and gradients, on one thread', () => {
    const wasm = lib.createWasmBackendSync();
    open.push(wasm);
    const { backend, taken } = counted(wasm);
    const small = { T: fc.integer({ min: 2, max: 6 }), B: fc.integer({ min: 1, max: 13 }), H: fc.integer({ min: 1, max: 21 }) };
    fc.assert(
      fc.property(caseArb(small), (c) => {
        const before = { ...taken };
        const windowed = runWindow(backend, c);
        // The window took the forward, and the backward when there was one.
        expect(taken.forward).toBe(before.forward + 1);
        expect(taken.backward).toBe(before.backward + (c.record ? 1 : 0));
        expect(firstDifference(windowed, runWindow(perStep(wasm), c))).toBeNull();
      }),
      { numRuns: 60 },
    );
  });

  it('is declined, with nothing done, for a weight another backend prepared or a buffer outside its memory', () => {
    const wasm = lib.createWasmBackendSync();
    const other = lib.createWasmBackendSync();
    open.push(wasm, other);
    const [T, B, H] = [3, 2, 4];
    const inMemory = (n: number): Float32Array => wasm.allocate!(n).fill(0.25);
    const weight = (owner: Backend, n: number): ReturnType<NonNullable<Backend['prepareB']>> =>
      owner.prepareB!({ k: H, n, b: new Float32Array(H * n).fill(0.5), transB: false });
    const window = (over: Partial<MLSTMForwardWindow>): MLSTMForwardWindow => ({
      T,
      B,
      H,
      Hin: inMemory((T + 1) * B * H),
      Hbuf: inMemory((T + 1) * B * H),
      Cbuf: inMemory((T + 1) * B * H),
      XM: inMemory(T * B * H),
      HM: inMemory(T * B * H),
      hmStride: B * H,
      M: inMemory(T * B * H),
      Z: inMemory(T * B * 4 * H),
      S: inMemory(T * B * 5 * H),
      savedStride: B * 5 * H,
      mask: null,
      wmh: weight(wasm, H),
      whm: weight(wasm, 4 * H),
      ...over,
    });
    const declined = window({ wmh: weight(other, H) });
    expect(wasm.recurrentWindows!.mlstmForward(declined)).toBe(false);
    expect(Array.from(declined.Hbuf).every((e) => e === 0.25)).toBe(true); // untouched
    const outside = window({ M: new Float32Array(T * B * H) });
    expect(wasm.recurrentWindows!.mlstmForward(outside)).toBe(false);
    expect(Array.from(outside.Z).every((e) => e === 0.25)).toBe(true);
    // The same window with everything in place runs, and a buffer too short for its sizes is named.
    expect(wasm.recurrentWindows!.mlstmForward(window({}))).toBe(true);
    expect(() => wasm.recurrentWindows!.mlstmForward(window({ S: inMemory(T * B * 5 * H - 1) }))).toThrow(
      /mlstmForward window: S has 119 elements; T=3, B=2, H=4 need 120/,
    );
  });

  it('gives the same bits with its batch rows split between 2 and 3 threads', async () => {
    const single = lib.createWasmBackendSync();
    open.push(single);
    const threaded: Threaded[] = [];
    for (const threads of [2, 3]) {
      const t = lib.createParallelBackend({ threads, kernel: 'wasm' });
      open.push(t);
      await t.ready();
      threaded.push(t);
    }
    // Large enough to be shared (T·B·2H² ≥ 2^20 multiply-adds for the mRNN, 4H² the LSTM, 5H² the mLSTM; B ≥ 8 rows: two parts of 4 or more).
    const shared = { T: fc.integer({ min: 8, max: 11 }), B: fc.integer({ min: 8, max: 19 }), H: fc.integer({ min: 91, max: 100 }) };
    fc.assert(
      fc.property(caseArb(shared), (c) => {
        expect(c.T * c.B * 2 * c.H * c.H).toBeGreaterThanOrEqual(1 << 20);
        const reference = runWindow(single, c);
        for (const t of threaded) {
          const { backend, taken } = counted(t);
          expect(firstDifference(runWindow(backend, c), reference)).toBeNull();
          expect(taken.forward).toBe(1);
        }
      }),
      { numRuns: 12 },
    );
  }, 120_000);

  it('rides the same job protocol: a worker that throws in a window job is a GemmWorkerFault, one that stalls is waited for', async () => {
    const c: Case = { cell: 'mlstm', T: 8, B: 16, D: 3, H: 64, seed: 5, mask: true, stateGrads: true, needH0: true, record: true };
    const single = lib.createWasmBackendSync();
    open.push(single);
    const reference = runWindow(single, c);
    // The drill fires at the backend's next job: the forward window (the window's input projections are too small to share).
    const throwing = lib.createParallelBackend({ threads: 2, kernel: 'wasm' });
    open.push(throwing);
    await throwing.ready();
    throwing.drill({ kind: 'throw' });
    let error: unknown;
    try {
      runWindow(throwing, c);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(lib.GemmWorkerFault);
    expect((error as Error).message).toMatch(/gemm worker 1 threw Error: fault drill \(throw\) at job 1/);
    expect(() => runWindow(throwing, c)).toThrow(/gemm worker 1 threw/); // closed: every later call says why
    const stalling = lib.createParallelBackend({ threads: 2, kernel: 'wasm' });
    open.push(stalling);
    await stalling.ready();
    stalling.drill({ kind: 'stall', ms: 800 });
    const { backend, taken } = counted(stalling);
    const t0 = performance.now();
    expect(firstDifference(runWindow(backend, c), reference)).toBeNull();
    expect(performance.now() - t0).toBeGreaterThanOrEqual(700);
    expect(taken).toEqual({ forward: 1, backward: 1 });
  }, 60_000);
});
