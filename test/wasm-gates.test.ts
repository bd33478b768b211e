import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Rng } from '../src/tensor/rng.js';
import { lstmGatesBackward, lstmGatesForward, LSTM_SAVED_PER_UNIT } from '../src/tensor/kernels/recurrent-lstm-gates.js';
import { stableSigmoid } from '../src/tensor/kernels/stable-sigmoid.js';
import { multiplicativeBackward, multiplicativeForward } from '../src/tensor/kernels/recurrent-multiplicative.js';
import { lstmGatesForwardNaive } from '../src/tensor/kernels/recurrent-reference.js';
import { tanhBackward, tanhForward } from '../src/tensor/kernels/recurrent-tanh.js';
import {
  FUNCTION_ABSOLUTE_ERROR,
  FUNCTION_RELATIVE_ERROR,
  gamma,
  gateErrorBound,
  VECTOR_MATH_ACCURACY,
  type WasmBackend,
} from '../src/wasm/index.js';
import { wasmBackends } from './support/wasm.js';

/*
 * The wasm gate kernels (src/wasm/gate-kernels.ts) against references: the forward against the
 * naive float64 reference of recurrent-reference.ts (which recomputes everything from z), the
 * backward against a float64 evaluation from the same saved activations in another algebraic form
 * (σ − σ², 1 − t·t), each output to the bound of its longest rounding path (gateErrorBound). Inputs
 * mix ordinary values with saturated ones (±1e4, ±Inf, ±30) and H not a multiple of 4; NaN must
 * propagate to exactly the units it enters; in-place use, buffers in wasm memory, offsets and the
 * float64 fallback must change nothing.
 */

const { mulAdd, all } = wasmBackends();
const ES = FUNCTION_RELATIVE_ERROR.sigmoid;
const ET = FUNCTION_RELATIVE_ERROR.tanh;
const FLUSH = FUNCTION_ABSOLUTE_ERROR.sigmoid; // σ below ~1.23e-38 is returned as 0
/** One float32 rounding in the subnormal range moves a value by up to this (absolute). */
const SUB = 2 ** -149;

interface Case {
  B: number;
  H: number;
  seed: number;
  saturated: number; // fraction of z entries pushed to ±1e4, ±Inf or ±30
}

const caseArb: fc.Arbitrary<Case> = fc.record({
  B: fc.integer({ min: 1, max: 5 }),
  H: fc.oneof(fc.integer({ min: 1, max: 40 }), fc.constantFrom(1, 3, 4, 5, 7, 8, 9, 33)),
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  saturated: fc.constantFrom(0, 0.1, 0.5),
});

function gateInputs({ B, H, seed, saturated }: Case): { z: Float32Array; cPrev: Float32Array } {
  const rng = new Rng(seed);
  const extremes = [1e4, -1e4, Infinity, -Infinity, 30, -30, 88, -88];
  const z = Float32Array.from({ length: 4 * B * H }, () =>
    rng.uniform(0, 1) < saturated ? extremes[Math.floor(rng.uniform(0, extremes.length))]! : 3 * rng.uniform(-1, 1),
  );
  const cPrev = Float32Array.from({ length: B * H }, () => 2 * rng.uniform(-1, 1));
  return { z, cPrev };
}

function forward(backend: WasmBackend, B: number, H: number, z: Float32Array, cPrev: Float32Array) {
  const c = new Float32Array(B * H);
  const h = new Float32Array(B * H);
  const saved = new Float32Array(LSTM_SAVED_PER_UNIT * B * H);
  backend.lstmGatesForward(B, H, z, 0, cPrev, 0, c, 0, h, 0, saved, 0);
  return { c, h, saved };
}

const within = (got: number, want: number, bound: number, what: string): void => {
  if (!(Math.abs(got - want) <= bound)) expect.fail(`${what}: ${got} vs reference ${want}, error ${Math.abs(got - want)} > bound ${bound}`);
};

describe('LSTM gates forward: against the naive float64 reference', () => {
  for (const backend of all) {
    it(`${backend.describe()}: c, h and the saved activations within their bounds`, () => {
      fc.assert(
        fc.property(caseArb, (cs) => {
          const { B, H } = cs;
          const { z, cPrev } = gateInputs(cs);
          const { c, h, saved } = forward(backend, B, H, z, cPrev);
          const ref = lstmGatesForwardNaive(B, H, z, cPrev);
          for (let b = 0; b < B; b++)
            for (let j = 0; j < H; j++) {
              const k = b * H + j;
              const zr = (g: number) => z[b * 4 * H + g * H + j]!;
              const [si, sf, tg, so] = [stableSigmoid(zr(0)), stableSigmoid(zr(1)), Math.tanh(zr(2)), stableSigmoid(zr(3))];
              const Mc = Math.abs(sf * cPrev[k]!) + Math.abs(si * tg);
              const boundC = gateErrorBound(2, ES + ET, Mc) + FLUSH * (Math.abs(cPrev[k]!) + Math.abs(tg));
              within(c[k]!, ref.c[k]!, boundC, `c(${b},${j}) B=${B} H=${H}`);
              within(h[k]!, ref.h[k]!, so * boundC + gateErrorBound(1, ES + ET, Math.abs(ref.h[k]!)) + FLUSH, `h(${b},${j})`);
              const s = (g: number) => saved[b * LSTM_SAVED_PER_UNIT * H + g * H + j]!;
              within(s(0), si, ES * si + FLUSH, 'saved σ(i)');
              within(s(1), sf, ES * sf + FLUSH, 'saved σ(f)');
              within(s(2), tg, ET * Math.abs(tg), 'saved tanh(g)');
              within(s(3), so, ES * so + FLUSH, 'saved σ(o)');
              within(s(4), Math.tanh(ref.c[k]!), boundC + ET, 'saved tanh(c)');
            }
        }),
        { numRuns: 120 },
      );
    });
  }

  it('saturated gates give the exact limits: an open forget gate and a closed input gate copy c', () => {
    const H = 5;
    const z = new Float32Array(4 * H);
    z.fill(-Infinity, 0, H); // σ(i) = 0
    z.fill(1e4, H, 2 * H); // σ(f) = 1
    z.fill(0.3, 2 * H, 3 * H);
    z.fill(Infinity, 3 * H, 4 * H); // σ(o) = 1
    const cPrev = Float32Array.of(0.5, -2, 3e-3, 7, -0.25);
    const { c, h } = forward(mulAdd, 1, H, z, cPrev);
    expect(Array.from(c)).toEqual(Array.from(cPrev));
    for (let j = 0; j < H; j++) within(h[j]!, Math.tanh(cPrev[j]!), 2 * ET, 'h = tanh(c)');
  });

  it('NaN propagates to exactly the units it enters', () => {
    const B = 2,
      H = 6;
    const { z, cPrev } = gateInputs({ B, H, seed: 3, saturated: 0 });
    z[1 * 4 * H + 2 * H + 4] = NaN; // unit (1, 4), gate g
    cPrev[2] = NaN; // unit (0, 2)
    const { c, h } = forward(mulAdd, B, H, z, cPrev);
    const nan = Array.from(c, (v, k) => Number.isNaN(v) && Number.isNaN(h[k]!));
    expect(nan.map((x, k) => (x ? k : -1)).filter((k) => k >= 0)).toEqual([2, H + 4]);
  });

  it('each unit computes the same whatever its position (tails of H mod 4 included), and nothing past the outputs is written', () => {
    const B = 3,
      H = 7;
    const { z, cPrev } = gateInputs({ B, H, seed: 8, saturated: 0.2 });
    const c = new Float32Array(B * H + 5).fill(9);
    const h = new Float32Array(B * H + 5).fill(9);
    const saved = new Float32Array(5 * B * H + 5).fill(9);
    mulAdd.lstmGatesForward(B, H, z, 0, cPrev, 0, c, 0, h, 0, saved, 0);
    for (let b = 0; b < B; b++)
      for (let j = 0; j < H; j++) {
        const zOne = Float32Array.from([0, 1, 2, 3], (g) => z[b * 4 * H + g * H + j]!);
        const one = forward(mulAdd, 1, 1, zOne, Float32Array.of(cPrev[b * H + j]!));
        expect(Object.is(one.c[0], c[b * H + j])).toBe(true);
        expect(Object.is(one.h[0], h[b * H + j])).toBe(true);
      }
    expect(Array.from(c.subarray(B * H))).toEqual([9, 9, 9, 9, 9]);
    expect(Array.from(saved.subarray(5 * B * H))).toEqual([9, 9, 9, 9, 9]);
  });
});

describe('LSTM gates backward: against a float64 evaluation from the same saved activations', () => {
  for (const backend of all) {
    it(`${backend.describe()}: dz and dcPrev within their bounds`, () => {
      fc.assert(
        fc.property(caseArb, (cs) => {
          const { B, H } = cs;
          const { z, cPrev } = gateInputs(cs);
          const { saved } = forward(backend, B, H, z, cPrev);
          const rng = new Rng(cs.seed + 1);
          const dh = Float32Array.from({ length: B * H }, () => rng.uniform(-1, 1));
          const dcNext = Float32Array.from({ length: B * H }, () => rng.uniform(-1, 1));
          const dz = new Float32Array(4 * B * H);
          const dcPrev = new Float32Array(B * H);
          backend.lstmGatesBackward(B, H, saved, 0, cPrev, 0, dh, 0, dcNext, 0, dz, 0, dcPrev, 0);
          for (let b = 0; b < B; b++)
            for (let j = 0; j < H; j++) {
              const k = b * H + j;
              const s = (g: number) => saved[b * 5 * H + g * H + j]!;
              const [si, sf, tg, so, tc] = [s(0), s(1), s(2), s(3), s(4)];
              const dTerm = dh[k]! * so * (1 - tc * tc);
              const dc = dTerm + dcNext[k]!;
              const Mdc = Math.abs(dTerm) + Math.abs(dcNext[k]!);
              const dzAt = (g: number) => dz[b * 4 * H + g * H + j]!;
              const fi = tg * (si - si * si),
                ff = cPrev[k]! * (sf - sf * sf),
                fg = si * (1 - tg * tg);
              within(dzAt(0), dc * fi, gamma(10) * Math.abs(fi) * Mdc + 10 * SUB, 'dz_i');
              within(dzAt(1), dc * ff, gamma(10) * Math.abs(ff) * Mdc + 10 * SUB, 'dz_f');
              within(dzAt(2), dc * fg, gamma(10) * Math.abs(fg) * Mdc + 10 * SUB, 'dz_g');
              const dzo = dh[k]! * tc * (so - so * so);
              within(dzAt(3), dzo, gamma(4) * Math.abs(dzo) + 4 * SUB, 'dz_o');
              within(dcPrev[k]!, dc * sf, gamma(7) * sf * Mdc + 7 * SUB, 'dcPrev');
            }
        }),
        { numRuns: 120 },
      );
    });
  }

  it('dcPrev may be dcNext (one carried dc buffer) and c may be cPrev: the same results as separate buffers', () => {
    const B = 2,
      H = 9;
    const { z, cPrev } = gateInputs({ B, H, seed: 4, saturated: 0.1 });
    const { saved } = forward(mulAdd, B, H, z, cPrev);
    const rng = new Rng(5);
    const dh = Float32Array.from({ length: B * H }, () => rng.uniform(-1, 1));
    const dc = Float32Array.from({ length: B * H }, () => rng.uniform(-1, 1));
    const dz1 = new Float32Array(4 * B * H),
      dz2 = new Float32Array(4 * B * H);
    const dcPrev = new Float32Array(B * H);
    mulAdd.lstmGatesBackward(B, H, saved, 0, cPrev, 0, dh, 0, dc, 0, dz1, 0, dcPrev, 0);
    const carried = Float32Array.from(dc);
    mulAdd.lstmGatesBackward(B, H, saved, 0, cPrev, 0, dh, 0, carried, 0, dz2, 0, carried, 0);
    expect(Array.from(carried)).toEqual(Array.from(dcPrev));
    expect(Array.from(dz2)).toEqual(Array.from(dz1));
    // Forward in place: c written over cPrev.
    const separate = forward(mulAdd, B, H, z, cPrev);
    const inPlace = Float32Array.from(cPrev);
    mulAdd.lstmGatesForward(B, H, z, 0, inPlace, 0, inPlace, 0, new Float32Array(B * H), 0, new Float32Array(5 * B * H), 0);
    expect(Array.from(inPlace)).toEqual(Array.from(separate.c));
  });
});

describe('gate kernels: offsets, buffers in wasm memory, float64 fallback', () => {
  it('time-step offsets into [T,B,·] buffers, as the recurrent ops address them, leave other steps untouched', () => {
    const T = 3,
      B = 2,
      H = 5,
      BH = B * H;
    const rng = new Rng(6);
    const Z = Float32Array.from({ length: T * 4 * BH }, () => rng.uniform(-3, 3));
    const C = Float32Array.from({ length: (T + 1) * BH }, () => rng.uniform(-1, 1));
    const Hs = new Float32Array((T + 1) * BH);
    const S = new Float32Array(T * 5 * BH);
    const C0 = Float32Array.from(C);
    mulAdd.lstmGatesForward(B, H, Z, 1 * 4 * BH, C, 1 * BH, C, 2 * BH, Hs, 2 * BH, S, 1 * 5 * BH);
    const direct = forward(mulAdd, B, H, Z.subarray(4 * BH, 8 * BH), C0.subarray(BH, 2 * BH));
    expect(Array.from(C.subarray(2 * BH, 3 * BH))).toEqual(Array.from(direct.c));
    expect(Array.from(Hs.subarray(2 * BH, 3 * BH))).toEqual(Array.from(direct.h));
    expect(Array.from(S.subarray(5 * BH, 10 * BH))).toEqual(Array.from(direct.saved));
    for (const t of [0, 1, 3]) expect(Array.from(C.subarray(t * BH, (t + 1) * BH))).toEqual(Array.from(C0.subarray(t * BH, (t + 1) * BH)));
    expect(S.subarray(0, 5 * BH).every((v) => v === 0) && S.subarray(10 * BH).every((v) => v === 0)).toBe(true);
  });

  it('buffers allocated in wasm memory give the same bits as ordinary arrays, for every kernel', () => {
    const B = 3,
      H = 6,
      n = B * H;
    const { z, cPrev } = gateInputs({ B, H, seed: 12, saturated: 0.1 });
    const inMem = (x: Float32Array) => {
      const y = mulAdd.allocate(x.length);
      y.set(x);
      return y;
    };
    const plain = forward(mulAdd, B, H, z, cPrev);
    const mz = inMem(z),
      mc = inMem(cPrev),
      c = mulAdd.allocate(n),
      h = mulAdd.allocate(n),
      saved = mulAdd.allocate(5 * n);
    mulAdd.lstmGatesForward(B, H, mz, 0, mc, 0, c, 0, h, 0, saved, 0);
    expect(Array.from(c)).toEqual(Array.from(plain.c));
    expect(Array.from(saved)).toEqual(Array.from(plain.saved));
    const dh = inMem(cPrev.map((v) => -v)),
      dc = inMem(cPrev.map((v) => v / 2));
    const dz = mulAdd.allocate(4 * n),
      dcPrev = mulAdd.allocate(n);
    mulAdd.lstmGatesBackward(B, H, saved, 0, mc, 0, dh, 0, dc, 0, dz, 0, dcPrev, 0);
    const dzPlain = new Float32Array(4 * n),
      dcPlain = new Float32Array(n);
    mulAdd.lstmGatesBackward(B, H, plain.saved, 0, cPrev, 0, Float32Array.from(dh), 0, Float32Array.from(dc), 0, dzPlain, 0, dcPlain, 0);
    expect(Array.from(dz)).toEqual(Array.from(dzPlain));
    expect(Array.from(dcPrev)).toEqual(Array.from(dcPlain));
    for (const x of [mz, mc, c, h, saved, dh, dc, dz, dcPrev]) mulAdd.free(x);
  });

  it('float64 buffers run the JS kernels, bit-identical to them', () => {
    const B = 2,
      H = 5,
      n = B * H;
    const { z: z32, cPrev: c32 } = gateInputs({ B, H, seed: 2, saturated: 0.1 });
    const z = Float64Array.from(z32),
      cPrev = Float64Array.from(c32);
    const got = { c: new Float64Array(n), h: new Float64Array(n), s: new Float64Array(5 * n) };
    const want = { c: new Float64Array(n), h: new Float64Array(n), s: new Float64Array(5 * n) };
    mulAdd.lstmGatesForward(B, H, z, 0, cPrev, 0, got.c, 0, got.h, 0, got.s, 0);
    lstmGatesForward(B, H, z, 0, cPrev, 0, want.c, 0, want.h, 0, want.s, 0);
    expect(got).toEqual(want);
    const dz = [new Float64Array(4 * n), new Float64Array(4 * n)];
    const dcp = [new Float64Array(n), new Float64Array(n)];
    mulAdd.lstmGatesBackward(B, H, got.s, 0, cPrev, 0, cPrev, 0, z, 0, dz[0]!, 0, dcp[0]!, 0);
    lstmGatesBackward(B, H, got.s, 0, cPrev, 0, cPrev, 0, z, 0, dz[1]!, 0, dcp[1]!, 0);
    expect(dz[0]).toEqual(dz[1]);
    expect(dcp[0]).toEqual(dcp[1]);
  });

  it('an operand too short for its offset and length is refused with the op in the message', () => {
    expect(() =>
      mulAdd.lstmGatesForward(
        2,
        4,
        new Float32Array(31),
        0,
        new Float32Array(8),
        0,
        new Float32Array(8),
        0,
        new Float32Array(8),
        0,
        new Float32Array(40),
        0,
      ),
    ).toThrow(/lstmGatesForward: an operand needs 32 elements from offset 0, but its array has 31/);
    expect(() => mulAdd.tanhForward(4, new Float32Array(4), 1, new Float32Array(4), 0)).toThrow(
      /tanhForward: an operand needs 4 elements from offset 1/,
    );
  });
});

describe('the multiplicative state and the mRNN tanh', () => {
  it('m = xm ⊙ hm and its backward: one rounding each, so bit-identical to the JS kernels', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 70 }), fc.integer({ min: 0, max: 2 ** 31 - 1 }), (n, seed) => {
        const rng = new Rng(seed);
        const gen = () => Float32Array.from({ length: n + 2 }, () => rng.uniform(-4, 4));
        const [xm, hm, dm] = [gen(), gen(), gen()];
        const m = [new Float32Array(n + 2), new Float32Array(n + 2)];
        mulAdd.multiplicativeForward(n, xm, 1, hm, 2, m[0]!, 1);
        multiplicativeForward(n, xm, 1, hm, 2, m[1]!, 1);
        expect(Array.from(m[0]!)).toEqual(Array.from(m[1]!));
        const out = [0, 1].map(() => [new Float32Array(n), new Float32Array(n)]);
        mulAdd.multiplicativeBackward(n, dm, 0, xm, 1, hm, 2, out[0]![0]!, 0, out[0]![1]!, 0);
        multiplicativeBackward(n, dm, 0, xm, 1, hm, 2, out[1]![0]!, 0, out[1]![1]!, 0);
        expect(out[0]!.map((a) => Array.from(a))).toEqual(out[1]!.map((a) => Array.from(a)));
      }),
    );
  });

  it('tanh forward within the stated ulps; backward dh·(1 − h)(1 + h) within γ₄; in place (dz = dh) allowed', () => {
    const n = 37;
    const rng = new Rng(1);
    const z = Float32Array.from({ length: n }, (_, i) => (i % 9 === 0 ? [1e4, -Infinity, 20][i % 3]! : rng.uniform(-5, 5)));
    const h = new Float32Array(n);
    mulAdd.tanhForward(n, z, 0, h, 0);
    const hJs = new Float32Array(n);
    tanhForward(n, z, 0, hJs, 0);
    for (let i = 0; i < n; i++) {
      const want = Math.tanh(z[i]!);
      within(h[i]!, want, VECTOR_MATH_ACCURACY.tanhUlps * 2 ** -23 * Math.max(Math.abs(want), 2 ** -126), `tanh(${z[i]})`);
    }
    const dh = Float32Array.from({ length: n }, () => rng.uniform(-1, 1));
    const dz = new Float32Array(n);
    mulAdd.tanhBackward(n, h, 0, dh, 0, dz, 0);
    const dzJs = new Float32Array(n);
    tanhBackward(n, h, 0, dh, 0, dzJs, 0);
    for (let i = 0; i < n; i++) {
      const want = dh[i]! * (1 - h[i]! * h[i]!);
      within(dz[i]!, want, gamma(4) * Math.abs(want) + 4 * SUB, 'tanh backward');
      within(dz[i]!, dzJs[i]!, gamma(5) * Math.abs(want) + 5 * SUB, 'tanh backward vs the JS kernel');
    }
    const inPlace = Float32Array.from(dh);
    mulAdd.tanhBackward(n, h, 0, inPlace, 0, inPlace, 0);
    expect(Array.from(inPlace)).toEqual(Array.from(dz));
  });
});
